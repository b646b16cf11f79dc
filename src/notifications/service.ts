import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import type { Page, PageRequest } from '../store/keyset.ts';
import {
  channelSecretName,
  channelView,
  checkEmailAddress,
  checkNewChannel,
  deleteChannel,
  findChannel,
  insertChannel,
  listChannels,
  setChannelEnabled,
  type ChannelView,
  type NewChannel,
} from './channels.ts';
import { NotificationDispatcher, type DeliveryObserver, type PassReport } from './dispatcher.ts';
import {
  smtpDriver,
  webhookDriver,
  type EmailDriver,
  type SmtpCredentials,
  type WebhookDriver,
} from './drivers.ts';
import { checkIdempotencyKey } from './message.ts';
import {
  insertNotification,
  listNotifications,
  notificationPage,
  notificationStatuses,
  type NotificationStatus,
  type NotificationView,
  type OutboxRow,
} from './outbox.ts';

/**
 * What alerts, on-call and the watchdog call to tell people something: the
 * key makes a repeat a no-op, `channels` (names) picks the failover chain, by
 * default every enabled channel in order.
 */
export interface EnqueueRequest {
  readonly key: string;
  readonly kind: string;
  readonly subject: string;
  readonly body: string;
  readonly channels?: readonly string[];
  /**
   * A person's own email address (an on-call page): tried first, then
   * `channels` (named; none unless given) in failover order.
   */
  readonly email?: string;
  /** Default: now + notifications.deadlineMinutes. */
  readonly deadline?: Date;
}

export interface NotificationServiceOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: Config['notifications'];
  /** Drivers for tests that bring their own network edge; default nodemailer and fetch. */
  readonly email?: EmailDriver;
  readonly webhook?: WebhookDriver;
  /** Metrics and the watchdog hear of every attempt and pass. */
  readonly observer?: DeliveryObserver | undefined;
}

const smtpUserSecret = 'notifications/smtp/user';
const smtpPasswordSecret = 'notifications/smtp/password';
const failedKind = 'notification-failed';
/** A notification is for people: long enough for a stack of check results, short enough for every channel. */
const maxBodyChars = 32_000;

/** Notification channels, the outbox and its delivery log, and the dispatcher that drains it. */
export class NotificationService {
  readonly #o: NotificationServiceOptions;
  readonly dispatcher: NotificationDispatcher;
  readonly #delivered: ((row: OutboxRow, at: Date) => Promise<void>)[] = [];
  readonly #undeliverable: ((row: OutboxRow, reason: string) => Promise<void>)[] = [];

