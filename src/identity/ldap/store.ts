import { sql, type Selectable } from 'kysely';
import type { ControlDb, Queryable } from '../../store/db.ts';
import type { LdapDirectoriesTable, LdapSyncRunsTable } from '../../store/schema-identity.ts';
import { findTenantId } from '../tenant-id.ts';
import type { PlanProblem, SyncCounts } from './plan.ts';
import {
  attributeFields,
  ldapPresets,
  type AttributeMap,
  type LdapPreset,
  type LdapSettings,
} from './settings.ts';

/** The one writer of ldap_directories and ldap_sync_runs. */

export const syncTriggers = ['schedule', 'request'] as const;
export type SyncTrigger = (typeof syncTriggers)[number];
export const runStatuses = ['running', 'succeeded', 'partial', 'failed'] as const;
export type RunStatus = (typeof runStatuses)[number];

/** Problems kept per run: the rest are counted. */
const maxProblems = 100;

export interface StoredDirectory {
  readonly tenantId: string;
  readonly tenant: string;
  readonly settings: LdapSettings;
  readonly syncRequestedAt: Date | null;
  readonly syncRequestedBy: string | null;
  readonly updatedBy: string;
  readonly updatedAt: Date;
}

export interface SyncRunView {
  readonly id: string;
  readonly trigger: SyncTrigger;
  readonly requestedBy: string;
  readonly status: RunStatus;
  readonly progress: string | null;
  readonly entries: number;
  readonly groups: number;
  readonly counts: Partial<SyncCounts> & { readonly skipped?: number; readonly problems?: number };
  readonly problems: readonly PlanProblem[];
  readonly reason: string | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface RunOutcome {
  readonly status: Exclude<RunStatus, 'running'>;
  readonly entries: number;
  readonly groups: number;
  readonly counts: SyncRunView['counts'];
  readonly problems: readonly PlanProblem[];
  readonly reason: string | null;
}

function settingsOf(row: Selectable<LdapDirectoriesTable>): LdapSettings {
  const stored = row.attributes as Partial<Record<keyof AttributeMap, string | null>>;
  const attributes = Object.fromEntries(
    attributeFields.map((f) => [f, stored[f] ?? null]),
  ) as unknown as AttributeMap;
  return {
    url: row.url,
    caPem: row.ca_pem,
    bindDn: row.bind_dn,
    baseDn: row.base_dn,
    userFilter: row.user_filter,
    preset: (ldapPresets as readonly string[]).includes(row.preset) ? (row.preset as LdapPreset) : 'openldap',
    attributes,
    groupBaseDn: row.group_base_dn,
    groupFilter: row.group_filter,
    memberAttribute: row.member_attribute,
    everySeconds: row.every_seconds,
  };
}

function runOf(row: Selectable<LdapSyncRunsTable>): SyncRunView {
  return {
    id: row.id,
    trigger: row.trigger as SyncTrigger,
    requestedBy: row.requested_by,
    status: row.status as RunStatus,
    progress: row.progress,
    entries: row.entries,
    groups: row.groups,
    counts: row.counts as SyncRunView['counts'],
    problems: row.problems as PlanProblem[],
    reason: row.reason,
    startedAt: new Date(row.started_at).toISOString(),
    finishedAt: row.finished_at ? new Date(row.finished_at).toISOString() : null,
  };
}

export class LdapStore {
  readonly #db: ControlDb;

  constructor(db: ControlDb) {
    this.#db = db;
  }

  /** The present tenant's id, or undefined. */
  async tenantId(slug: string, tx: Queryable = this.#db): Promise<string | undefined> {
    return findTenantId(tx, slug);
  }

  async get(tenantId: string, tx: Queryable = this.#db): Promise<StoredDirectory | undefined> {
    const row = await tx
      .selectFrom('ldap_directories')
      .innerJoin('tenants', 'tenants.id', 'ldap_directories.tenant_id')
      .selectAll('ldap_directories')
      .select('tenants.slug')
      .where('ldap_directories.tenant_id', '=', tenantId)
      // A tenant being deleted syncs no more.
      .where('tenants.desired', '=', 'present')
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      tenantId: row.tenant_id,
      tenant: row.slug,
      settings: settingsOf(row),
      syncRequestedAt: row.sync_requested_at ? new Date(row.sync_requested_at) : null,
      syncRequestedBy: row.sync_requested_by,
      updatedBy: row.updated_by,
      updatedAt: new Date(row.updated_at),
    };
  }

