import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import { listChannels, type Channel } from './channels.ts';
import type { EmailDriver, WebhookDriver } from './drivers.ts';
import { renderEmail, renderWebhook } from './message.ts';
import {
  chainLength,
  chainLink,
  claimDue,
  expireOverdue,
  recordDelivered,
  recordFailed,
  recordRetry,
  type AttemptRecord,
  type OutboxRow,
} from './outbox.ts';
import { afterFailure, type RetrySettings } from './retry.ts';
import { signatureHeader } from './signature.ts';
import { logPassFailure } from '../core/logger.ts';

export interface DispatcherOptions {
  readonly db: ControlDb;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly email: EmailDriver | undefined;
  readonly webhook: WebhookDriver;
  /** A webhook channel's HMAC secret, from the secret store. */
  readonly secret: (name: string) => Promise<string>;
  readonly retry: RetrySettings;
  /** How long a claimed notification is this process's before another may try it (longer than any delivery). */
  readonly leaseMs: number;
  readonly everyMs: number;
  /**
   * Called for each notification that ends failed, in the transaction that
   * fails it: the operators' fallback channel hears of it, or neither happens.
   */
  readonly onFailed: (tx: Queryable, row: OutboxRow, reason: string) => Promise<void>;
  /** Called after a notification was delivered (alerts record when people were first told). */
  readonly onDelivered?: (row: OutboxRow, at: Date) => Promise<void>;
  readonly observer?: DeliveryObserver | undefined;
}

/** What the dispatcher tells metrics and the watchdog. */
export interface DeliveryObserver {
  /** One delivery attempt through a channel (by name), and how it ended for the notification. */
  attempted(channel: string, outcome: 'delivered' | 'retried' | 'failed', seconds: number): void;
  /** A pass completed: the dispatcher keeps up. */
  passed(): void;
}

export interface PassReport {
  readonly delivered: number;
  readonly retried: number;
  readonly failed: number;
}

/** Notifications attempted at once; a pass takes up to batchesPerPass of them in turn. */
const batch = 20;
const batchesPerPass = 50;

/**
 * Delivers the outbox. pass() is the whole loop; the timer only calls it,
 * never twice at once. At least once: a notification is marked delivered only
 * after its channel took it, so a crash in between sends it again, with the
 * same idempotency key.
 */
export class NotificationDispatcher {
  readonly #o: DispatcherOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<PassReport> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: DispatcherOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#timer || this.#stopping) return;
    this.#timer = setInterval(() => {
      void this.pass().catch((error: unknown) =>
        logPassFailure(this.#o.logger, error, 'notification pass failed', {}, 'error'),
      );
    }, this.#o.everyMs);
    this.#timer.unref();
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      await this.#running?.catch(() => undefined);
      this.#o.email?.close();
    })();
    return this.#stopping;
  }

  /** One pass: fail what is overdue, then one attempt for each due notification (or only `id`). */
  pass(id?: string): Promise<PassReport> {
    // A pass for one notification (steward notify test) waits for the one in flight, then runs.
    if (this.#running) return id === undefined ? this.#running : this.#running.then(() => this.pass(id));
    this.#running = this.#pass(id).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(id: string | undefined): Promise<PassReport> {
    const { db, clock } = this.#o;
    let failed = await db.transaction().execute(async (tx) => {
      const overdue = await expireOverdue(tx, clock.now(), batch);
      for (const row of overdue)
        await this.#o.onFailed(tx, row, 'its deadline passed before it was delivered');
      return overdue.length;
    });
    let delivered = 0;
    let retried = 0;
    // A backlog drains batch after batch within one pass, up to a bound that keeps stop() prompt.
    for (let round = 0; round < batchesPerPass; round++) {
      const claimed = await claimDue(db, {
        now: clock.now(),
        leaseMs: this.#o.leaseMs,
        limit: batch,
        ...(id ? { id } : {}),
      });
      if (claimed.length === 0) break;
      const channels = new Map((await listChannels(db)).map((c) => [c.id, c]));
      const outcomes = await Promise.all(claimed.map((row) => this.#attempt(row, channels)));
      delivered += outcomes.filter((o) => o === 'delivered').length;
      retried += outcomes.filter((o) => o === 'retried').length;
      failed += outcomes.filter((o) => o === 'failed').length;
      if (claimed.length < batch || this.#stopping) break;
    }
    this.#o.observer?.passed();
    return { delivered, retried, failed };
  }

  async #attempt(
    row: OutboxRow,
    channels: ReadonlyMap<string, Channel>,
  ): Promise<'delivered' | 'retried' | 'failed'> {
    const { db, clock } = this.#o;
    const link = chainLink(row, row.channelIndex);
    const channelId = link.kind === 'channel' ? link.id : null;
    const channel = channelId === null ? undefined : channels.get(channelId);
    const started = performance.now();
    let error: string | null = null;
    try {
      if (link.kind === 'recipient') {
        if (!this.#o.email) throw new Error('no SMTP server is configured (notifications.smtp)');
        await this.#o.email.send(link.address, renderEmail(row.notification));
      } else {
        if (!channel) throw new Error(`channel ${link.id} was removed`);
        if (!channel.enabled) throw new Error(`channel ${channel.name} is disabled`);
        await this.#deliver(row, channel);
      }
    } catch (e) {
      error = (e as Error).message;
    }
    const now = clock.now();
    const record: AttemptRecord = {
      notificationId: row.id,
      channelId,
      channelName: link.kind === 'recipient' ? `email:${link.address}` : (channel?.name ?? `#${link.id}`),
      attempt: row.attempts,
      error,
      durationMs: Math.round(performance.now() - started),
      at: now,
    };
    const observe = (outcome: 'delivered' | 'retried' | 'failed'): typeof outcome => {
      this.#o.observer?.attempted(record.channelName, outcome, record.durationMs / 1000);
      return outcome;
    };
    if (error === null) {
      await recordDelivered(db, record);
      await this.#o.onDelivered?.(row, now).catch((e: unknown) => {
        this.#o.logger.warn(
          { notification: row.id, err: (e as Error).message },
          'after-delivery hook failed',
        );
      });
      return observe('delivered');
    }
    const next = afterFailure(
      {
        attempts: row.attempts,
        channelIndex: row.channelIndex,
        channelFailures: row.channelFailures,
        chainLength: chainLength(row),
        deadline: row.deadline,
      },
      this.#o.retry,
      now,
    );
    this.#o.logger.warn(
      {
        notification: row.id,
        key: row.notification.key,
        channel: record.channelName,
        attempt: row.attempts,
        err: error,
      },
      next.kind === 'retry' ? 'notification not delivered; will retry' : 'notification failed',
    );
    if (next.kind === 'retry') {
      await recordRetry(db, { ...record, ...next });
      return observe('retried');
    }
    await db.transaction().execute(async (tx) => {
      await recordFailed(tx, row.id, `${next.reason}; last error: ${error}`, now, record);
      await this.#o.onFailed(tx, row, next.reason);
    });
    return observe('failed');
  }

  async #deliver(row: OutboxRow, channel: Channel): Promise<void> {
    if (channel.kind === 'email') {
      if (!this.#o.email) throw new Error('no SMTP server is configured (notifications.smtp)');
      await this.#o.email.send(channel.target, renderEmail(row.notification));
      return;
    }
    const secret = channel.secretName ? await this.#o.secret(channel.secretName) : undefined;
    const request = renderWebhook(
      row.notification,
      channel.preset ?? 'generic',
      secret === undefined ? undefined : (body) => signatureHeader(secret, body, this.#o.clock.now()),
    );
    await this.#o.webhook.post(channel.target, request);
  }
}
