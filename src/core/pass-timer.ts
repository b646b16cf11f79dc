import type { Logger } from 'pino';
import { logPassFailure } from './logger.ts';

/**
 * Times a loop's one public pass: every `everyMs` once started, never two at
 * once (a second call shares the pass in flight), a failed pass logged, not
 * thrown; stop() waits for the pass in flight and is safe twice.
 */
export class PassTimer<T> {
  readonly #o: {
    readonly pass: () => Promise<T>;
    readonly everyMs: number;
    readonly logger: Logger;
    readonly what: string;
  };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<T> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: {
    readonly pass: () => Promise<T>;
    readonly everyMs: number;
    readonly logger: Logger;
    /** What fails, for the log: "incident notice pass". */
    readonly what: string;
  }) {
    this.#o = options;
  }

  start(): void {
    if (this.#timer || this.#stopping) return;
    this.#timer = setInterval(() => {
      if (this.#running || this.#stopping) return;
      this.run().catch((error: unknown) =>
        logPassFailure(this.#o.logger, error, `${this.#o.what} failed`, {}, 'error'),
      );
    }, this.#o.everyMs);
    this.#timer.unref();
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      await this.#running?.catch(() => undefined);
    })();
    return this.#stopping;
  }

  /** A pass is in flight. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** stop() was called: no pass starts on the timer any more. */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** One pass now, or the one in flight. */
  run(): Promise<T> {
    if (this.#running) return this.#running;
    this.#running = this.#o.pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }
}
