import { sql } from 'kysely';
import type { ControlDb } from '../../store/db.ts';
import type { AccountCount, AddressCount } from '../lockout.ts';
import { accountCount, chargedCounter } from '../login-attempts.ts';
import { lockSeconds, type LocalLoginLimits } from './policy.ts';

/**
 * Failed sign-ins of a tenant's local users (table
 * tenant_user_login_failures), counted as operators' are (../login-attempts.ts):
 * before the password is checked, per tenant and address prefix across
 * accounts, and per account and prefix. What the counts mean is decided by
 * ../lockout.ts; each lock of an account from one prefix lasts twice the
 * last (policy.ts lockSeconds) until a sign-in from there succeeds.
 */
export class LocalAttempts {
  readonly #db: ControlDb;
  readonly #limits: LocalLoginLimits;

  constructor(db: ControlDb, limits: LocalLoginLimits) {
    this.#db = db;
    this.#limits = limits;
  }

  async chargeAddress(tenantId: string, prefix: string, now: Date): Promise<AddressCount> {
    const windowStart = new Date(now.getTime() - this.#limits.addressWindowSeconds * 1000);
    const row = await this.#db
      .insertInto('tenant_user_login_failures')
      .values({ tenant_id: tenantId, user_id: null, address_prefix: prefix, window_start: now, failures: 1 })
      .onConflict((oc) =>
        oc
          .columns(['tenant_id', 'address_prefix'])
          .where('user_id', 'is', null)
          .doUpdateSet(chargedCounter('tenant_user_login_failures', now, windowStart, false)),
      )
      .returning(['failures', 'window_start'])
      .executeTakeFirstOrThrow();
    return { failures: row.failures, windowStart: row.window_start };
  }

  async chargeAccount(
    tenantId: string,
    userId: string,
    prefix: string,
    now: Date,
  ): Promise<AccountCount & { locks: number }> {
    const windowStart = new Date(now.getTime() - this.#limits.lockoutSeconds * 1000);
    const row = await this.#db
      .insertInto('tenant_user_login_failures')
      .values({
        tenant_id: tenantId,
        user_id: userId,
        address_prefix: prefix,
        failures: 1,
        window_start: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['user_id', 'address_prefix'])
          .where('user_id', 'is not', null)
          .doUpdateSet(chargedCounter('tenant_user_login_failures', now, windowStart, true)),
      )
      .returning(['failures', 'locked_until', 'succeeded_at', 'locks'])
      .executeTakeFirstOrThrow();
    const count = await accountCount(
      this.#db,
      { table: 'tenant_user_login_failures', user_id: userId },
      row,
      windowStart,
    );
    return { ...count, locks: row.locks };
  }

  /** Locks the account for this prefix, each lock twice as long as the last; returns its length. */
  async lock(userId: string, prefix: string, previousLocks: number, now: Date): Promise<number> {
    const seconds = lockSeconds(this.#limits, previousLocks);
    await this.#db
      .updateTable('tenant_user_login_failures')
      .set((eb) => ({
        locked_until: new Date(now.getTime() + seconds * 1000),
        failures: 0,
        locks: eb('locks', '+', 1),
      }))
      .where('user_id', '=', userId)
      .where('address_prefix', '=', prefix)
      .execute();
    return seconds;
  }

  /**
   * The password was right and the code is asked next: that attempt is taken
   * back, so a sign-in with MFA counts once (at its code). Nothing is
   * trusted or reset yet: with the password alone, guessing codes still locks.
   */
  async refund(userId: string, prefix: string, now: Date): Promise<void> {
    await this.#db
      .updateTable('tenant_user_login_failures')
      .set((eb) => ({ failures: sql<number>`greatest(${eb.ref('failures')} - 1, 0)` }))
      .where('user_id', '=', userId)
      .where('address_prefix', '=', prefix)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
      .execute();
  }

  /** A sign-in: the account's count and backoff for this prefix start over, and the prefix is known. */
  async settle(tenantId: string, userId: string, prefix: string, now: Date): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .updateTable('tenant_user_login_failures')
        .set({ failures: 0, locked_until: null, locks: 0, succeeded_at: now })
        .where('user_id', '=', userId)
        .where('address_prefix', '=', prefix)
        .execute();
      await tx
        .updateTable('tenant_user_login_failures')
        .set((eb) => ({ failures: sql<number>`greatest(${eb.ref('failures')} - 1, 0)` }))
        .where('tenant_id', '=', tenantId)
        .where('user_id', 'is', null)
        .where('address_prefix', '=', prefix)
        .execute();
    });
  }

  /** The latest lock of each of a tenant's users that has not run out (user list). */
  async lockedUntil(tenantId: string, now: Date): Promise<Map<string, Date>> {
    const rows = await this.#db
      .selectFrom('tenant_user_login_failures')
      .select(['user_id', (eb) => eb.fn.max('locked_until').as('locked_until')])
      .where('tenant_id', '=', tenantId)
      .where('user_id', 'is not', null)
      .where('locked_until', '>', now)
      .groupBy('user_id')
      .execute();
    return new Map(rows.map((r) => [r.user_id ?? '', r.locked_until as Date]));
  }
}
