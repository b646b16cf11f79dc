import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { ControlDb } from '../store/db.ts';
import type { NotificationService } from '../notifications/index.ts';
import { listPublicUpdates } from '../incidents/store.ts';
import { listMaintenanceWindows } from '../maintenance/store.ts';

/**
 * Email subscriptions to a status page, with double opt-in: a request sends
 * a confirmation email through the outbox with a single-use link; only a
 * confirmed subscriber hears of new public incident updates and announced
 * maintenance, each email with an unsubscribe link. The one writer of
 * status_subscribers and status_subscription_requests.
 */
export const emailPattern = /^[^\s@<>"',;]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})+$/i;
/** Requests per address in a day: more is refused (nobody is mail-bombed through us). */
export const requestsPerDay = 3;

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();
const token = (): string => randomBytes(32).toString('base64url');
export const linkTokenPattern = /^[A-Za-z0-9_-]{43}$/;

export type SubscribeOutcome = 'sent' | 'already' | 'limited';

export interface SubscriptionOptions {
  readonly db: ControlDb;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly notifications: NotificationService;
  /** A page's title, for the emails. */
  readonly title: (scope: string) => Promise<string>;
}

export class Subscriptions {
  readonly #o: SubscriptionOptions;

  constructor(options: SubscriptionOptions) {
    this.#o = options;
  }

  /** A request from the page's form; the email address is checked by the caller. */
  async subscribe(scope: string, email: string, pageUrl: string): Promise<SubscribeOutcome> {
    const baseUrl = new URL(pageUrl).origin;
    const address = email.toLowerCase();
    const now = this.#o.clock.now();
    const confirm = token();
    const outcome = await this.#o.db.transaction().execute(async (tx) => {
      const recent = await tx
        .selectFrom('status_subscription_requests')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('email', '=', address)
        .where('at', '>', new Date(now.getTime() - 86_400_000))
        .executeTakeFirst();
      if (Number(recent?.n ?? 0) >= requestsPerDay) return { kind: 'limited' as const };
      await tx.insertInto('status_subscription_requests').values({ email: address, at: now }).execute();
      const existing = await tx
        .selectFrom('status_subscribers')
        .select(['id', 'confirmed_at', 'unsubscribed_at'])
        .where('scope', '=', scope)
        .where('email', '=', address)
        .forUpdate()
        .executeTakeFirst();
      if (existing && existing.confirmed_at !== null && existing.unsubscribed_at === null) {
        return { kind: 'already' as const };
      }
      const row = await tx
        .insertInto('status_subscribers')
        .values({
          scope,
          email: address,
          base_url: pageUrl,
          requested_at: now,
          confirm_sha256: sha256(confirm),
          unsubscribe_token: token(),
        })
        .onConflict((oc) =>
          oc.columns(['scope', 'email']).doUpdateSet({
            base_url: pageUrl,
            requested_at: now,
            confirm_sha256: sha256(confirm),
            confirmed_at: null,
            unsubscribed_at: null,
          }),
        )
        .returning(['id', 'unsubscribe_token'])
        .executeTakeFirstOrThrow();
      const title = await this.#o.title(scope);
      await this.#o.notifications.enqueue(
        {
          key: `status:confirm:${row.id}:${now.getTime()}`,
          kind: 'status-subscription',
          email: address,
          subject: `Confirm your subscription to ${title}`,
          body: [
            `Someone (hopefully you) asked to be told by email about incidents and maintenance on ${title}.`,
            '',
            `To confirm, open this link within 7 days: ${baseUrl}/confirm/${confirm}`,
            '',
            'If it was not you, ignore this email: nothing will be sent.',
            `Unsubscribe: ${baseUrl}/unsubscribe/${row.unsubscribe_token}`,
          ].join('\n'),
        },
        tx,
      );
      return { kind: 'sent' as const };
    });
    return outcome.kind;
  }

  /** Confirms with a confirmation link's token, once; false for an unknown, used or expired one. */
  async confirm(linkToken: string): Promise<boolean> {
    const now = this.#o.clock.now();
    const result = await this.#o.db
      .updateTable('status_subscribers')
      .set({ confirmed_at: now, confirm_sha256: null })
      .where('confirm_sha256', '=', sha256(linkToken))
      .where('requested_at', '>', new Date(now.getTime() - 7 * 86_400_000))
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Whether a confirmation token is current (the GET page before the POST that acts). */
  async confirmable(linkToken: string): Promise<boolean> {
    const row = await this.#o.db
      .selectFrom('status_subscribers')
      .select('id')
      .where('confirm_sha256', '=', sha256(linkToken))
      .executeTakeFirst();
    return row !== undefined;
  }

  async unsubscribe(linkToken: string): Promise<boolean> {
    const result = await this.#o.db
      .updateTable('status_subscribers')
      .set({ unsubscribed_at: this.#o.clock.now() })
      .where('unsubscribe_token', '=', linkToken)
      .where('unsubscribed_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async unsubscribable(linkToken: string): Promise<boolean> {
    const row = await this.#o.db
      .selectFrom('status_subscribers')
      .select('id')
      .where('unsubscribe_token', '=', linkToken)
      .where('unsubscribed_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * One pass: every public incident update and announced maintenance window
   * of the last `lookbackMs` goes to the confirmed subscribers of its page
   * (confirmed before it happened), each email once (the outbox's key).
   * A tenant's news goes to its page's subscribers only; the vendor's page has none.
   */
  /** Returns how many (news, subscriber) pairs were offered to the outbox. */
  async notifyPass(lookbackMs = 3_600_000): Promise<number> {
    const now = this.#o.clock.now();
    const since = new Date(now.getTime() - lookbackMs);
    const [updates, windows] = await Promise.all([
      listPublicUpdates(this.#o.db, { since, limit: 500 }),
      listMaintenanceWindows(this.#o.db, { now }),
    ]);
    const news: { key: string; scope: string; at: string; subject: string; body: string }[] = [];
    for (const u of updates) {
      news.push({
        key: `status:update:${u.id}`,
        scope: u.tenant,
        at: u.at,
        subject: `${u.title}: ${u.status}`,
        body: `${u.title} (${u.status}, ${u.at.slice(0, 16).replace('T', ' ')} UTC)\n\n${u.note ?? ''}`,
      });
    }
    for (const w of windows) {
      if (w.announcedAt === null || w.cancelledAt !== null || w.announcedAt < since.toISOString()) continue;
      news.push({
        key: `status:maintenance:${w.id}`,
        scope: w.tenant,
        at: w.announcedAt,
        subject: `Planned maintenance: ${w.reason}`,
        body: `Planned maintenance from ${w.startsAt.slice(0, 16).replace('T', ' ')} UTC to ${w.endsAt.slice(0, 16).replace('T', ' ')} UTC: ${w.reason}`,
      });
    }
    let sent = 0;
    for (const item of news) {
      const subscribers = await this.#o.db
        .selectFrom('status_subscribers')
        .select(['id', 'email', 'base_url', 'unsubscribe_token'])
        .where('scope', '=', item.scope)
        .where('confirmed_at', '<=', new Date(item.at))
        .where('unsubscribed_at', 'is', null)
        .execute();
      for (const s of subscribers) {
        // The outbox keeps one notification per key: a second pass offers the same one again, nothing more.
        await this.#o.notifications.enqueue({
          key: `${item.key}:${s.id}`,
          kind: 'status-news',
          email: s.email,
          subject: item.subject,
          body: `${item.body}\n\nStatus page: ${s.base_url}\nUnsubscribe: ${new URL(s.base_url).origin}/unsubscribe/${s.unsubscribe_token}`,
        });
        sent++;
      }
    }
    return sent;
  }
}
