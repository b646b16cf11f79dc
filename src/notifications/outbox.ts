import { sql, type Selectable } from 'kysely';
import type { Queryable } from '../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { NotificationOutboxTable } from '../store/schema-operations.ts';
import type { Notification } from './message.ts';

/**
 * The one owner of notification_outbox and notification_deliveries. A
 * notification is written once (its idempotency key is unique), claimed with
 * a lease by one dispatcher at a time, and ends delivered or failed; every
 * attempt leaves a delivery row.
 */
export const notificationStatuses = ['pending', 'delivered', 'failed'] as const;
export type NotificationStatus = (typeof notificationStatuses)[number];

export interface OutboxRow {
  readonly id: string;
  readonly notification: Notification;
  /** A person's own email address (an on-call page): the first link of the chain, before the channels. */
  readonly recipient: string | null;
  readonly channels: readonly string[];
  readonly channelIndex: number;
  readonly channelFailures: number;
  readonly attempts: number;
  readonly status: NotificationStatus;
  readonly nextAttemptAt: Date;
  readonly deadline: Date;
  readonly lastError: string | null;
  readonly finishedAt: Date | null;
}

export interface NewNotification {
  readonly key: string;
  readonly kind: string;
  readonly subject: string;
  readonly body: string;
  readonly recipient?: string | null;
  /** Channel ids, in failover order. */
  readonly channels: readonly string[];
  readonly deadline: Date;
  readonly now: Date;
}

interface Payload {
  readonly subject: string;
  readonly body: string;
}

export type ChainLink =
  | { readonly kind: 'recipient'; readonly address: string }
  | { readonly kind: 'channel'; readonly id: string };

/** The failover chain: the direct recipient first (when there is one), then the channels. */
export function chainLength(row: OutboxRow): number {
  return row.channels.length + (row.recipient === null ? 0 : 1);
}

export function chainLink(row: OutboxRow, index: number): ChainLink {
  if (row.recipient !== null) {
    if (index === 0) return { kind: 'recipient', address: row.recipient };
    return { kind: 'channel', id: row.channels[index - 1] ?? '' };
  }
  return { kind: 'channel', id: row.channels[index] ?? '' };
}

function fromRow(row: Selectable<NotificationOutboxTable>): OutboxRow {
  const payload = row.payload as Payload;
  return {
    id: row.id,
    notification: {
      key: row.idempotency_key,
      kind: row.kind,
      subject: payload.subject,
      body: payload.body,
      createdAt: row.created_at,
    },
    recipient: row.recipient,
    channels: row.channels.map(String),
    channelIndex: row.channel_index,
    channelFailures: row.channel_failures,
    attempts: row.attempts,
    status: row.status as NotificationStatus,
    nextAttemptAt: row.next_attempt_at,
    deadline: row.deadline,
    lastError: row.last_error,
    finishedAt: row.finished_at,
  };
}

/**
 * Writes a notification unless one with its key exists (then returns that
 * one, unchanged): enqueueing twice sends once. Without a channel it is
 * failed at once, visibly, rather than kept pending for nobody.
 */
