import type pg from 'pg';
import type { Logger } from 'pino';
import { ChannelListener } from '../store/listener.ts';
import { keyringChannel, type SecretService } from './service.ts';

export interface KeyringWatcherOptions {
  readonly secrets: Pick<SecretService, 'reload' | 'activeKeyId' | 'hasKey'>;
  /** For the LISTEN session. */
  readonly pool: pg.Pool;
  readonly logger: Logger;
  /** Reload this often without a notification too (default 60). */
  readonly reloadSeconds?: number;
}

/**
 * Keeps a process's keyring current when another process of the install
 * rotates the master key or purges a retired one: every process reads the
 * same keyring (the data dir's master.key), and the one that changes it sends
 * NOTIFY steward_keyring. A periodic reload covers a lost notification, and
 * SecretService.get reloads by itself when a secret names a key it does not
 * know.
 */
export class KeyringWatcher {
  readonly #o: KeyringWatcherOptions;
  readonly #listener: ChannelListener;
  #timer: NodeJS.Timeout | undefined;
  #passing: Promise<void> | undefined;
  #again = false;

  constructor(options: KeyringWatcherOptions) {
    this.#o = options;
    this.#listener = new ChannelListener({
      pool: options.pool,
      channel: keyringChannel,
      about: 'master key',
      logger: options.logger,
      onNotification: (activeKeyId) => void this.pass().then(() => this.#check(activeKeyId)),
      onResumed: () => void this.pass(),
    });
  }

  async start(): Promise<void> {
    await this.#listener.start();
    this.#timer = setInterval(() => void this.pass(), (this.#o.reloadSeconds ?? 60) * 1000);
    this.#timer.unref();
  }

  /** One reload; a notification during a pass runs another after it. Never throws. */
  pass(): Promise<void> {
    if (this.#passing) {
      this.#again = true;
      return this.#passing;
    }
    this.#passing = (async () => {
      try {
        do {
          this.#again = false;
          const before = this.#o.secrets.activeKeyId;
          try {
            await this.#o.secrets.reload();
          } catch (error) {
            this.#o.logger.error(
              { err: (error as Error).message },
              'master key reload failed; keeping the keyring in use',
            );
          }
          const after = this.#o.secrets.activeKeyId;
          if (after !== before) this.#o.logger.info({ from: before, to: after }, 'master key changed');
        } while (this.#again);
      } finally {
        this.#passing = undefined;
      }
    })();
    return this.#passing;
  }

  /**
   * A process that does not share the keyring file with the one that rotated
   * (another machine with its own copy) cannot follow: say so, and how to fix it.
   */
  #check(activeKeyId: string): void {
    if (activeKeyId === '' || this.#o.secrets.hasKey(activeKeyId)) return;
    this.#o.logger.error(
      { keyId: activeKeyId },
      `master key ${activeKeyId} is active in this install but not in this process's keyring: copy the keyring (master.key) of the Steward that rotated it to this process's data dir`,
    );
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#listener.stop();
    await this.#passing;
  }
}