  constructor(options: NotificationServiceOptions) {
    this.#o = options;
    const { settings } = options;
    const smtp = settings.smtp;
    this.dispatcher = new NotificationDispatcher({
      db: options.db,
      clock: options.clock,
      logger: options.logger,
      email:
        options.email ??
        (smtp
          ? smtpDriver({ ...smtp, timeoutSeconds: settings.timeoutSeconds }, () => this.#smtpCredentials())
          : undefined),
      webhook: options.webhook ?? webhookDriver(settings.timeoutSeconds),
      secret: (name) => options.secrets.get(name),
      retry: {
        baseMs: settings.retryBaseSeconds * 1000,
        capMs: settings.retryCapSeconds * 1000,
        failoverAfter: settings.failoverAfter,
      },
      // SMTP may spend a timeout each on connecting, the greeting and the exchange.
      leaseMs: settings.timeoutSeconds * 4000 + 5000,
      everyMs: settings.pollSeconds * 1000,
      onFailed: (tx, row, reason) => this.#tellFallback(tx, row, reason),
      onDelivered: async (row, at) => {
        for (const listener of this.#delivered) await listener(row, at);
      },
      observer: options.observer,
    });
  }

  /** Hears of each notification that failed for good (the alert service raises an alert, so it shows in steward alert list). */
  onUndeliverable(listener: (row: OutboxRow, reason: string) => Promise<void>): void {
    this.#undeliverable.push(listener);
  }

  /** Hears of each delivered notification (the alert service records when people were first told). */
  onDelivered(listener: (row: OutboxRow, at: Date) => Promise<void>): void {
    this.#delivered.push(listener);
  }

  /** Keeps SMTP credentials given in the environment (for one start) in the secret store, then starts delivering. */
  async start(credentials?: { user: string | undefined; password: string | undefined }): Promise<void> {
    if (credentials?.user && credentials.password)
      await this.keepSmtpCredentials(credentials.user, credentials.password);
    const fallback = this.#o.settings.fallbackChannel;
    if (fallback && !(await listChannels(this.#o.db)).some((c) => c.name === fallback)) {
      this.#o.logger.warn(
        { fallbackChannel: fallback },
        'notifications.fallbackChannel names no channel yet: failed notifications are only in "steward notify log --status failed" until it is added',
      );
    }
    this.dispatcher.start();
  }

  /** The SMTP server's user and password, sealed in the secret store (the environment gives them for one start). */
  async keepSmtpCredentials(user: string, password: string): Promise<void> {
    await this.#o.db.transaction().execute(async (tx) => {
      await this.#o.secrets.put(tx, smtpUserSecret, user);
      await this.#o.secrets.put(tx, smtpPasswordSecret, password);
    });
  }

  stop(): Promise<void> {
    return this.dispatcher.stop();
  }

  async #smtpCredentials(): Promise<SmtpCredentials | undefined> {
    try {
      return {
        user: await this.#o.secrets.get(smtpUserSecret),
        password: await this.#o.secrets.get(smtpPasswordSecret),
      };
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** Writes a notification to the outbox (in the caller's transaction, with the change it tells of); a repeated key is a no-op. */
  async enqueue(request: EnqueueRequest, tx: Queryable = this.#o.db): Promise<OutboxRow> {
    checkIdempotencyKey(request.key);
    if (!/^[a-z][a-z0-9-]{0,39}$/.test(request.kind)) {
      throw new InputError(
        `field "kind": ${showValue(request.kind)} is not accepted; use up to 40 lower-case letters, digits and "-"`,
        {
          field: 'kind',
        },
      );
    }
    if (request.body.length > maxBodyChars) {
      throw new InputError(
        `field "body": ${request.body.length} characters is too long: at most ${maxBodyChars}`,
        {
          field: 'body',
        },
      );
    }
    const all = await listChannels(tx);
    let chain: string[];
    if (request.channels) {
      chain = request.channels.map((name) => {
        const channel = all.find((c) => c.name === name);
        if (!channel) {
          throw new NotFoundError(
            `field "channels": no notification channel ${showValue(name)}; channels are: ${all.map((c) => c.name).join(', ') || '(none)'}`,
            { field: 'channels' },
          );
        }
        return channel.id;
      });
    } else {
      chain = request.email === undefined ? all.filter((c) => c.enabled).map((c) => c.id) : [];
    }
    const recipient = request.email === undefined ? null : checkEmailAddress(request.email, 'email');
    const now = this.#o.clock.now();
    const { row, created } = await insertNotification(tx, {
      key: request.key,
      kind: request.kind,
      subject: request.subject,
      body: request.body,
      recipient,
      channels: chain,
      deadline: request.deadline ?? new Date(now.getTime() + this.#o.settings.deadlineMinutes * 60_000),
      now,
    });
    if (created && chain.length === 0 && recipient === null)
      await this.#tellFallback(tx, row, 'no notification channel is enabled');
    return row;
  }

  /**
   * Nothing is dropped silently: a notification that failed is told to the
   * operators' fallback channel, once (its key is derived from the failed
   * one's id). A failed fallback notification is not told again (no loop); it
   * stays in `steward notify log --status failed`.
   */
  async #tellFallback(tx: Queryable, row: OutboxRow, reason: string): Promise<void> {
    for (const listener of this.#undeliverable) {
      await listener(row, reason).catch((error: unknown) => {
        this.#o.logger.error(
          { notification: row.id, err: (error as Error).message },
          'undeliverable hook failed',
        );
      });
    }
    const fallback = this.#o.settings.fallbackChannel;
    const log = { notification: row.id, key: row.notification.key, reason };
    const channel = fallback ? (await listChannels(tx)).find((c) => c.name === fallback) : undefined;
    if (row.notification.kind === failedKind || !channel) {
      this.#o.logger.error(
        { ...log, fallbackChannel: fallback ?? null },
        'notification failed; no fallback channel to tell (see steward notify log --status failed)',
      );
      return;
    }
    await this.enqueue(
      {
        key: `${failedKind}:${row.id}`,
        kind: failedKind,
        subject: `Notification not delivered: ${row.notification.subject}`,
        body: `Steward could not deliver notification ${row.id} (key ${row.notification.key}, ${row.notification.kind}): ${reason}.\n\n${row.notification.body.slice(0, maxBodyChars / 2)}`,
        channels: [channel.name],
      },
      tx,
    );
    this.#o.logger.error(log, 'notification failed; told the fallback channel');
  }

  async addChannel(
    input: NewChannel & { secret?: string | undefined },
    principal: Principal,
  ): Promise<ChannelView> {
    const checked = checkNewChannel(input);
    if (input.secret !== undefined) {
      if (checked.kind !== 'webhook') {
        throw new InputError('field "secret": only webhooks are signed; leave it out for email', {
          field: 'secret',
        });
      }
      if (input.secret.length < 16) {
        throw new InputError('field "secret": a signing secret needs at least 16 characters', {
          field: 'secret',
        });
      }
    }
    const channel = await this.#o.db.transaction().execute(async (tx) => {
      const secretName = input.secret === undefined ? null : channelSecretName(checked.name);
      const added = await insertChannel(tx, checked, secretName);
      if (secretName && input.secret !== undefined) await this.#o.secrets.put(tx, secretName, input.secret);
      await this.#o.audit.record(tx, {
        actor: actorName(principal),
        action: 'notification-channel.add',
        target: `notification-channel:${added.name}`,
        address: principal.address,
        details: {
          kind: added.kind,
          preset: added.preset,
          signed: secretName !== null,
          position: added.position,
        },
      });
      return added;
    });
    return channelView(channel);
  }

  async removeChannel(ref: string, principal: Principal): Promise<ChannelView> {
    return this.#o.db.transaction().execute(async (tx) => {
      const channel = await findChannel(tx, ref);
      await deleteChannel(tx, channel.id);
      if (channel.secretName) await this.#o.secrets.remove(tx, channel.secretName);
      await this.#o.audit.record(tx, {
        actor: actorName(principal),
        action: 'notification-channel.remove',
        target: `notification-channel:${channel.name}`,
        address: principal.address,
      });
      return channelView(channel);
    });
  }

  /** A disabled channel is left out of the default route; chains that name it fail over past it. */
  async setEnabled(ref: string, enabled: boolean, principal: Principal): Promise<ChannelView> {
    return this.#o.db.transaction().execute(async (tx) => {
      const channel = await findChannel(tx, ref);
      if (channel.enabled === enabled) return channelView(channel);
      await setChannelEnabled(tx, channel.id, enabled);
      await this.#o.audit.record(tx, {
        actor: actorName(principal),
        action: enabled ? 'notification-channel.enable' : 'notification-channel.disable',
        target: `notification-channel:${channel.name}`,
        address: principal.address,
      });
      return channelView({ ...channel, enabled });
    });
  }

  async listChannels(): Promise<ChannelView[]> {
    return (await listChannels(this.#o.db)).map(channelView);
  }

  /** Sends a test notification through one channel now, and shows its delivery (retries go on in the background if it failed). */
  async test(ref: string, principal: Principal): Promise<NotificationView> {
    const channel = await findChannel(this.#o.db, ref);
    const row = await this.enqueue({
      key: `test-${randomUUID()}`,
      kind: 'test',
      subject: `Test notification to ${channel.name}`,
      body: `A test notification, sent by ${actorName(principal)} with "steward notify test".`,
      channels: [channel.name],
    });
    await this.dispatcher.pass(row.id);
    return this.notification(row.id);
  }

  async notification(id: string): Promise<NotificationView> {
    const [view] = await listNotifications(this.#o.db, { limit: 1, id });
    if (!view) throw new NotFoundError(`no notification ${showValue(id)}`, { field: 'id' });
    return view;
  }

  /** The delivery log, newest first. */
  async log(
    options: { limit?: number; status?: string | undefined; keyPrefix?: string | undefined } = {},
  ): Promise<NotificationView[]> {
    if (
      options.status !== undefined &&
      !notificationStatuses.includes(options.status as NotificationStatus)
    ) {
      throw new InputError(
        `field "status": ${showValue(options.status)} is not accepted; use one of ${notificationStatuses.join(', ')}`,
        { field: 'status' },
      );
    }
    return listNotifications(this.#o.db, {
      limit: options.limit ?? 50,
      status: options.status as NotificationStatus | undefined,
      keyPrefix: options.keyPrefix,
    });
  }

  /** One page of the delivery log, newest first by default. */
  logPage(
    filter: { status?: NotificationStatus | undefined },
    page: PageRequest<'id'>,
  ): Promise<Page<NotificationView>> {
    return notificationPage(this.#o.db, filter, page);
  }

  /** One dispatcher pass (tests, and the benchmark, call it directly). */
  pass(): Promise<PassReport> {
    return this.dispatcher.pass();
  }
}
