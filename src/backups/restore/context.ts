import { join } from 'node:path';
import { sql } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { AuditService } from '../../audit/service.ts';
import type { Clock } from '../../core/clock.ts';
import { ConflictError } from '../../core/errors.ts';
import { withClient } from '../../databases/client.ts';
import { maintenance, stageRoleSession, type StageRoleSession } from '../../databases/privileged.ts';
import { quoteIdent } from '../../databases/sql.ts';
import { enqueue } from '../../jobs/queue.ts';
import type { StageRuntime } from '../../runtime/stage-runtime.ts';
import type { ControlDb } from '../../store/db.ts';
import { setStagePaused } from '../../tenants/stage-store.ts';
import { stageJobKind, type TenantService } from '../../tenants/service.ts';
import type { ExportService } from '../logical/service.ts';
import type { BackupService, BackupTarget, HaBackupClusters } from '../service.ts';
import { closeCopyTarget } from './copy.ts';
import { archiveUpToNow } from './wal.ts';

export interface RestoreSettings {
  /** Stage names whose restore tests are scheduled (and whose databases are fingerprinted after each backup). */
  readonly restoreTestStages: readonly string[];
  /** How often each of them gets a scheduled restore test. */
  readonly restoreTestEveryHours: number;
  /** A restore (or restore test) running longer is stopped and recorded failed. */
  readonly restoreTimeoutMinutes: number;
  /** How long a restore waits for the new stage it restores into to be ready. */
  readonly stageReadyTimeoutMinutes: number;
}

export const defaultRestoreSettings: RestoreSettings = {
  restoreTestStages: ['prod'],
  restoreTestEveryHours: 24,
  restoreTimeoutMinutes: 120,
  stageReadyTimeoutMinutes: 10,
};

export interface RestoreDeps {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly tenants: TenantService;
  readonly backups: BackupService;
  readonly exports: ExportService;
  readonly runtime: StageRuntime;
  readonly dataDir: string;
  /** A superuser URL of the shared cluster (the one Steward backs up); restores into it copy over it. */
  readonly sharedClusterUrl?: string | undefined;
  readonly settings: RestoreSettings;
  /** The ha tier's clusters, when this machine runs them (an in-place restore stops and starts their members). */
  readonly ha?: HaBackupClusters | undefined;
  /** Aborted when Steward stops: running restores and tests stop and go on at the next start. */
  readonly signal: AbortSignal;
}

/** The columns of a restore row its steps write, besides status. */
export type RestoreUpdate = Partial<{
  phase: string;
  progress: string;
  archived_wal: string;
  fingerprint: string;
  files_export_id: string | null;
  files_note: string;
  kept_files_dir: string;
}>;

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * What restores, their strategies and restore tests share: the connections
 * (a superuser on the maintenance database only, a stage's own role
 * elsewhere), the scratch dir, and the restore row's progress columns.
 */
export class RestoreContext {
  readonly deps: RestoreDeps;

  constructor(deps: RestoreDeps) {
    this.deps = deps;
  }

  get settings(): RestoreSettings {
    return this.deps.settings;
  }

  get signal(): AbortSignal {
    return this.deps.signal;
  }

  /**
   * A superuser of the cluster behind a prepared stanza (the shared cluster
   * by URL, a dedicated one or an ha cluster's leader by socket), on its
   * maintenance database with search_path pinned: never inside a stage's
   * database (../../databases/privileged.ts).
   */
  superuser(target: BackupTarget): pg.ClientConfig {
    if (target.kind !== 'shared') {
      return maintenance({ host: target.cluster.dir, port: target.cluster.port, user: 'postgres' });
    }
    if (!this.deps.sharedClusterUrl) {
      throw new ConflictError('Steward has no superuser connection to its shared cluster here');
    }
    return maintenance({ connectionString: this.deps.sharedClusterUrl });
  }

  /** A stage's own role on its database, or on another it is admitted to (a replacement). */
  async asStage(tenant: string, stage: string, database?: string): Promise<StageRoleSession> {
    const credentials = await this.deps.tenants.stageConnection(
      await this.deps.tenants.stageId(tenant, stage),
    );
    return stageRoleSession(credentials.databaseUrl, database);
  }

  scratchDir(target: BackupTarget): string {
    return join(target.stateDir, 'scratch');
  }

  /**
   * The databases to restore: the one asked for (--db-include), unless the
   * cluster runs without full_page_writes. pgBackRest restores the other
   * databases as zeroed files, and WAL replay then needs the full-page image
   * each page gets at its first change after a checkpoint: without it, a
   * change to another database after the backup stops recovery ("WAL
   * contains references to invalid pages"). Then the whole cluster comes back.
   */
  async restoredDatabases(admin: pg.ClientConfig, database: string): Promise<string[] | undefined> {
    const setting = await withClient(
      admin,
      async (c) =>
        (await c.query<{ full_page_writes: string }>('show full_page_writes')).rows[0]?.full_page_writes,
    );
    return setting === 'on' ? [database] : undefined;
  }

  /** Drops a replacement database and the access role its copy had (openCopyTarget). */
  async dropReplacement(admin: pg.ClientConfig, name: string): Promise<void> {
    await withClient(admin, async (c) => {
      await c.query(`drop database if exists ${quoteIdent(name)} with (force)`);
      await closeCopyTarget(c, name);
    });
  }

  /** Whether a stage is paused (a restore holds it). */
  async stagePaused(tenant: string, stage: string): Promise<boolean> {
    const row = await this.deps.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select('stages.paused')
      .where('tenants.slug', '=', tenant)
      .where('stages.name', '=', stage)
      .executeTakeFirst();
    return row?.paused ?? false;
  }

  /** Pausing keeps the reconciler off a stage; resuming queues it so that it converges again. */
  async pauseStage(stageId: string, paused: boolean): Promise<void> {
    await this.deps.db.transaction().execute(async (tx) => {
      await setStagePaused(tx, stageId, paused);
      if (!paused) await enqueue(tx, stageJobKind, stageId);
    });
  }

  /** The restore's target stage resumed (an in-place restore of a whole cluster paused it). */
  async resumeStage(row: { readonly tenant_slug: string; readonly target_stage: string }): Promise<void> {
    await this.pauseStage(await this.deps.tenants.stageId(row.tenant_slug, row.target_stage), false);
  }

  /** Makes WAL up to now restorable from the restore's repository, and records the segment. */
  async archive(row: { readonly id: string; readonly repo: number }, source: BackupTarget): Promise<void> {
    await this.setRestore(row.id, {
      phase: 'archiving',
      progress: `making WAL up to now restorable from repo${row.repo}`,
    });
    const walFile = await withClient(this.superuser(source), (c) =>
      archiveUpToNow(c, () => source.driver.info(), row.repo, { timeoutMs: 120_000, signal: this.signal }),
    );
    await this.setRestore(row.id, { archived_wal: walFile });
  }

  async setRestore(id: string, values: RestoreUpdate): Promise<void> {
    await this.deps.db
      .updateTable('restores')
      .set({ ...values, ...(values.progress ? { progress: values.progress.slice(0, 2000) } : {}) })
      .where('id', '=', id)
      .execute();
  }

  async addTimings(id: string, timings: Record<string, number>): Promise<void> {
    await this.deps.db
      .updateTable('restores')
      .set({ timings: sql`timings || ${JSON.stringify(timings)}::jsonb` as unknown as string })
      .where('id', '=', id)
      .execute();
  }
}
