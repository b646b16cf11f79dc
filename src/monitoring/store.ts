import { sql } from 'kysely';
import type { ControlDb, ControlTx } from '../store/db.ts';
import type { BuiltinCheck, CheckKind, CheckSpec } from './specs.ts';
import type { Rollup } from './rollups.ts';
import type { CheckProgress, CheckState, ProbeResult, StateChange } from './states.ts';

/**
 * The one writer of checks, check_states and check_rollups. Every check's
 * states tile its life: a check is born with an open unknown interval, each
 * change closes the open one and opens the next at the same moment.
 */
export interface StoredCheck {
  readonly id: string;
  readonly stageId: string | null;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly kind: CheckKind;
  readonly origin: 'builtin' | 'operator';
  readonly builtin: BuiltinCheck | null;
  readonly spec: CheckSpec;
  readonly intervalSeconds: number;
  readonly timeoutMs: number;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly progress: CheckProgress;
}

/** A claimed check, with when it was due. */
export type DueCheck = StoredCheck & { readonly dueAt: string };

export interface NewCheck {
  readonly stageId: string;
  readonly tenant: string;
  readonly stage: string;
  readonly kind: CheckKind;
  readonly builtin: BuiltinCheck | null;
  readonly spec: CheckSpec;
  readonly intervalSeconds: number;
  readonly timeoutMs: number;
  readonly createdBy: string;
}

/** A stage's built-in check that should exist. */
export interface WantedBuiltin {
  readonly stageId: string;
  readonly tenant: string;
  readonly stage: string;
  readonly builtin: BuiltinCheck;
  readonly kind: CheckKind;
  readonly spec: CheckSpec;
  readonly intervalSeconds: number;
  readonly timeoutMs: number;
}

const iso = (d: Date | string | null): string | null =>
  d === null ? null : typeof d === 'string' ? new Date(d).toISOString() : d.toISOString();

export class CheckStore {
  readonly #db: ControlDb;

  constructor(db: ControlDb) {
    this.#db = db;
  }

  /** Adds a check, unknown from `now` until its first probe; `alsoIn` writes in the same transaction (its audit event). */
  async add(
    check: NewCheck,
    now: Date,
    alsoIn?: (tx: ControlTx, id: string) => Promise<void>,
  ): Promise<string> {
    return this.#db.transaction().execute(async (tx) => {
      const row = await tx
        .insertInto('checks')
        .values({
          scope: 'stage',
          stage_id: check.stageId,
          tenant_slug: check.tenant,
          stage_name: check.stage,
          kind: check.kind,
          origin: check.builtin ? 'builtin' : 'operator',
          builtin: check.builtin,
          spec: JSON.stringify(check.spec),
          interval_seconds: check.intervalSeconds,
          timeout_ms: check.timeoutMs,
          created_by: check.createdBy,
          created_at: now,
          next_probe_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await tx
        .insertInto('check_states')
        .values({
          check_id: row.id,
          state: 'unknown',
          started_at: now,
          cause: JSON.stringify({ kind: 'not-probing', reason: 'not probed yet', lastProbeAt: null }),
        })
        .execute();
      await alsoIn?.(tx, row.id);
      return row.id;
    });
  }

