import pg from 'pg';
import { InputError } from '../core/errors.ts';
import { maintenance, pinned } from '../databases/privileged.ts';
import { quoteIdent } from '../databases/sql.ts';

/**
 * Fingerprints of a database's data: per table, the row count and two
 * order-independent aggregates of a 64-bit hash of each row's text (a sum,
 * which duplicates change, and an xor). No sort, one sequential scan per
 * table, which PostgreSQL may run in parallel: fast enough for a 1 GB
 * database. Restore tests compare the fingerprint recorded at backup time
 * with the restored one.
 *
 * Only ordinary, logged tables outside the system schemas count: unlogged
 * tables come back empty from any physical restore, by design.
 */
export interface TableFingerprint {
  readonly schema: string;
  readonly table: string;
  readonly rows: number;
  /** sum(hashtextextended(row::text, 0)) as a decimal string. */
  readonly sum: string;
  /** bit_xor(hashtextextended(row::text, 1)) as a decimal string. */
  readonly xor: string;
}

export interface Fingerprint {
  readonly tables: readonly TableFingerprint[];
}

export interface FingerprintMismatch {
  /** `schema.table`. */
  readonly table: string;
  /** null when the table is missing on that side. */
  readonly expected: TableFingerprint | null;
  readonly actual: TableFingerprint | null;
}

export interface FingerprintComparison {
  readonly ok: boolean;
  readonly mismatches: readonly FingerprintMismatch[];
}

/** The part of pg.Client this needs. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * Every function and operator here is qualified, and the sessions that run
 * them pin search_path too (../databases/privileged.ts): a tenant's
 * `public.hashtextextended(text, integer)`, a better match for an
 * unqualified call with an integer literal, or its `count(*)` aggregate with
 * public ahead of pg_catalog, must never be what runs. They run as the
 * stage's own role anyway, so this is about a true fingerprint, not about
 * privilege.
 */
const tablesSql = `
  select n.nspname as schema, c.relname as table
  from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid operator(pg_catalog.=) c.relnamespace
  where c.relkind operator(pg_catalog.=) 'r' and c.relpersistence operator(pg_catalog.=) 'p'
    and n.nspname operator(pg_catalog.<>) all (array['pg_catalog', 'information_schema']::pg_catalog.name[])
    and n.nspname operator(pg_catalog.!~~) 'pg\\_%'
  order by 1, 2`;

/** Fingerprints every table the client's database holds, as its current snapshot sees it. */
export async function takeFingerprint(client: Queryable): Promise<Fingerprint> {
  const listed = await client.query<{ schema: string; table: string }>(tablesSql);
  const tables: TableFingerprint[] = [];
  for (const { schema, table } of listed.rows) {
    const name = `${quoteIdent(schema)}.${quoteIdent(table)}`;
    const result = await client.query<{ rows: string; sum: string | null; xor: string | null }>(
      `select pg_catalog.count(*) as rows,
              pg_catalog.sum(pg_catalog.hashtextextended(t::pg_catalog.text, 0)::pg_catalog.numeric)::pg_catalog.text as sum,
              pg_catalog.bit_xor(pg_catalog.hashtextextended(t::pg_catalog.text, 1))::pg_catalog.text as xor
       from ${name} t`,
    );
    const row = result.rows[0];
    tables.push({
      schema,
      table,
      rows: Number(row?.rows ?? 0),
      sum: row?.sum ?? '0',
      xor: row?.xor ?? '0',
    });
  }
  return { tables };
}

const key = (t: TableFingerprint): string => `${t.schema}.${t.table}`;

/** Table by table: a table missing on either side, or with other counts or hashes, is a mismatch. */
export function compareFingerprints(expected: Fingerprint, actual: Fingerprint): FingerprintComparison {
  const want = new Map(expected.tables.map((t) => [key(t), t]));
  const got = new Map(actual.tables.map((t) => [key(t), t]));
  const mismatches: FingerprintMismatch[] = [];
  for (const name of [...new Set([...want.keys(), ...got.keys()])].sort()) {
    const e = want.get(name) ?? null;
    const a = got.get(name) ?? null;
    if (!e || !a || e.rows !== a.rows || e.sum !== a.sum || e.xor !== a.xor) {
      mismatches.push({ table: name, expected: e, actual: a });
    }
  }
  return { ok: mismatches.length === 0, mismatches };
}