export async function insertNotification(
  tx: Queryable,
  n: NewNotification,
): Promise<{ row: OutboxRow; created: boolean }> {
  const none = n.channels.length === 0 && !n.recipient;
  const inserted = await tx
    .insertInto('notification_outbox')
    .values({
      idempotency_key: n.key,
      kind: n.kind,
      payload: JSON.stringify({ subject: n.subject, body: n.body } satisfies Payload),
      recipient: n.recipient ?? null,
      channels: [...n.channels],
      next_attempt_at: n.now,
      deadline: n.deadline,
      created_at: n.now,
      ...(none
        ? { status: 'failed', last_error: 'no notification channel is enabled', finished_at: n.now }
        : {}),
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { row: fromRow(inserted), created: true };
  const existing = await tx
    .selectFrom('notification_outbox')
    .selectAll()
    .where('idempotency_key', '=', n.key)
    .executeTakeFirstOrThrow();
  return { row: fromRow(existing), created: false };
}

/**
 * Claims due notifications for one attempt each: `skip locked` lets several
 * dispatchers share the outbox, and the lease (next_attempt_at moved ahead)
 * hands a notification to another pass if this process dies mid-delivery. The
 * attempt is counted here, before anything is sent.
 */
export async function claimDue(
  db: Queryable,
  options: { now: Date; leaseMs: number; limit: number; id?: string },
): Promise<OutboxRow[]> {
  const leaseUntil = new Date(options.now.getTime() + options.leaseMs);
  const rows = await db
    .updateTable('notification_outbox')
    .set({ next_attempt_at: leaseUntil, attempts: sql`attempts + 1` })
    .where(
      'id',
      'in',
      db
        .selectFrom('notification_outbox')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', options.now)
        // Each attempt scheduled by the deadline is made, the last one at it (even when this pass is late).
        .whereRef('next_attempt_at', '<=', 'deadline')
        .$if(options.id !== undefined, (q) => q.where('id', '=', options.id ?? ''))
        .orderBy('next_attempt_at')
        .limit(options.limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute();
  return rows.map(fromRow);
}

export interface AttemptRecord {
  readonly notificationId: string;
  /** null: the direct recipient. */
  readonly channelId: string | null;
  readonly channelName: string;
  readonly attempt: number;
  readonly error: string | null;
  readonly durationMs: number;
  readonly at: Date;
}

function logAttempt(tx: Queryable, a: AttemptRecord): Promise<unknown> {
  return tx
    .insertInto('notification_deliveries')
    .values({
      notification_id: a.notificationId,
      channel_id: a.channelId,
      channel_name: a.channelName,
      attempt: a.attempt,
      outcome: a.error === null ? 'delivered' : 'failed',
      error: a.error,
      duration_ms: a.durationMs,
      at: a.at,
    })
    .execute();
}

export async function recordDelivered(tx: Queryable, a: AttemptRecord): Promise<void> {
  await logAttempt(tx, a);
  await tx
    .updateTable('notification_outbox')
    .set({ status: 'delivered', delivered_channel_id: a.channelId, finished_at: a.at, last_error: null })
    .where('id', '=', a.notificationId)
    .execute();
}

export async function recordRetry(
  tx: Queryable,
  a: AttemptRecord & { channelIndex: number; channelFailures: number; nextAttemptAt: Date },
): Promise<void> {
  await logAttempt(tx, a);
  await tx
    .updateTable('notification_outbox')
    .set({
      channel_index: a.channelIndex,
      channel_failures: a.channelFailures,
      next_attempt_at: a.nextAttemptAt,
      last_error: a.error,
    })
    .where('id', '=', a.notificationId)
    .where('status', '=', 'pending')
    .execute();
}

export async function recordFailed(
  tx: Queryable,
  notificationId: string,
  reason: string,
  at: Date,
  attempt?: AttemptRecord,
): Promise<void> {
  if (attempt) await logAttempt(tx, attempt);
  await tx
    .updateTable('notification_outbox')
    .set({ status: 'failed', last_error: reason, finished_at: at })
    .where('id', '=', notificationId)
    .where('status', '=', 'pending')
    .execute();
}

/** Pending notifications with no attempt left by their deadline (their dispatcher died holding them): failed now. */
export async function expireOverdue(tx: Queryable, now: Date, limit: number): Promise<OutboxRow[]> {
  const rows = await tx
    .updateTable('notification_outbox')
    .set({
      status: 'failed',
      finished_at: now,
      last_error: sql`coalesce(last_error || '; ', '') || 'its deadline passed before it was delivered'`,
    })
    .where(
      'id',
      'in',
      tx
        .selectFrom('notification_outbox')
        .select('id')
        .where('status', '=', 'pending')
        .where('deadline', '<', now)
        // No attempt is left by the deadline (a lease that ran out, after a crash); none a live dispatcher holds.
        .whereRef('next_attempt_at', '>', 'deadline')
        .where('next_attempt_at', '<=', now)
        .limit(limit)
        .forUpdate()
        .skipLocked(),
    )
    .returningAll()
    .execute();
  return rows.map(fromRow);
}

export interface DeliveryView {
  readonly attempt: number;
  readonly channel: string;
  readonly outcome: 'delivered' | 'failed';
  readonly error: string | null;
  readonly durationMs: number;
  readonly at: string;
}

export interface NotificationView {
  readonly id: string;
  readonly key: string;
  readonly kind: string;
  readonly subject: string;
  readonly status: NotificationStatus;
  readonly attempts: number;
  readonly createdAt: string;
  readonly deadline: string;
  readonly finishedAt: string | null;
  readonly lastError: string | null;
  readonly deliveries: readonly DeliveryView[];
}

export interface NotificationFilter {
  readonly status?: NotificationStatus | undefined;
  readonly id?: string | undefined;
  /** Notifications about one thing: keys that start with this (e.g. `incident:7:`). */
  readonly keyPrefix?: string | undefined;
}

/** Newest first. */
export async function listNotifications(
  db: Queryable,
  options: NotificationFilter & { limit: number },
): Promise<NotificationView[]> {
  const rows = await filteredNotifications(db, options).orderBy('id', 'desc').limit(options.limit).execute();
  return withDeliveries(db, rows);
}

/** One page of the delivery log (keyset on id). */
export async function notificationPage(
  db: Queryable,
  filter: NotificationFilter,
  page: PageRequest<'id'>,
): Promise<Page<NotificationView>> {
  const rows = await keysetPage(filteredNotifications(db, filter), { sort: 'id', id: 'id' }, page);
  return { ...rows, items: await withDeliveries(db, rows.items) };
}

function filteredNotifications(db: Queryable, options: NotificationFilter) {
  return db
    .selectFrom('notification_outbox')
    .selectAll()
    .$if(options.keyPrefix !== undefined, (q) =>
      q.where(sql<boolean>`starts_with(idempotency_key, ${options.keyPrefix ?? ''})`),
    )
    .$if(options.status !== undefined, (q) => q.where('status', '=', options.status ?? 'pending'))
    .$if(options.id !== undefined, (q) => q.where('id', '=', options.id ?? ''));
}

async function withDeliveries(
  db: Queryable,
  rows: readonly Selectable<NotificationOutboxTable>[],
): Promise<NotificationView[]> {
  if (rows.length === 0) return [];
  const deliveries = await db
    .selectFrom('notification_deliveries')
    .selectAll()
    .where(
      'notification_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('id')
    .execute();
  return rows.map((r) => {
    const n = fromRow(r);
    return {
      id: n.id,
      key: n.notification.key,
      kind: n.notification.kind,
      subject: n.notification.subject,
      status: n.status,
      attempts: n.attempts,
      createdAt: n.notification.createdAt.toISOString(),
      deadline: n.deadline.toISOString(),
      finishedAt: n.finishedAt?.toISOString() ?? null,
      lastError: n.lastError,
      deliveries: deliveries
        .filter((d) => d.notification_id === r.id)
        .map((d) => ({
          attempt: d.attempt,
          channel: d.channel_name,
          outcome: d.outcome as 'delivered' | 'failed',
          error: d.error,
          durationMs: d.duration_ms,
          at: d.at.toISOString(),
        })),
    };
  });
}
