import type { ColumnType, Generated, Kysely } from 'kysely';
import type { ControlDb, ControlTx } from '../store/db.ts';
import type { PeriodKind } from './period.ts';
import { parseRecurring, always, type ServiceTime } from './service-time.ts';
import type { PolicyVersion } from './terms.ts';

/** The tables of migration 0025; this module is their one writer. */
// A type alias, not an interface: Kysely's withTables wants an index signature.
type SlaTables = {
  sla_policies: {
    id: Generated<string>;
    tenant_slug: string;
    version: number;
    effective_from: Date | string;
    target: ColumnType<string, number, number>;
    period: string;
    time_zone: string;
    service_kind: string;
    service_window: string | null;
    exclude_outages_up_to_seconds: number;
    merge_gap_seconds: number;
    partial_weight: ColumnType<string, number, number>;
    maintenance_notice_seconds: number | null;
    maintenance_max_seconds: number | null;
    maintenance_max_count: number | null;
    unknown_counts_as_down: boolean;
    check_ids: string[] | null;
    created_by: string;
    created_at: Generated<Date>;
  };
  sla_exclusions: {
    id: Generated<string>;
    tenant_slug: string;
    starts_at: Date | string;
    ends_at: Date | string;
    reason: string;
    created_by: string;
    created_at: Generated<Date>;
  };
  sla_reports: {
    id: Generated<string>;
    tenant_slug: string;
    period: string;
    starts_at: Date | string;
    ends_at: Date | string;
    policy_versions: number[];
    figures: ColumnType<unknown, string, string>;
    inputs_sha256: string;
    frozen_at: Date | string;
    frozen_by: string;
  };
};

export interface StoredPolicy extends PolicyVersion {
  readonly checkIds: readonly string[] | null;
  readonly createdBy: string;
}

export interface StoredExclusion {
  readonly id: string;
  readonly start: number;
  readonly end: number;
  readonly reason: string;
  readonly by: string;
}

export interface FrozenReport {
  readonly period: string;
  readonly policyVersions: readonly number[];
  readonly figures: unknown;
  readonly inputsSha256: string;
  readonly frozenAt: string;
  readonly frozenBy: string;
}

const ms = (d: Date | string): number => (typeof d === 'string' ? Date.parse(d) : d.getTime());
const seconds = (n: number | null): number | null => (n === null ? null : Math.round(n / 1000));

export class SlaStore {
  readonly #db: Kysely<SlaTables>;
  readonly #control: ControlDb;

  constructor(db: ControlDb) {
    this.#control = db;
    this.#db = db.withTables<SlaTables>() as unknown as Kysely<SlaTables>;
  }