export interface RecordedFingerprints {
  /** The restore point to recover to (`--type=name`); a retry makes a new one, so it may carry a suffix. */
  readonly restorePoint: string;
  /** Where the restore point is in WAL. */
  readonly lsn: string;
  /** The segment holding the restore point, archived after the switch: wait for it before restoring. */
  readonly walFile: string;
  /**
   * Whether the fingerprints are exactly what a restore to the restore point
   * holds. False when no quiet moment was found; the fingerprints are then
   * of a snapshot taken just before the restore point, and `why` says so.
   */
  readonly exact: boolean;
  readonly why: string | null;
  /** How the quiet moment was had: share locks on the tables, or a snapshot check alone. */
  readonly method: 'locks' | 'snapshots';
  readonly attempts: number;
  readonly takenAt: Date;
  readonly databases: Readonly<Record<string, Fingerprint>>;
}

export interface RecordOptions {
  /** Attempts at taking the share locks before falling back to the snapshot check. */
  readonly attempts?: number;
  /** How long one attempt waits for a table's writers to finish (lock_timeout); writers queue behind it meanwhile. */
  readonly lockTimeoutMs?: number;
  /** The pause between attempts grows from this, doubling, with jitter. */
  readonly backoffMs?: number;
}

const restorePointPattern = /^[A-Za-z0-9_.:-]{1,56}$/;

/** A database to fingerprint and how its owner reaches it: the stage's own role, never a superuser. */
export interface DatabaseAccess {
  readonly database: string;
  readonly connection: pg.ClientConfig;
}

/**
 * Of the xids in flight at snapshot `$1` (its xip, and everything from its
 * xmax up to `$2`'s xmax): those finished and committed by the later
 * snapshot `$2`, and those still running that were busy in a statement
 * (`$3`, from pg_stat_activity between the two), which may have been
 * committing at the restore point.
 */
const betweenSnapshotsSql = `
  with s as (select $1::pg_snapshot as s1, $2::pg_snapshot as s2),
  xs as (
    select x from s, lateral pg_snapshot_xip(s.s1) x
    union all
    select (pg_snapshot_xmax(s.s1)::text::numeric + g)::text::xid8
    from s, lateral generate_series(
      0::bigint,
      (pg_snapshot_xmax(s.s2)::text::numeric - pg_snapshot_xmax(s.s1)::text::numeric)::bigint - 1
    ) g
  )
  select
    count(*) filter (where pg_visible_in_snapshot(xs.x, s.s2) and pg_xact_status(xs.x) = 'committed')::int
      as committed,
    count(*) filter (where not pg_visible_in_snapshot(xs.x, s.s2) and xs.x::text = any($3::text[]))::int
      as busy
  from xs, s`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function tableNames(client: Queryable): Promise<string[]> {
  const listed = await client.query<{ schema: string; table: string }>(tablesSql);
  return listed.rows.map((r) => `${quoteIdent(r.schema)}.${quoteIdent(r.table)}`);
}

function lockTimedOut(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // lock_not_available (lock_timeout), deadlock_detected.
  return code === '55P03' || code === '40P01';
}

/**
 * Fingerprints databases exactly as a restore to a new restore point will
 * hold them, while the apps keep writing.
 *
 * A snapshot S matches the WAL position R of a restore point when no change
 * to the fingerprinted tables commits between them, and when no transaction
 * that changed them is half-committed at S (its commit record is in WAL
 * before R, but it is not yet visible: the moment of its WAL flush). Comparing
 * snapshots from outside cannot rule the second out, and on a busy cluster
 * rarely finds a gap without the first; so the tables are held still instead:
 *
 * 1. one session per database takes SHARE locks on every table to be
 *    fingerprinted (waiting at most lockTimeoutMs for their writers): a
 *    writer releases its lock only after its commit is in WAL and visible,
 *    and new writers wait;
 * 2. one repeatable-read transaction per database takes its snapshot S and
 *    lists the tables it sees (one created meanwhile and not locked: retry);
 * 3. the restore point R is made, and the locks are released: writers were
 *    held for a few milliseconds;
 * 4. the fingerprints are computed inside the open transactions, and the
 *    WAL is switched so the restore point's segment gets archived.
 *
 * When the locks cannot be had in `attempts` tries (a long transaction that
 * writes, a prepared transaction), a last try goes without them: each S,
 * then R, then who is in a transaction (pg_stat_activity), then S2 (R and
 * pg_stat_activity need the superuser, the tables their owner, so they
 * cannot share one statement). It counts as exact only when no transaction
 * in flight at the oldest S had committed by S2, and those still running
 * were idle in their transaction after R (so had not written a commit
 * record before it). Under load it will not be, and the result says so
 * (`exact: false`, with `why`).
 */