  async tenantsWithDirectory(): Promise<string[]> {
    const rows = await this.#db.selectFrom('ldap_directories').select('tenant_id').execute();
    return rows.map((r) => r.tenant_id);
  }

  async put(tx: Queryable, tenantId: string, s: LdapSettings, actor: string): Promise<void> {
    const values = {
      url: s.url,
      ca_pem: s.caPem,
      bind_dn: s.bindDn,
      base_dn: s.baseDn,
      user_filter: s.userFilter,
      preset: s.preset,
      attributes: JSON.stringify(s.attributes),
      group_base_dn: s.groupBaseDn,
      group_filter: s.groupFilter,
      member_attribute: s.memberAttribute,
      every_seconds: s.everySeconds,
      updated_by: actor,
    };
    await tx
      .insertInto('ldap_directories')
      .values({ tenant_id: tenantId, ...values })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ ...values, updated_at: sql<Date>`now()` }))
      .execute();
  }

  async remove(tx: Queryable, tenantId: string): Promise<boolean> {
    const result = await tx
      .deleteFrom('ldap_directories')
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async requestSync(tx: Queryable, tenantId: string, at: Date, by: string): Promise<void> {
    await tx
      .updateTable('ldap_directories')
      .set({ sync_requested_at: at, sync_requested_by: by })
      .where('tenant_id', '=', tenantId)
      .execute();
  }

  /** The newest run's start, or undefined when none ran. */
  async lastStart(tenantId: string): Promise<Date | undefined> {
    const row = await this.#db
      .selectFrom('ldap_sync_runs')
      .select('started_at')
      .where('tenant_id', '=', tenantId)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? new Date(row.started_at) : undefined;
  }

  /**
   * Opens a run. A run still `running` is one whose process died (the job
   * queue runs one sync per tenant at a time): it is closed as failed first.
   */
  async startRun(tenantId: string, trigger: SyncTrigger, requestedBy: string, at: Date): Promise<string> {
    return this.#db.transaction().execute(async (tx) => {
      await tx
        .updateTable('ldap_sync_runs')
        .set({
          status: 'failed',
          reason: 'interrupted: Steward stopped during the run; the next run picks up where it left off',
          finished_at: at,
          progress: null,
        })
        .where('tenant_id', '=', tenantId)
        .where('status', '=', 'running')
        .execute();
      const row = await tx
        .insertInto('ldap_sync_runs')
        .values({
          tenant_id: tenantId,
          trigger,
          requested_by: requestedBy,
          status: 'running',
          started_at: at,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    });
  }

  async progress(runId: string, text: string): Promise<void> {
    await this.#db
      .updateTable('ldap_sync_runs')
      .set({ progress: text })
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .execute();
  }

  async finishRun(tx: Queryable, runId: string, outcome: RunOutcome, at: Date): Promise<void> {
    await tx
      .updateTable('ldap_sync_runs')
      .set({
        status: outcome.status,
        progress: null,
        entries: outcome.entries,
        groups: outcome.groups,
        counts: JSON.stringify({ ...outcome.counts, problems: outcome.problems.length }),
        problems: JSON.stringify(outcome.problems.slice(0, maxProblems)),
        reason: outcome.reason,
        finished_at: at,
      })
      .where('id', '=', runId)
      .execute();
  }

  async run(runId: string, tenantId?: string): Promise<SyncRunView | undefined> {
    let query = this.#db.selectFrom('ldap_sync_runs').selectAll().where('id', '=', runId);
    if (tenantId !== undefined) query = query.where('tenant_id', '=', tenantId);
    const row = await query.executeTakeFirst();
    return row ? runOf(row) : undefined;
  }

  async runs(tenantId: string, limit: number): Promise<SyncRunView[]> {
    const rows = await this.#db
      .selectFrom('ldap_sync_runs')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(runOf);
  }
}