  /** Adds the next version (its number one above the latest); `alsoIn` writes its audit event in the same transaction. */
  async addPolicy(
    tenant: string,
    policy: Omit<StoredPolicy, 'version'>,
    alsoIn: (tx: ControlTx, version: number) => Promise<void>,
  ): Promise<number> {
    return this.#control.transaction().execute(async (tx) => {
      const db = tx.withTables<SlaTables>() as unknown as Kysely<SlaTables>;
      // One writer at a time per tenant: the version numbers stay gapless.
      await tx.selectFrom('tenants').select('id').where('slug', '=', tenant).forUpdate().execute();
      const last = await db
        .selectFrom('sla_policies')
        .select(({ fn }) => fn.max('version').as('v'))
        .where('tenant_slug', '=', tenant)
        .executeTakeFirst();
      const version = Number(last?.v ?? 0) + 1;
      const t = policy.serviceTime;
      await db
        .insertInto('sla_policies')
        .values({
          tenant_slug: tenant,
          version,
          effective_from: new Date(policy.effectiveFrom),
          target: policy.target,
          period: policy.period,
          time_zone: policy.timeZone,
          service_kind: t.kind,
          service_window: t.kind === 'always' ? null : t.text,
          exclude_outages_up_to_seconds: seconds(policy.excludeOutagesUpToMs) ?? 0,
          merge_gap_seconds: seconds(policy.mergeGapMs) ?? 0,
          partial_weight: policy.partialWeight,
          maintenance_notice_seconds: seconds(policy.maintenanceNoticeMs),
          maintenance_max_seconds: seconds(policy.maintenanceMaxMs),
          maintenance_max_count: policy.maintenanceMaxCount,
          unknown_counts_as_down: policy.unknownCountsAsDown,
          check_ids: policy.checkIds === null ? null : [...policy.checkIds],
          created_by: policy.createdBy,
        })
        .execute();
      await alsoIn(tx, version);
      return version;
    });
  }

  /** Every version of a tenant's policy, oldest first. */
  async policies(tenant: string): Promise<StoredPolicy[]> {
    const rows = await this.#db
      .selectFrom('sla_policies')
      .selectAll()
      .where('tenant_slug', '=', tenant)
      .orderBy('version')
      .execute();
    return rows.map((r) => {
      const window = r.service_window;
      const serviceTime: ServiceTime =
        r.service_kind === 'always' || window === null
          ? always
          : {
              kind: r.service_kind as 'inside' | 'outside',
              window: parseRecurring(window, 'serviceTime'),
              text: window,
            };
      return {
        version: r.version,
        effectiveFrom: ms(r.effective_from),
        target: Number(r.target),
        period: r.period as PeriodKind,
        timeZone: r.time_zone,
        serviceTime,
        excludeOutagesUpToMs: r.exclude_outages_up_to_seconds * 1000,
        mergeGapMs: r.merge_gap_seconds * 1000,
        partialWeight: Number(r.partial_weight),
        maintenanceNoticeMs:
          r.maintenance_notice_seconds === null ? null : r.maintenance_notice_seconds * 1000,
        maintenanceMaxMs: r.maintenance_max_seconds === null ? null : r.maintenance_max_seconds * 1000,
        maintenanceMaxCount: r.maintenance_max_count,
        unknownCountsAsDown: r.unknown_counts_as_down,
        checkIds: r.check_ids === null ? null : r.check_ids.map(String),
        createdBy: r.created_by,
      };
    });
  }

  async addExclusion(
    tenant: string,
    e: { start: Date; end: Date; reason: string; by: string },
    alsoIn: (tx: ControlTx, id: string) => Promise<void>,
  ): Promise<string> {
    return this.#control.transaction().execute(async (tx) => {
      const db = tx.withTables<SlaTables>() as unknown as Kysely<SlaTables>;
      const row = await db
        .insertInto('sla_exclusions')
        .values({
          tenant_slug: tenant,
          starts_at: e.start,
          ends_at: e.end,
          reason: e.reason,
          created_by: e.by,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await alsoIn(tx, String(row.id));
      return String(row.id);
    });
  }

  /** A tenant's exclusions overlapping [from, to), or all of them. */
  async exclusions(tenant: string, from?: Date, to?: Date): Promise<StoredExclusion[]> {
    const rows = await this.#db
      .selectFrom('sla_exclusions')
      .selectAll()
      .where('tenant_slug', '=', tenant)
      .$if(from !== undefined, (q) => q.where('ends_at', '>', from ?? new Date(0)))
      .$if(to !== undefined, (q) => q.where('starts_at', '<', to ?? new Date(0)))
      .orderBy('starts_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: String(r.id),
      start: ms(r.starts_at),
      end: ms(r.ends_at),
      reason: r.reason,
      by: r.created_by,
    }));
  }

  /** Stores a frozen period once; a second freeze of the same period keeps the first. Returns what is stored. */
  async freeze(
    tenant: string,
    report: FrozenReport & { start: Date; end: Date },
    alsoIn: (tx: ControlTx) => Promise<void>,
  ): Promise<FrozenReport> {
    await this.#control.transaction().execute(async (tx) => {
      const db = tx.withTables<SlaTables>() as unknown as Kysely<SlaTables>;
      const inserted = await db
        .insertInto('sla_reports')
        .values({
          tenant_slug: tenant,
          period: report.period,
          starts_at: report.start,
          ends_at: report.end,
          policy_versions: [...report.policyVersions],
          figures: JSON.stringify(report.figures),
          inputs_sha256: report.inputsSha256,
          frozen_at: new Date(report.frozenAt),
          frozen_by: report.frozenBy,
        })
        .onConflict((oc) => oc.columns(['tenant_slug', 'period']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (inserted) await alsoIn(tx);
    });
    const stored = await this.frozen(tenant, report.period);
    if (!stored) throw new Error(`frozen report ${tenant} ${report.period} vanished`);
    return stored;
  }

  async frozen(tenant: string, period: string): Promise<FrozenReport | undefined> {
    const r = await this.#db
      .selectFrom('sla_reports')
      .selectAll()
      .where('tenant_slug', '=', tenant)
      .where('period', '=', period)
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      period: r.period,
      policyVersions: r.policy_versions.map(Number),
      figures: r.figures,
      inputsSha256: r.inputs_sha256,
      frozenAt: new Date(r.frozen_at).toISOString(),
      frozenBy: r.frozen_by,
    };
  }
}