export async function recordFingerprintWithRestorePoint(
  admin: pg.ClientConfig,
  databases: readonly DatabaseAccess[],
  name: string,
  options: RecordOptions = {},
): Promise<RecordedFingerprints> {
  if (!restorePointPattern.test(name)) {
    throw new InputError(`restore point ${JSON.stringify(name)} must be 1 to 56 of A-Z a-z 0-9 _ . : -`, {
      field: 'restore-point',
    });
  }
  const names = databases.map((d) => d.database);
  if (names.length === 0 || new Set(names).size !== names.length) {
    throw new InputError('name one or more databases to fingerprint, each once', { field: 'databases' });
  }
  const attempts = options.attempts ?? 5;
  const lockTimeout = options.lockTimeoutMs ?? 250;
  const backoff = options.backoffMs ?? 50;
  // The restore point, the WAL switch and pg_stat_activity need the superuser: on the maintenance
  // database only. The tables are locked and read by their owner, the stage's role: whatever the
  // tenant defined that a read may run (RLS policies, a type's output), runs with its own rights.
  const control = await connect(maintenance(admin));
  const lockers: pg.Client[] = [];
  const readers: pg.Client[] = [];
  try {
    for (const { connection } of databases) {
      lockers.push(await connect(pinned(connection)));
      readers.push(await connect(pinned(connection)));
    }
    const finish = async (
      attempt: number,
      restorePoint: string,
      lsn: string,
      takenAt: Date,
      method: 'locks' | 'snapshots',
      why: string | null,
    ): Promise<RecordedFingerprints> => {
      const fingerprints = await Promise.all(readers.map((r) => takeFingerprint(r)));
      await Promise.all(readers.map((r) => r.query('commit')));
      const switched = await control.query<{ walfile: string }>(
        'select pg_walfile_name(pg_switch_wal()) as walfile',
      );
      return {
        restorePoint,
        lsn,
        walFile: switched.rows[0]!.walfile,
        exact: why === null,
        why,
        method,
        attempts: attempt,
        takenAt,
        databases: Object.fromEntries(names.map((d, i) => [d, fingerprints[i]!])),
      };
    };

    for (let attempt = 1; attempt <= attempts; attempt++) {
      const restorePoint = attempt === 1 ? name : `${name}.${attempt}`;
      let locked: string[][];
      try {
        locked = await Promise.all(
          lockers.map(async (l) => {
            await l.query('begin');
            await l.query(`set local lock_timeout = ${Math.max(1, Math.round(lockTimeout))}`);
            const tables = await tableNames(l);
            if (tables.length > 0) await l.query(`lock table ${tables.join(', ')} in share mode`);
            return tables;
          }),
        );
      } catch (error) {
        await Promise.all(lockers.map((l) => l.query('rollback').catch(() => undefined)));
        if (!lockTimedOut(error)) throw error;
        await sleep(backoff * 2 ** (attempt - 1) * (0.5 + Math.random()));
        continue;
      }
      const takenAt = new Date();
      const seen = await Promise.all(
        readers.map(async (r) => {
          await r.query('begin isolation level repeatable read read only');
          await r.query('select pg_catalog.pg_current_snapshot()');
          return tableNames(r);
        }),
      );
      const same = seen.every((tables, i) => tables.join('\n') === locked[i]!.join('\n'));
      if (!same) {
        // A table was made or dropped between the lock and the snapshot: again.
        await Promise.all([...readers, ...lockers].map((c) => c.query('rollback').catch(() => undefined)));
        continue;
      }
      const made = await control.query<{ lsn: string }>(
        'select pg_catalog.pg_create_restore_point($1)::pg_catalog.text as lsn',
        [restorePoint],
      );
      await Promise.all(lockers.map((l) => l.query('commit')));
      return await finish(attempt, restorePoint, made.rows[0]!.lsn, takenAt, 'locks', null);
    }

    // No locks to be had: the snapshots (each as its stage's role), then the restore point (as the
    // superuser, on the maintenance database), checked against a later snapshot: the check covers
    // everything from the oldest snapshot on, so the moments between them count as around R.
    const restorePoint = `${name}.${attempts + 1}`;
    const takenAt = new Date();
    const first = await Promise.all(
      readers.map(async (r) => {
        await r.query('begin isolation level repeatable read read only');
        return (await r.query<{ s: string }>('select pg_catalog.pg_current_snapshot()::pg_catalog.text as s'))
          .rows[0]!.s;
      }),
    );
    const made = (
      await control.query<{ lsn: string }>(
        'select pg_catalog.pg_create_restore_point($1)::pg_catalog.text as lsn',
        [restorePoint],
      )
    ).rows[0]!;
    // Who is in a transaction now, after R: one idle in its transaction has not written its commit yet.
    const activity = await control.query<{ xid: string; idle: boolean }>(
      `select backend_xid::text as xid, state like 'idle in transaction%' as idle
       from pg_stat_activity where backend_xid is not null`,
    );
    const prepared = await control.query<{ n: number }>('select count(*)::int as n from pg_prepared_xacts');
    const after = (await control.query<{ s: string }>('select pg_current_snapshot()::text as s')).rows[0]!.s;
    const busy = activity.rows.filter((a) => !a.idle).map((a) => a.xid);
    // The oldest snapshot's in-flight set holds every later one's.
    const check = (
      await control.query<{ committed: number; busy: number }>(betweenSnapshotsSql, [first[0]!, after, busy])
    ).rows[0]!;
    const preparedCount = prepared.rows[0]?.n ?? 0;
    const why =
      check.committed > 0 || check.busy > 0 || preparedCount > 0
        ? `the tables could not be held still (writers kept their locks past ${lockTimeout} ms, ${attempts} times), and around the restore point ${check.committed} transaction(s) committed, ${check.busy} were busy committing or in a statement, ${preparedCount} prepared`
        : null;
    return await finish(attempts + 1, restorePoint, made.lsn, takenAt, 'snapshots', why);
  } finally {
    for (const c of [...lockers, ...readers, control]) await c.end().catch(() => undefined);
  }
}

