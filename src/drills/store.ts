import { sql, type Selectable } from 'kysely';
import { ConflictError } from '../core/errors.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { DrillsTable } from '../store/schema-ha.ts';
import type { DrillKind, DrillOutcome } from './plan.ts';

/**
 * The drills table: its one writer. A drill is inserted when it starts
 * (outcome running), its phase follows each step, and its measurements are
 * written when it ends. The appliance's node-loss drill records through this
 * store too.
 */
export interface DrillView {
  readonly id: string;
  readonly kind: DrillKind;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly cluster: string;
  readonly synchronous: boolean | null;
  readonly requestedBy: string;
  readonly startedAt: string;
  readonly faultAt: string | null;
  readonly endedAt: string | null;
  readonly phase: string;
  readonly outcome: DrillOutcome;
  readonly reason: string;
  readonly writesResumeSeconds: number | null;
  readonly acknowledgedWrites: number | null;
  readonly lostCommits: number | null;
  readonly oldPrimary: string | null;
  readonly newPrimary: string | null;
  readonly rejoinSeconds: number | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface NewDrill {
  readonly kind: DrillKind;
  readonly stageId: string | null;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly cluster: string;
  readonly synchronous: boolean | null;
  readonly requestedBy: string;
  readonly startedAt: Date;
  readonly phase: string;
}

/** What a drill measured, written when it ends. */
export interface DrillResult {
  readonly outcome: Exclude<DrillOutcome, 'running'>;
  readonly reason: string;
  readonly endedAt: Date;
  readonly phase: string;
  readonly faultAt?: Date | null;
  readonly writesResumeSeconds?: number | null;
  readonly acknowledgedWrites?: number | null;
  readonly lostCommits?: number | null;
  readonly oldPrimary?: string | null;
  readonly newPrimary?: string | null;
  readonly rejoinSeconds?: number | null;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A drill still running after this long was cut short (its Steward stopped): it no longer blocks the next. */
export const drillTimeoutMs = 15 * 60_000;

export class DrillStore {
  readonly #db: ControlDb;

  constructor(db: ControlDb) {
    this.#db = db;
  }

  /**
   * Inserts a running drill; one at a time per cluster (the unique index).
   * A running one older than drillTimeoutMs is marked interrupted first.
   * `audit` records the start in the same transaction.
   */
  async start(drill: NewDrill, audit: (tx: Queryable, id: string) => Promise<void>): Promise<string> {
    return this.#db.transaction().execute(async (tx) => {
      await tx
        .updateTable('drills')
        .set({
          outcome: 'interrupted',
          reason: 'the Steward that ran it stopped before it ended',
          ended_at: drill.startedAt,
        })
        .where('cluster', '=', drill.cluster)
        .where('outcome', '=', 'running')
        .where('started_at', '<', new Date(drill.startedAt.getTime() - drillTimeoutMs))
        .execute();
      const inserted = await tx
        .insertInto('drills')
        .values({
          kind: drill.kind,
          stage_id: drill.stageId,
          tenant_slug: drill.tenant,
          stage_name: drill.stage,
          cluster: drill.cluster,
          synchronous: drill.synchronous,
          requested_by: drill.requestedBy,
          started_at: drill.startedAt,
          phase: drill.phase,
          outcome: 'running',
        })
        .onConflict((oc) => oc.column('cluster').where('outcome', '=', 'running').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) {
        const running = await tx
          .selectFrom('drills')
          .select(['id', 'started_at', 'requested_by'])
          .where('cluster', '=', drill.cluster)
          .where('outcome', '=', 'running')
          .executeTakeFirst();
        throw new ConflictError(
          `drill ${running?.id ?? '?'} of ${drill.tenant ? `${drill.tenant}/${drill.stage}` : drill.cluster} started at ${running ? iso(running.started_at) : '?'} by ${running?.requested_by ?? '?'} is still running; one drill at a time per cluster`,
        );
      }
      await audit(tx, inserted.id);
      return inserted.id;
    });
  }

