import type { Clock } from '../../core/clock.ts';
import { InputError, showValue } from '../../core/errors.ts';
import type { ControlDb, Queryable } from '../../store/db.ts';
import type { LoginEvent, LoginLog } from '../contracts.ts';
import { parseSince } from './policy.ts';

/**
 * The login log (table login_events): the one writer, for every sign-in
 * method (local, OIDC, break-glass) through LoginLog.record. What a person
 * typed is kept bounded and without control characters; it never holds a
 * secret (the callers pass none: reasons, IdP error codes, names).
 */
export interface LoginEventView {
  readonly id: string;
  readonly at: string;
  readonly stage: string | null;
  readonly userId: string | null;
  readonly userName: string | null;
  readonly method: string;
  readonly outcome: 'success' | 'failure';
  readonly reason: string | null;
  readonly address: string | null;
  readonly detail: string | null;
}

export interface LoginLogQuery {
  readonly tenantId: string;
  /** An ISO time, or a duration back from now: 30m, 12h, 7d. */
  readonly since?: Date | string | undefined;
  /** A user name (any case); the lines of a deleted user too. */
  readonly userName?: string | undefined;
  readonly outcome?: 'success' | 'failure' | undefined;
  /** Older than this event id (the next page). */
  readonly before?: string | undefined;
  readonly limit?: number | undefined;
}

export const maxLoginLogPage = 1000;

const bounded = (value: string | null, max: number): string | null =>
  value === null ? null : value.replace(/[\p{Cc}\p{Cf}]+/gu, ' ').slice(0, max);

export class LoginEvents implements LoginLog {
  readonly #db: ControlDb;
  readonly #clock: Clock;

  constructor(db: ControlDb, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  record(event: LoginEvent): Promise<void> {
    return this.recordIn(this.#db, event);
  }

  /** In the caller's transaction, beside the change it records (an MFA reset with its audit event). */
  async recordIn(tx: Queryable, event: LoginEvent): Promise<void> {
    await tx
      .insertInto('login_events')
      .values({
        tenant_id: event.tenantId,
        stage: bounded(event.stage, 64),
        user_id: event.userId,
        user_name: bounded(event.userName, 256),
        method: event.method,
        outcome: event.outcome,
        reason: event.reason,
        address: bounded(event.address, 64),
        detail: bounded(event.detail, 500),
        at: this.#clock.now(),
      })
      .execute();
  }

  /** Newest first; `nextBefore` pages on when the page is full. */
  async list(query: LoginLogQuery): Promise<{ events: LoginEventView[]; nextBefore: string | null }> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > maxLoginLogPage) {
      throw new InputError(
        `field "limit": ${showValue(limit)} is not accepted; use 1 to ${maxLoginLogPage}`,
        { field: 'limit' },
      );
    }
    if (query.before !== undefined && !/^\d{1,18}$/.test(query.before)) {
      throw new InputError(
        `field "before": ${showValue(query.before)} is not an event id; pass the nextBefore of the previous page`,
        { field: 'before' },
      );
    }
    let q = this.#db
      .selectFrom('login_events')
      .selectAll()
      .where('tenant_id', '=', query.tenantId)
      .orderBy('id', 'desc')
      .limit(limit);
    if (query.since !== undefined) {
      const since =
        typeof query.since === 'string' ? parseSince(query.since, this.#clock.now()) : query.since;
      q = q.where('at', '>=', since);
    }
    if (query.before !== undefined) q = q.where('id', '<', query.before);
    if (query.outcome) q = q.where('outcome', '=', query.outcome);
    if (query.userName !== undefined) {
      const name = query.userName.toLowerCase();
      q = q.where((eb) => eb(eb.fn('lower', ['user_name']), '=', name));
    }
    const rows = await q.execute();
    return {
      events: rows.map((r) => ({
        id: r.id,
        at: r.at.toISOString(),
        stage: r.stage,
        userId: r.user_id,
        userName: r.user_name,
        method: r.method,
        outcome: r.outcome as 'success' | 'failure',
        reason: r.reason,
        address: r.address,
        detail: r.detail,
      })),
      nextBefore: rows.length === limit ? (rows.at(-1)?.id ?? null) : null,
    };
  }
}
