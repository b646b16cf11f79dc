import type pg from 'pg';
import type { Logger } from 'pino';
import { logPassFailure } from '../core/logger.ts';

export interface ChannelListenerOptions {
  /** LISTEN needs a session of its own: one is taken from this pool and kept. */
  readonly pool: pg.Pool;
  /** A plain lower-case identifier (it is written into the LISTEN statement). */
  readonly channel: string;
  /** Each notification's payload (empty when none was sent). */
  readonly onNotification: (payload: string) => void;
  /** After listening again: what changed while deaf was not notified. */
  readonly onResumed: () => void;
  /** What the notifications are about, for log messages ("route changes"). */
  readonly about: string;
  readonly logger: Logger;
  readonly retryMs?: number;
}

/**
 * A LISTEN on one channel of the control database that survives its session:
 * a dropped connection is replaced after retryMs, and onResumed runs once
 * listening again so that nothing changed meanwhile is missed.
 */
export class ChannelListener {
  readonly #o: ChannelListenerOptions;
  #client: pg.PoolClient | undefined;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ChannelListenerOptions) {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.channel)) throw new Error(`bad channel name ${options.channel}`);
    this.#o = options;
  }

  /** Listens; a failure is logged and retried, never thrown. */
  async start(): Promise<void> {
    if (this.#stopped) return;
    let client: pg.PoolClient | undefined;
    try {
      client = await this.#o.pool.connect();
      const held = client;
      held.on('notification', (message: pg.Notification) => {
        if (message.channel === this.#o.channel) this.#o.onNotification(message.payload ?? '');
      });
      held.on('error', (error: Error) => {
        logPassFailure(this.#o.logger, error, `${this.#o.about} notifications lost; listening again`);
        this.#drop(held);
      });
      await held.query(`listen ${this.#o.channel}`);
      if (this.#stopped) return this.#drop(held);
      this.#client = held;
    } catch (error) {
      logPassFailure(this.#o.logger, error, `cannot listen for ${this.#o.about} changes; retrying`);
      if (client) this.#drop(client);
      else this.#schedule();
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    const client = this.#client;
    this.#client = undefined;
    // Destroyed rather than returned: a pooled session must not keep listening for someone else.
    client?.release(true);
  }

  #drop(client: pg.PoolClient): void {
    if (this.#client === client) this.#client = undefined;
    try {
      client.release(true);
    } catch {
      // Already released.
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.start().then(() => {
        if (this.#client) this.#o.onResumed();
      });
    }, this.#o.retryMs ?? 1000);
    this.#retry.unref();
  }
}
