import type { Logger } from 'pino';
import type { Checkpoint } from './checkpoints.ts';
import { logPassFailure } from '../core/logger.ts';

/**
 * Signs a checkpoint of the audit chain at start, every `everyMs` and at
 * stop. The pass is AuditService.checkpoint(); this only times it, never
 * runs two at once, and logs a pass that fails instead of throwing.
 */
export class AuditCheckpointSchedule {
  readonly #pass: () => Promise<Checkpoint | undefined>;
  readonly #everyMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #running: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: {
    readonly pass: () => Promise<Checkpoint | undefined>;
    readonly everyMs: number;
    readonly logger: Logger;
  }) {
    this.#pass = options.pass;
    this.#everyMs = options.everyMs;
    this.#logger = options.logger;
  }

  async start(): Promise<void> {
    if (this.#started || this.#stopping) return;
    this.#started = true;
    this.#timer = setInterval(() => void this.#run(), this.#everyMs);
    this.#timer.unref();
    await this.#run();
  }

  /** Waits for a pass in flight, then signs the last checkpoint. Safe twice. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      await this.#running;
      if (this.#started) await this.#run(true);
    })();
    return this.#stopping;
  }

  /** One pass now (after a master-key rotation: a checkpoint signed with the new key holds what the old one made). */
  runNow(): Promise<void> {
    return this.#run();
  }

  #run(final = false): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = (async () => {
      try {
        const checkpoint = await this.#pass();
        if (checkpoint) {
          this.#logger.info({ seq: checkpoint.seq, final }, 'audit checkpoint signed');
        }
      } catch (error) {
        logPassFailure(this.#logger, error, 'audit checkpoint failed', {}, 'error');
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }
}
