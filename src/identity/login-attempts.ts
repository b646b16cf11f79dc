import { sql, type RawBuilder } from 'kysely';
import type { ControlDb } from '../store/db.ts';
import type { AccountCount, AddressCount, LoginLimits } from './lockout.ts';

/**
 * The update of a failed-login counter that is charged once more (an
 * upsert's `do update`), for operators' and tenant users' tables alike: a
 * locked counter keeps its count; one whose window ran out starts a new
 * window at one; else one more. A counter never locked has a null
 * `locked_until`, which counts as not locked (a bare comparison with null
 * would leave the old window in place, and the counter at one for ever).
 */
export function chargedCounter(
  table: 'login_failures' | 'operator_login_failures' | 'tenant_user_login_failures',
  now: Date,
  windowStart: Date,
  lockable: boolean,
): { failures: RawBuilder<number>; window_start: RawBuilder<Date> } {
  const column = (name: string) => sql.ref(`${table}.${name}`);
  const locked = lockable
    ? sql<boolean>`coalesce(${column('locked_until')} > ${now}::timestamptz, false)`
    : sql<boolean>`false`;
  const stale = sql<boolean>`${column('window_start')} < ${windowStart}::timestamptz`;
  return {
    failures: sql<number>`case when ${locked} then ${column('failures')} when ${stale} then 1 else ${column('failures')} + 1 end`,
    window_start: sql<Date>`case when not ${locked} and ${stale} then ${now}::timestamptz else ${column('window_start')} end`,
  };
}

/** An account's counter as charged (the row an upsert returned). */
export interface ChargedAccountRow {
  readonly failures: number;
  readonly locked_until: Date | null;
  readonly succeeded_at: Date | null;
}

/**
 * What lockout.ts needs to judge an account's attempt, for operators' and
 * tenant users' counters alike (each keyed by its account column): the
 * charged counter, and unless its prefix is trusted the account's recent
 * failures from prefixes it never signed in from.
 */
export async function accountCount(
  db: ControlDb,
  account:
    | { table: 'operator_login_failures'; operator_id: string }
    | { table: 'tenant_user_login_failures'; user_id: string },
  row: ChargedAccountRow,
  windowStart: Date,
): Promise<AccountCount> {
  let untrustedFailures = 0;
  if (!row.succeeded_at) {
    const [key, id] =
      'operator_id' in account ? ['operator_id', account.operator_id] : ['user_id', account.user_id];
    const sum = await sql<{ failures: string }>`
      select coalesce(sum(failures), 0) as failures from ${sql.table(account.table)}
      where ${sql.ref(key)} = ${id} and succeeded_at is null and window_start >= ${windowStart}::timestamptz`.execute(
      db,
    );
    untrustedFailures = Number(sum.rows[0]?.failures ?? 0);
  }
  return {
    failures: row.failures,
    lockedUntil: row.locked_until,
    trusted: row.succeeded_at !== null,
    untrustedFailures,
  };
}

/**
 * The failed-login counters (tables login_failures and
 * operator_login_failures): the one module that writes them. Each attempt is
 * counted before its password is checked, so that concurrent guesses cannot
 * all be tried before a limit takes effect; a sign-in takes its count back.
 * What the counts mean is decided in lockout.ts.
 */
export class LoginAttempts {
  readonly #db: ControlDb;
  readonly #limits: LoginLimits;

  constructor(db: ControlDb, limits: LoginLimits) {
    this.#db = db;
    this.#limits = limits;
  }

  /** Counts an attempt against its address prefix, across accounts. */
  async chargeAddress(prefix: string, now: Date): Promise<AddressCount> {
    const windowStart = new Date(now.getTime() - this.#limits.addressWindowSeconds * 1000);
    const row = await this.#db
      .insertInto('login_failures')
      .values({ address_prefix: prefix, window_start: now, failures: 1 })
      .onConflict((oc) =>
        oc.column('address_prefix').doUpdateSet(chargedCounter('login_failures', now, windowStart, false)),
      )
      .returning(['failures', 'window_start'])
      .executeTakeFirstOrThrow();
    return { failures: row.failures, windowStart: row.window_start };
  }

  /**
   * Counts an attempt against one account from one address prefix (not while
   * that prefix is locked out), and sums the account's recent failures from
   * prefixes it never signed in from.
   */
  async chargeAccount(operatorId: string, prefix: string, now: Date): Promise<AccountCount> {
    const windowStart = new Date(now.getTime() - this.#limits.lockoutSeconds * 1000);
    const row = await this.#db
      .insertInto('operator_login_failures')
      .values({ operator_id: operatorId, address_prefix: prefix, failures: 1, window_start: now })
      .onConflict((oc) =>
        oc
          .columns(['operator_id', 'address_prefix'])
          .doUpdateSet(chargedCounter('operator_login_failures', now, windowStart, true)),
      )
      .returning(['failures', 'locked_until', 'succeeded_at'])
      .executeTakeFirstOrThrow();
    if (!row.succeeded_at) {
      // Old counters of prefixes that never signed in tell nothing any more.
      await this.#db
        .deleteFrom('operator_login_failures')
        .where('operator_id', '=', operatorId)
        .where('succeeded_at', 'is', null)
        .where('window_start', '<', windowStart)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
        .execute();
    }
    return accountCount(
      this.#db,
      { table: 'operator_login_failures', operator_id: operatorId },
      row,
      windowStart,
    );
  }

  /** Locks the account for this prefix after its last allowed failure. */
  async lock(operatorId: string, prefix: string, now: Date): Promise<void> {
    await this.#db
      .updateTable('operator_login_failures')
      .set({ locked_until: new Date(now.getTime() + this.#limits.lockoutSeconds * 1000), failures: 0 })
      .where('operator_id', '=', operatorId)
      .where('address_prefix', '=', prefix)
      .execute();
  }

  /** The right credentials: no failure for the account or the address, and the prefix is now known. */
  async settle(operatorId: string, prefix: string, now: Date): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .updateTable('operator_login_failures')
        .set({ failures: 0, locked_until: null, succeeded_at: now })
        .where('operator_id', '=', operatorId)
        .where('address_prefix', '=', prefix)
        .execute();
      await tx
        .updateTable('login_failures')
        .set((eb) => ({ failures: sql<number>`greatest(${eb.ref('failures')} - 1, 0)` }))
        .where('address_prefix', '=', prefix)
        .execute();
    });
  }

  /** The latest lock of each listed operator that has not run out, for the operator list. */
  async lockedUntil(now: Date): Promise<Map<string, Date>> {
    const rows = await this.#db
      .selectFrom('operator_login_failures')
      .select(['operator_id', (eb) => eb.fn.max('locked_until').as('locked_until')])
      .where('locked_until', '>', now)
      .groupBy('operator_id')
      .execute();
    return new Map(rows.map((r) => [r.operator_id, r.locked_until as Date]));
  }
}
