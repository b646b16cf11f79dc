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

export interface IncidentEvidence {
  readonly id: string;
  readonly stage: string | null;
  readonly severity: number;
  readonly title: string;
  readonly status: string;
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  /** Alerts linked to it (incident_alerts). */
  readonly alertIds: readonly string[];
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
   * tenant) overlapping [from, to), as src/maintenance/store.ts keeps them:
   * announced when the announcement to the contacts was enqueued
   * (announced_at); cancelled ones are empty and left out.
   */
  async maintenance(
    tenant: string,
    stages: readonly string[],
    from: number,
    to: number,
  ): Promise<MaintenanceWindow[]> {
    const rows = await this.#db
      .selectFrom('maintenance_windows')
      .select(['id', 'starts_at', 'ends_at', 'announced_at', 'reason'])
      .where('tenant_slug', '=', tenant)
      .where((eb) =>
        eb.or([eb('stage_name', 'is', null), eb('stage_name', 'in', stages.length > 0 ? [...stages] : [''])]),
      )
      .where('ends_at', '>', new Date(from))
      .where('starts_at', '<', new Date(to))
      .where('cancelled_at', 'is', null)
      .whereRef('ends_at', '>', 'starts_at')
      .orderBy('starts_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: String(r.id),
      start: ms(r.starts_at),
      end: ms(r.ends_at),
      announcedAt: r.announced_at === null ? null : ms(r.announced_at),
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

  /**
   * The tenant's incidents open at some time in [from, to), or linked to one
   * of the alerts (however much later opened), with their linked alerts
   * (src/incidents/store.ts).
   */
  async incidents(
    tenant: string,
    from: number,
    to: number,
    alertIds: readonly string[],
  ): Promise<IncidentEvidence[]> {
    const rows = await this.#db
      .selectFrom('incidents')
      .leftJoin('incident_alerts', 'incident_alerts.incident_id', 'incidents.id')
      .select([
        'incidents.id',
        'incidents.stage_name',
        'incidents.severity',
        'incidents.title',
        'incidents.status',
        'incidents.opened_at',
        'incidents.resolved_at',
        'incident_alerts.alert_id',
      ])
      .where('incidents.tenant_slug', '=', tenant)
      .where((eb) =>
        eb.or([
          eb.and([
            eb('incidents.opened_at', '<', new Date(to)),
            eb.or([
              eb('incidents.resolved_at', 'is', null),
              eb('incidents.resolved_at', '>', new Date(from)),
            ]),
          ]),
          eb(
            'incidents.id',
            'in',
            eb
              .selectFrom('incident_alerts')
              .select('incident_id')
              .where('alert_id', 'in', alertIds.length > 0 ? [...alertIds] : ['0']),
          ),
        ]),
      )
      .orderBy('incidents.id')
      .execute();
    const byId = new Map<string, IncidentEvidence & { alertIds: string[] }>();
    for (const r of rows) {
      const id = String(r.id);
      let found = byId.get(id);
      if (!found) {
        found = {
          id,
          stage: r.stage_name,
          severity: Number(r.severity),
          title: r.title,
          status: r.status,
          openedAt: iso(r.opened_at) ?? '',
          resolvedAt: iso(r.resolved_at),
          alertIds: [],
        };
        byId.set(id, found);
      }
      if (r.alert_id !== null) found.alertIds.push(String(r.alert_id));
    }
    return [...byId.values()];
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