export interface GroupFingerprints {
  /** One recording for the whole group, or one per database that could be fingerprinted alone. */
  readonly recorded: readonly RecordedFingerprints[];
  /** The databases that could not be fingerprinted, with why. */
  readonly failed: readonly { readonly database: string; readonly error: unknown }[];
}

/**
 * Fingerprints a group of databases at one restore point, or, should that
 * fail, each at a restore point of its own (`<name>-<i>`). The sessions run
 * as each stage's role, so a tenant can make its own fingerprint fail (by
 * denying its role its tables, a row policy that raises): that must cost
 * the other tenants of the group nothing.
 */
export async function recordFingerprintsApart(
  admin: pg.ClientConfig,
  databases: readonly DatabaseAccess[],
  name: string,
  options: RecordOptions = {},
): Promise<GroupFingerprints> {
  try {
    return {
      recorded: [await recordFingerprintWithRestorePoint(admin, databases, name, options)],
      failed: [],
    };
  } catch (error) {
    if (databases.length === 1)
      return { recorded: [], failed: [{ database: databases[0]!.database, error }] };
  }
  const recorded: RecordedFingerprints[] = [];
  const failed: { database: string; error: unknown }[] = [];
  for (const [i, one] of databases.entries()) {
    try {
      recorded.push(await recordFingerprintWithRestorePoint(admin, [one], `${name}-${i}`, options));
    } catch (error) {
      failed.push({ database: one.database, error });
    }
  }
  return { recorded, failed };
}