  async phase(id: string, phase: string, faultAt?: Date): Promise<void> {
    await this.#db
      .updateTable('drills')
      .set({ phase, ...(faultAt ? { fault_at: faultAt } : {}) })
      .where('id', '=', id)
      .where('outcome', '=', 'running')
      .execute();
  }

  async finish(id: string, result: DrillResult, audit: (tx: Queryable) => Promise<void>): Promise<void> {
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .updateTable('drills')
        .set({
          outcome: result.outcome,
          reason: result.reason,
          ended_at: result.endedAt,
          phase: result.phase,
          ...(result.faultAt !== undefined ? { fault_at: result.faultAt } : {}),
          writes_resume_seconds: result.writesResumeSeconds ?? null,
          acknowledged_writes: result.acknowledgedWrites ?? null,
          lost_commits: result.lostCommits ?? null,
          old_primary: result.oldPrimary ?? null,
          new_primary: result.newPrimary ?? null,
          rejoin_seconds: result.rejoinSeconds ?? null,
          details: JSON.stringify(result.details ?? {}),
        })
        .where('id', '=', id)
        .execute();
      await audit(tx);
    });
  }

  /** A drill runs on this cluster now (healing leaves such a cluster alone). */
  async running(cluster: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('drills')
      .select('id')
      .where('cluster', '=', cluster)
      .where('outcome', '=', 'running')
      .where('started_at', '>', new Date(Date.now() - drillTimeoutMs))
      .executeTakeFirst();
    return row !== undefined;
  }

  async get(id: string): Promise<DrillView | undefined> {
    if (!/^\d{1,18}$/.test(id)) return undefined;
    const row = await this.#db.selectFrom('drills').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toView(row) : undefined;
  }

  /** Newest first; of one tenant, or all. */
  async list(filter: { readonly tenant?: string; readonly limit?: number } = {}): Promise<DrillView[]> {
    const rows = await this.#of(filter.tenant)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit ?? 100)
      .execute();
    return rows.map(toView);
  }

  /** One page of drills, of one tenant or all (keyset on started_at and id). */
  async page(
    filter: { readonly tenant?: string | undefined },
    page: PageRequest<'started'>,
  ): Promise<Page<DrillView>> {
    const rows = await keysetPage(this.#of(filter.tenant), { sort: 'started_at', id: 'id' }, page);
    return { ...rows, items: rows.items.map(toView) };
  }

  #of(tenant: string | undefined) {
    const query = this.#db.selectFrom('drills').selectAll();
    return tenant !== undefined ? query.where('tenant_slug', '=', tenant) : query;
  }

  /** The database's clock, for drills measured across nodes. */
  async now(): Promise<Date> {
    const { rows } = await sql<{ now: Date }>`select now() as now`.execute(this.#db);
    return new Date(rows[0]?.now ?? Date.now());
  }
}

type Row = Selectable<DrillsTable>;

const iso = (d: Date | string): string => new Date(d).toISOString();
const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

function toView(r: Row): DrillView {
  return {
    id: r.id,
    kind: r.kind as DrillKind,
    tenant: r.tenant_slug,
    stage: r.stage_name,
    cluster: r.cluster,
    synchronous: r.synchronous,
    requestedBy: r.requested_by,
    startedAt: iso(r.started_at),
    faultAt: r.fault_at === null ? null : iso(r.fault_at),
    endedAt: r.ended_at === null ? null : iso(r.ended_at),
    phase: r.phase,
    outcome: r.outcome as DrillOutcome,
    reason: r.reason,
    writesResumeSeconds: num(r.writes_resume_seconds),
    acknowledgedWrites: num(r.acknowledged_writes),
    lostCommits: num(r.lost_commits),
    oldPrimary: r.old_primary,
    newPrimary: r.new_primary,
    rejoinSeconds: num(r.rejoin_seconds),
    details: (r.details ?? {}) as Record<string, unknown>,
  };
}