  /**
   * Built-in checks follow their stages: the wanted ones are created, the
   * others removed (their open interval closed; history kept until retention).
   * Returns how many were added and removed.
   */
  async syncBuiltins(
    wanted: readonly WantedBuiltin[],
    now: Date,
  ): Promise<{ added: number; removed: number }> {
    const existing = await this.#db
      .selectFrom('checks')
      .select(['id', 'stage_id', 'builtin'])
      .where('origin', '=', 'builtin')
      .where('removed_at', 'is', null)
      .execute();
    const key = (stageId: string | null, builtin: string | null): string =>
      `${stageId ?? ''}/${builtin ?? ''}`;
    const have = new Set(existing.map((c) => key(c.stage_id, c.builtin)));
    const want = new Set(wanted.map((w) => key(w.stageId, w.builtin)));
    let added = 0;
    for (const w of wanted) {
      if (have.has(key(w.stageId, w.builtin))) continue;
      // Two Stewards may add the same one: the unique index keeps one, the other is not an error.
      try {
        await this.add({ ...w, createdBy: 'steward' }, now);
        added++;
      } catch (error) {
        if ((error as { code?: string }).code !== '23505') throw error;
      }
    }
    const gone = existing.filter((c) => !want.has(key(c.stage_id, c.builtin))).map((c) => c.id);
    // Operators' checks go with their stage too.
    const orphans = await this.#db
      .selectFrom('checks')
      .leftJoin('stages', 'stages.id', 'checks.stage_id')
      .leftJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select('checks.id')
      .where('checks.origin', '=', 'operator')
      .where('checks.removed_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('stages.id', 'is', null),
          eb('stages.desired', '=', 'absent'),
          eb('tenants.desired', '=', 'absent'),
        ]),
      )
      .execute();
    for (const id of [...gone, ...orphans.map((o) => o.id)]) await this.remove(id, now);
    return { added, removed: gone.length + orphans.length };
  }

  /** Stops probing a check and closes its open interval; its history stays. */
  async remove(id: string, now: Date, alsoIn?: (tx: ControlTx) => Promise<void>): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      await alsoIn?.(tx);
      await tx
        .updateTable('checks')
        .set({ removed_at: now })
        .where('id', '=', id)
        .where('removed_at', 'is', null)
        .execute();
      await tx
        .updateTable('check_states')
        .set({ ended_at: sql<Date>`greatest(started_at, ${now})` })
        .where('check_id', '=', id)
        .where('ended_at', 'is', null)
        .execute();
    });
  }

  /**
   * Claims up to `limit` due checks (not `busy`): each is due again one
   * interval from now, so a second Steward or the next pass skips it. Each
   * comes with the time it was due (how late its probe is, for metrics).
   */
  async claimDue(now: Date, limit: number, busy: readonly string[]): Promise<DueCheck[]> {
    const rows = await this.#db
      .updateTable('checks')
      .from(
        this.#db
          .selectFrom('checks')
          .select(['id', 'next_probe_at as due_at'])
          .where('removed_at', 'is', null)
          .where('enabled', '=', true)
          .where('next_probe_at', '<=', now)
          .$if(busy.length > 0, (q) => q.where('id', 'not in', busy))
          .orderBy('next_probe_at')
          .limit(limit)
          .forUpdate()
          .skipLocked()
          .as('due'),
      )
      .set({ next_probe_at: sql<Date>`${now}::timestamptz + make_interval(secs => checks.interval_seconds)` })
      .whereRef('checks.id', '=', 'due.id')
      .returning(['checks.id', 'due.due_at'])
      .execute();
    const dueAt = new Map(rows.map((r) => [r.id, iso(r.due_at) ?? '']));
    return (await this.#read(rows.map((r) => r.id))).map((c) => ({ ...c, dueAt: dueAt.get(c.id) ?? '' }));
  }

  /** The checks with these ids, with where each stands. */
  async #read(ids: readonly string[]): Promise<StoredCheck[]> {
    if (ids.length === 0) return [];
    return (await this.#select().where('checks.id', 'in', ids).execute()).map(toStoredCheck);
  }

  #select() {
    return this.#db
      .selectFrom('checks')
      .innerJoin('check_states', (j) =>
        j.onRef('check_states.check_id', '=', 'checks.id').on('check_states.ended_at', 'is', null),
      )
      .select([
        'checks.id',
        'checks.stage_id',
        'checks.tenant_slug',
        'checks.stage_name',
        'checks.kind',
        'checks.origin',
        'checks.builtin',
        'checks.spec',
        'checks.interval_seconds',
        'checks.timeout_ms',
        'checks.created_by',
        'checks.created_at',
        'checks.last_probe_at',
        'checks.recent',
        'check_states.state',
        'check_states.started_at',
      ]);
  }

  /** A tenant's checks (or every check, or one), with where each stands. */
  async list(filter: { tenant?: string; stage?: string; id?: string } = {}): Promise<StoredCheck[]> {
    const rows = await this.#select()
      .where('checks.removed_at', 'is', null)
      .$if(filter.id !== undefined, (q) => q.where('checks.id', '=', filter.id ?? ''))
      .$if(filter.tenant !== undefined, (q) => q.where('checks.tenant_slug', '=', filter.tenant ?? ''))
      .$if(filter.stage !== undefined, (q) => q.where('checks.stage_name', '=', filter.stage ?? ''))
      .orderBy('checks.tenant_slug')
      .orderBy('checks.stage_name')
      .orderBy('checks.id')
      .execute();
    return rows.map(toStoredCheck);
  }

  /**
   * Stores one probe's outcome: the state changes (each closes the open
   * interval and opens the next), the check's progress and the minute's rollup.
   */
  async record(
    checkId: string,
    progress: CheckProgress,
    changes: readonly StateChange[],
    rollup?: Rollup,
  ): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      // A check removed while its probe was in flight keeps the history it had.
      const live = await tx
        .updateTable('checks')
        .set({ last_probe_at: progress.lastProbeAt, recent: JSON.stringify(progress.recent) })
        .where('id', '=', checkId)
        .where('removed_at', 'is', null)
        .returning('id')
        .executeTakeFirst();
      if (!live) return;
      for (const change of changes) {
        await tx
          .updateTable('check_states')
          .set({ ended_at: change.at })
          .where('check_id', '=', checkId)
          .where('ended_at', 'is', null)
          .execute();
        await tx
          .insertInto('check_states')
          .values({
            check_id: checkId,
            state: change.to,
            started_at: change.at,
            cause: JSON.stringify(change.cause),
          })
          .execute();
      }
      if (rollup) {
        // A restarted Steward starts the minute's samples afresh: it never overwrites a fuller row.
        await tx
          .insertInto('check_rollups')
          .values({
            check_id: checkId,
            minute: rollup.minute,
            count: rollup.count,
            failures: rollup.failures,
            latency_p50_ms: rollup.latencyP50Ms,
            latency_p95_ms: rollup.latencyP95Ms,
            latency_max_ms: rollup.latencyMaxMs,
          })
          .onConflict((oc) =>
            oc
              .columns(['check_id', 'minute'])
              .doUpdateSet((eb) => ({
                count: eb.ref('excluded.count'),
                failures: eb.ref('excluded.failures'),
                latency_p50_ms: eb.ref('excluded.latency_p50_ms'),
                latency_p95_ms: eb.ref('excluded.latency_p95_ms'),
                latency_max_ms: eb.ref('excluded.latency_max_ms'),
              }))
              .where('check_rollups.count', '<=', (eb) => eb.ref('excluded.count')),
          )
          .execute();
      }
    });
  }

  /** Every probed check that is not unknown: at start, what a previous process left open. */
  async probedNotUnknown(): Promise<StoredCheck[]> {
    return (
      await this.#select()
        .where('checks.removed_at', 'is', null)
        .where('check_states.state', '<>', 'unknown')
        .execute()
    ).map(toStoredCheck);
  }

  /** A check's intervals, oldest first: for listings and the SLA report. */
  async states(
    checkId: string,
    from?: Date,
  ): Promise<{ state: CheckState; startedAt: string; endedAt: string | null; cause: unknown }[]> {
    const rows = await this.#db
      .selectFrom('check_states')
      .select(['state', 'started_at', 'ended_at', 'cause'])
      .where('check_id', '=', checkId)
      .$if(from !== undefined, (q) =>
        q.where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', from ?? new Date(0))])),
      )
      .orderBy('started_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      state: r.state as CheckState,
      startedAt: iso(r.started_at) ?? '',
      endedAt: iso(r.ended_at),
      cause: r.cause,
    }));
  }

  /** Retention: intervals that ended and rollups older than `before` go, then removed checks with nothing left. */
  async prune(before: Date): Promise<{ states: number; rollups: number; checks: number }> {
    const states = await this.#db
      .deleteFrom('check_states')
      .where('ended_at', '<', before)
      .executeTakeFirst();
    const rollups = await this.#db
      .deleteFrom('check_rollups')
      .where('minute', '<', before)
      .executeTakeFirst();
    const checks = await this.#db
      .deleteFrom('checks')
      .where('removed_at', '<', before)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('check_states')
              .select('check_states.id')
              .whereRef('check_states.check_id', '=', 'checks.id'),
          ),
        ),
      )
      .executeTakeFirst();
    return {
      states: Number(states.numDeletedRows),
      rollups: Number(rollups.numDeletedRows),
      checks: Number(checks.numDeletedRows),
    };
  }
}

function toStoredCheck(row: {
  id: string;
  stage_id: string | null;
  tenant_slug: string | null;
  stage_name: string | null;
  kind: string;
  origin: string;
  builtin: string | null;
  spec: unknown;
  interval_seconds: number;
  timeout_ms: number;
  created_by: string;
  created_at: Date | string;
  last_probe_at: Date | string | null;
  recent: unknown;
  state: string;
  started_at: Date | string;
}): StoredCheck {
  return {
    id: row.id,
    stageId: row.stage_id,
    tenant: row.tenant_slug,
    stage: row.stage_name,
    kind: row.kind as CheckKind,
    origin: row.origin as StoredCheck['origin'],
    builtin: row.builtin as BuiltinCheck | null,
    spec: row.spec as CheckSpec,
    intervalSeconds: row.interval_seconds,
    timeoutMs: row.timeout_ms,
    createdBy: row.created_by,
    createdAt: iso(row.created_at) ?? '',
    progress: {
      state: row.state as CheckState,
      since: iso(row.started_at) ?? '',
      lastProbeAt: iso(row.last_probe_at),
      recent: row.recent as ProbeResult[],
    },
  };
}
