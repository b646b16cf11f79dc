import { sql } from 'kysely';
import { jobLockClassId } from '../jobs/queue.ts';
import type { CheckKind, CheckState } from '../monitoring/index.ts';
import type { Queryable } from '../store/db.ts';

/**
 * What the control DB says about Steward's own work, read at scrape time and
 * by the watchdog: two queries whatever the number of stages (read only; the
 * tables' owners write them).
 */
export interface JobKindBacklog {
  readonly kind: string;
  /** Held by a worker now (its advisory lock is taken). */
  readonly running: number;
  /** Due, and no worker has it. */
  readonly waiting: number;
  /** Due later (retries, schedules). */
  readonly scheduled: number;
  /** How long the longest-waiting one has been due; null when none waits. */
  readonly oldestWaitingSeconds: number | null;
}

/** Open alerts (not resolved) of one severity and status, muted or not. */
export interface OpenAlerts {
  readonly severity: string;
  readonly status: string;
  readonly muted: boolean;
  readonly count: number;
}

export interface Backlog {
  readonly jobs: readonly JobKindBacklog[];
  readonly alerts: readonly OpenAlerts[];
  readonly outbox: {
    readonly pending: number;
    /** Pending and due for an attempt now. */
    readonly due: number;
    /** Age of the oldest pending notification; null when none is pending. */
    readonly oldestPendingSeconds: number | null;
  };
  readonly checks: {
    readonly enabled: number;
    /** Due now or earlier and not yet probed. */
    readonly due: number;
    /** How long ago the most overdue check was due (0 when none is). */
    readonly mostOverdueSeconds: number;
  };
}

export interface CheckStateRow {
  readonly checkId: string;
  readonly tenant: string;
  readonly stage: string;
  readonly kind: CheckKind;
  /** The built-in check's name, or null for an operator's. */
  readonly builtin: string | null;
  readonly state: CheckState;
}

interface SummaryRow {
  part: 'jobs' | 'outbox' | 'checks' | 'alerts';
  label: string;
  a: string;
  b: string;
  c: string;
  age: number | null;
}

/**
 * One statement: jobs by kind (running ones are those whose advisory lock is
 * held), the pending outbox, how far checks are behind, and open alerts. Jobs are timed by
 * the database's clock (the queue writes run_at with now()); the outbox and
 * checks by Steward's (`now`), which wrote theirs.
 */
export async function readBacklog(db: Queryable, now: Date): Promise<Backlog> {
  const { rows } = await sql<SummaryRow>`
    with running as (
      select l.objid::text::bigint as id
        from pg_catalog.pg_locks l
       where l.locktype = 'advisory' and l.granted and l.objsubid = 1 and l.classid = ${jobLockClassId}::oid
         and l.database = (select d.oid from pg_catalog.pg_database d where d.datname = pg_catalog.current_database())
    ), queued as (
      select j.kind, j.run_at, r.id is not null as running, j.run_at <= now() as due
        from jobs j left join running r on r.id = j.id
    )
    select 'jobs' as part, kind as label,
           count(*) filter (where running) as a,
           count(*) filter (where due and not running) as b,
           count(*) filter (where not due and not running) as c,
           extract(epoch from now() - min(run_at) filter (where due and not running))::float8 as age
      from queued group by kind
    union all
    select 'outbox', '', count(*), count(*) filter (where next_attempt_at <= ${now}), 0,
           extract(epoch from ${now}::timestamptz - min(created_at))::float8
      from notification_outbox where status = 'pending'
    union all
    select 'checks', '', count(*), count(*) filter (where next_probe_at <= ${now}), 0,
           greatest(0, extract(epoch from ${now}::timestamptz - min(next_probe_at)))::float8
      from checks where removed_at is null and enabled
    union all
    select 'alerts', severity || '/' || status, count(*), (muted_by is not null)::int, 0, null::float8
      from alerts where status <> 'resolved' group by severity, status, muted_by is not null`.execute(db);
  const jobs: JobKindBacklog[] = [];
  const alerts: OpenAlerts[] = [];
  let outbox: Backlog['outbox'] = { pending: 0, due: 0, oldestPendingSeconds: null };
  let checks: Backlog['checks'] = { enabled: 0, due: 0, mostOverdueSeconds: 0 };
  for (const row of rows) {
    const age = row.age === null ? null : Math.max(0, row.age);
    if (row.part === 'jobs') {
      jobs.push({
        kind: row.label,
        running: Number(row.a),
        waiting: Number(row.b),
        scheduled: Number(row.c),
        oldestWaitingSeconds: age,
      });
    } else if (row.part === 'alerts') {
      const [severity = '', status = ''] = row.label.split('/');
      alerts.push({ severity, status, muted: Number(row.b) === 1, count: Number(row.a) });
    } else if (row.part === 'outbox') {
      outbox = { pending: Number(row.a), due: Number(row.b), oldestPendingSeconds: age };
    } else {
      checks = { enabled: Number(row.a), due: Number(row.b), mostOverdueSeconds: age ?? 0 };
    }
  }
  return { jobs, alerts, outbox, checks };
}

/** Where every check stands now (one row per check of a stage). */
export async function readCheckStates(db: Queryable): Promise<CheckStateRow[]> {
  const rows = await db
    .selectFrom('checks')
    .innerJoin('check_states', (j) =>
      j.onRef('check_states.check_id', '=', 'checks.id').on('check_states.ended_at', 'is', null),
    )
    .select([
      'checks.id',
      'checks.tenant_slug',
      'checks.stage_name',
      'checks.kind',
      'checks.builtin',
      'check_states.state',
    ])
    .where('checks.removed_at', 'is', null)
    .where('checks.tenant_slug', 'is not', null)
    .execute();
  return rows.map((r) => ({
    checkId: r.id,
    tenant: r.tenant_slug ?? '',
    stage: r.stage_name ?? '',
    kind: r.kind as CheckKind,
    builtin: r.builtin,
    state: r.state as CheckState,
  }));
}
