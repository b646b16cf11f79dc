import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { PassTimer } from '../core/pass-timer.ts';
import type { EnqueueRequest } from '../notifications/index.ts';
import type { ControlDb } from '../store/db.ts';
import { dueNotices } from './notices.ts';
import type { IncidentSettings } from './views.ts';
import { noticesPending } from './store.ts';

export interface NoticePassOptions {
  readonly db: ControlDb;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: IncidentSettings;
  readonly notifications: { enqueue(request: EnqueueRequest): Promise<unknown> };
}

/**
 * Reminds before the notice deadlines of confirmed breaches and escalates
 * those missed, through the outbox. Each notice's idempotency key makes it
 * go out once however often the pass runs (or crashes between enqueueing
 * and recording anything: nothing else is recorded). pass() is the one
 * public pass; the timer only calls it.
 */
export class NoticePass {
  readonly #o: NoticePassOptions;
  readonly #timer: PassTimer<number>;

  constructor(options: NoticePassOptions) {
    this.#o = options;
    this.#timer = new PassTimer({
      pass: () => this.#pass(),
      everyMs: options.settings.passSeconds * 1000,
      logger: options.logger,
      what: 'incident notice pass',
    });
  }

  start(): void {
    this.#timer.start();
  }

  /** Waits for the pass in flight. Safe twice. */
  stop(): Promise<void> {
    return this.#timer.stop();
  }

  /** Enqueues every due reminder and escalation; returns how many were due (new or already enqueued). */
  pass(): Promise<number> {
    return this.#timer.run();
  }

  async #pass(): Promise<number> {
    const now = this.#o.clock.now();
    const { remindBeforeMinutes, escalationChannels } = this.#o.settings;
    let due = 0;
    for (const incident of await noticesPending(this.#o.db)) {
      for (const notice of dueNotices(incident, now, remindBeforeMinutes)) {
        due++;
        try {
          await this.#o.notifications.enqueue({
            key: notice.key,
            kind: notice.kind,
            subject: notice.subject,
            body: notice.body,
            ...(notice.kind === 'incident-escalation' && escalationChannels
              ? { channels: escalationChannels }
              : {}),
          });
        } catch (error) {
          // One bad notice (a channel renamed away) must not keep the others from going out.
          this.#o.logger.error(
            { incident: incident.id, key: notice.key, err: (error as Error).message },
            'incident notice not enqueued',
          );
        }
      }
    }
    return due;
  }
}
