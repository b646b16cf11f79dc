import { sql } from 'kysely';
import type { ControlDb } from '../store/db.ts';
import type { CheckState } from '../monitoring/index.ts';
import type { MaintenanceWindow, StateInterval } from './account.ts';

/**
 * Reads the evidence an SLA report stands on: the evaluated checks' state
 * intervals (check_states, written by src/monitoring/store.ts), the tenant's
 * maintenance windows (src/alerts/store.ts) and the alerts about those
 * checks. Read only: each table keeps its one writer.
 */
export interface EvaluatedCheck {
  readonly id: string;
  readonly stage: string | null;
  readonly kind: string;
  readonly builtin: string | null;
  readonly spec: unknown;
  readonly createdAt: string;
  readonly removedAt: string | null;
}

export interface StoredState extends StateInterval {
  readonly cause: unknown;
}

export interface AlertEvidence {
  readonly id: string;
  readonly checkId: string | null;
  readonly severity: string;
  readonly status: string;
  readonly summary: string;
  readonly startedAt: string;
  readonly firedAt: string | null;
  readonly acknowledgedBy: string | null;
  readonly resolvedAt: string | null;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());
const ms = (d: Date | string): number => new Date(d).getTime();

export class SlaEvidence {
  readonly #db: ControlDb;

  constructor(db: ControlDb) {
    this.#db = db;
  }

  /** The checks that define availability: the given ids of this tenant, or the prod stage's built-in gateway check(s), removed ones included. */
  async checks(tenant: string, ids: readonly string[] | null): Promise<EvaluatedCheck[]> {
    const rows = await this.#db
      .selectFrom('checks')
      .select(['id', 'stage_name', 'kind', 'builtin', 'spec', 'created_at', 'removed_at'])
      .where('tenant_slug', '=', tenant)
      .$if(ids === null, (q) => q.where('stage_name', '=', 'prod').where('builtin', '=', 'gateway'))
      .$if(ids !== null, (q) => q.where('id', 'in', ids && ids.length > 0 ? [...ids] : ['0']))
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: String(r.id),
      stage: r.stage_name,
      kind: r.kind,
      builtin: r.builtin,
      spec: r.spec,
      createdAt: iso(r.created_at) ?? '',
      removedAt: iso(r.removed_at),
    }));
  }

  /** Intervals of the checks overlapping [from, to); open ones end at `to` (the window is never later than now). */
  async states(checkIds: readonly string[], from: number, to: number): Promise<StoredState[]> {
    if (checkIds.length === 0) return [];
    const rows = await this.#db
      .selectFrom('check_states')
      .select(['id', 'check_id', 'state', 'started_at', 'ended_at', 'cause'])
      .where('check_id', 'in', [...checkIds])
      .where('started_at', '<', new Date(to))
      .where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', new Date(from))]))
      .orderBy('started_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: String(r.id),
      checkId: String(r.check_id),
      state: r.state as CheckState,
      start: ms(r.started_at),
      end: r.ended_at === null ? to : Math.min(ms(r.ended_at), to),
      cause: r.cause,
    }));
  }

  /**
   * The tenant's maintenance windows for the evaluated stages (or the whole
   * tenant) overlapping [from, to). Announced when it was planned
   * (created_at): the row is what customers were told.
   */
  async maintenance(
    tenant: string,
    stages: readonly string[],
    from: number,
    to: number,
  ): Promise<MaintenanceWindow[]> {
    const rows = await this.#db
      .selectFrom('maintenance_windows')
      .select(['id', 'starts_at', 'ends_at', 'created_at', 'reason'])
      .where('tenant_slug', '=', tenant)
      .where((eb) =>
        eb.or([eb('stage_name', 'is', null), eb('stage_name', 'in', stages.length > 0 ? [...stages] : [''])]),
      )
      .where('ends_at', '>', new Date(from))
      .where('starts_at', '<', new Date(to))
      .orderBy('starts_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: String(r.id),
      start: ms(r.starts_at),
      end: ms(r.ends_at),
      announcedAt: ms(r.created_at),
      reason: r.reason,
    }));
  }

  /** Alerts about the checks that were open at some time in [from, to). */
  async alerts(checkIds: readonly string[], from: number, to: number): Promise<AlertEvidence[]> {
    if (checkIds.length === 0) return [];
    const rows = await this.#db
      .selectFrom('alerts')
      .select([
        'id',
        'check_id',
        'severity',
        'status',
        'summary',
        'started_at',
        'fired_at',
        'acknowledged_by',
        'resolved_at',
      ])
      .where('check_id', 'in', [...checkIds])
      .where('started_at', '<', new Date(to))
      .where((eb) => eb.or([eb('resolved_at', 'is', null), eb('resolved_at', '>', new Date(from))]))
      .orderBy('started_at')
      .execute();
    return rows.map((r) => ({
      id: String(r.id),
      checkId: r.check_id === null ? null : String(r.check_id),
      severity: r.severity,
      status: r.status,
      summary: r.summary,
      startedAt: iso(r.started_at) ?? '',
      firedAt: iso(r.fired_at),
      acknowledgedBy: r.acknowledged_by,
      resolvedAt: iso(r.resolved_at),
    }));
  }

  /** Self-healing attempts (issue 10), where that table exists in this version of the schema. */
  async healAttempts(tenant: string, from: number, to: number): Promise<Record<string, unknown>[]> {
    const exists = await sql<{ t: string | null }>`select to_regclass('heal_attempts')::text as t`.execute(
      this.#db,
    );
    if (!exists.rows[0]?.t) return [];
    const rows = await sql<Record<string, unknown>>`
      select * from heal_attempts
       where tenant_slug = ${tenant} and started_at < ${new Date(to)} and started_at >= ${new Date(from)}
       order by started_at`
      .execute(this.#db)
      .catch(() => ({ rows: [] as Record<string, unknown>[] }));
    return rows.rows;
  }
}
