import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sql, type Selectable } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import {
  ConflictError,
  InputError,
  InternalError,
  NotFoundError,
  isStewardError,
  showValue,
} from '../core/errors.ts';
import { stageNameProblem } from '../core/names.ts';
import { actorName, systemPrincipal, type Principal } from '../core/policy.ts';
import { quoteIdent } from '../databases/sql.ts';
import { enqueue } from '../jobs/queue.ts';
import type { JobHandler } from '../jobs/runner.ts';
import type { StageRuntime } from '../runtime/stage-runtime.ts';
import { activeRelease } from '../runtime/deployments.ts';
import { postgresRunAs } from '../system/exec.ts';
import { chownTree, removeTree } from '../system/safe-fs.ts';
import { startCluster, stopCluster } from '../databases/local-cluster.ts';
import { stageDatabaseNameAt } from '../tenants/rename-plan.ts';
import { stageJobKind } from '../tenants/service.ts';
import { runInGroup } from './pgbackrest/process.ts';
import { findPgBackRest } from './pgbackrest/setup.ts';
import type { ControlDb } from '../store/db.ts';
import type { RestoresTable, RestoreTestsTable } from '../store/schema.ts';
import type { TenantService } from '../tenants/service.ts';
import {
  compareFingerprints,
  recordFingerprintsApart,
  recordFingerprintWithRestorePoint,
  takeFingerprint,
  type DatabaseAccess,
  type Fingerprint,
  type TableFingerprint,
} from './fingerprint.ts';
import type { ExportService } from './logical/service.ts';
import type { BackupInfo } from './pgbackrest/info.ts';
import { openScratchForApp, scratchStageConnection } from './restore/app-access.ts';
import {
  closeCopyTarget,
  copyDatabase,
  keptDatabaseName,
  openCopyTarget,
  swapDatabases,
  swapState,
} from './restore/copy.ts';
import {
  backupForTarget,
  checkRestoreTarget,
  isoSeconds,
  restorableRanges,
  type RestorableRange,
} from './restore/range.ts';
import { cleanScratch, restoreIntoScratch, targetOptions, type ScratchInstance } from './restore/scratch.ts';
import { archiveUpToNow, waitForArchivedWal } from './restore/wal.ts';
import {
  batches,
  chooseTestBackup,
  describeMismatches,
  dueRestoreTests,
  fingerprintBatch,
  fingerprintRestorePoint,
  lastOutputLines,
  nextRestoreTestDue,
  parseRestoreTime,
  replacementDatabaseName,
  restorePhases,
  tableChecks,
  type RestoreMode,
  type RestorePhase,
  type RestoreStatus,
  type RestoreTestPhase,
  type RestoreTestTrigger,
  type ScheduledStage,
  type TableCheck,
  repoForScheduledTest,
} from './restore-plan.ts';
import type { BackupRun } from './runs.ts';
import type { BackupService, BackupTarget } from './service.ts';
import { backupsRoot } from './stanzas.ts';
import { withClient } from '../databases/client.ts';
import { maintenance, stageRoleSession, type StageRoleSession } from '../databases/privileged.ts';
import { setStagePaused } from '../tenants/stage-store.ts';

export const restoreJobKind = 'restore';
export const restoreTestJobKind = 'restore-test';
export const restoreTestScheduleJobKind = 'restore-test-schedule';
const scheduleKey = 'all';

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

export interface RestoreServiceOptions {
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
  readonly settings?: Partial<RestoreSettings>;
}

export interface RestoreRequest {
  /** The point in time, with a UTC offset (`2026-11-23 10:15:00+01`). */
  readonly toTime: unknown;
  /** A new stage of the same tenant to restore into. */
  readonly into?: string | undefined;
  /** Restore onto the stage itself; needs `confirm` equal to the stage's name. */
  readonly inPlace?: boolean | undefined;
  readonly confirm?: string | undefined;
}

export interface RestoreView {
  readonly id: string;
  readonly tenant: string;
  readonly sourceStage: string;
  readonly targetStage: string;
  readonly mode: RestoreMode;
  readonly toTime: string;
  readonly cluster: string;
  readonly repo: number;
  readonly backupLabel: string;
  readonly status: RestoreStatus;
  readonly phase: RestorePhase;
  readonly progress: string;
  /** In place: the old database, kept until `restore discard`; null once discarded. */
  readonly keptDatabase: string | null;
  readonly keptFilesDir: string | null;
  readonly discardedAt: string | null;
  readonly discardedBy: string | null;
  readonly files: {
    /** The export the files came from, when they were restored. */
    readonly exportId: string | null;
    readonly restored: boolean;
    /** What was restored, or why the files were not. */
    readonly note: string | null;
  };
  readonly error: string | null;
  readonly timings: Readonly<Record<string, number>>;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

export interface AppVerification {
  readonly command: string;
  readonly release: string;
  readonly exitCode: number;
  /** The last lines the command printed. */
  readonly output: string;
}

export interface RestoreTestVerification {
  readonly fingerprint: {
    readonly ok: boolean;
    /** Whether the fingerprint recorded at backup time was exact (see recordFingerprintWithRestorePoint). */
    readonly exact: boolean;
    readonly why: string | null;
    /** Taken by this test (no backup had one of this stage's database) rather than at backup time. */
    readonly takenByTest: boolean;
    readonly tables: readonly TableCheck[];
  } | null;
  /** The app's own verify command; null when its release defines none (or no release runs). */
  readonly app: AppVerification | null;
}

export interface RestoreTestView {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string;
  readonly cluster: string;
  readonly trigger: RestoreTestTrigger;
  readonly status: RestoreStatus;
  readonly phase: RestoreTestPhase;
  readonly repo: number | null;
  readonly backupLabel: string | null;
  readonly backupStoppedAt: string | null;
  readonly restorePoint: string | null;
  /** Age of the backup when the test ran: the RPO at that moment. */
  readonly rpoSeconds: number | null;
  /** From the start of the restore until it was verified: the measured RTO. */
  readonly rtoMs: number | null;
  readonly verification: RestoreTestVerification | null;
  readonly error: string | null;
  readonly createdBy: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface SchedulePassResult {
  readonly started: readonly RestoreTestView[];
  /** When the next scheduled restore test falls due; null when no stage has them. */
  readonly nextDue: Date | null;
}

type RestoreRow = Selectable<RestoresTable>;
/** A stage as a restore sees it; its former name serves restores from before its rename to an opaque one. */
interface StageRow {
  readonly id: string;
  readonly tier: string;
  readonly database: string;
  readonly name: string;
  readonly previousName: string | null;
  readonly renamedAt: Date | null;
}
type RestoreTestRow = Selectable<RestoreTestsTable>;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const hour = 3_600_000;

/** The phases before the swap are redone from the start after a crash: their scratch went with Steward. */
const redoFromArchiving: readonly RestorePhase[] = [
  'archiving',
  'restoring',
  'copying',
  'verifying',
  'files',
];

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Point-in-time restores of one stage and restore tests (issue 5), over the
 * backup service's prepared clusters and the restore library (./restore).
 *
 * A restore of a shared-tier stage restores the stage's database alone
 * (--db-include) into a scratch instance next to the cluster, copies it into
 * a replacement database in the target's cluster as the target's role,
 * checks the copy's fingerprint against the scratch's, and swaps it in: into
 * a new stage (its empty database goes), or in place (the old database is
 * kept under `<name>_pre_<time>` until `restore discard`). The stage's files
 * come from the newest export made at or before the target time, when
 * Steward can open it (a passphrase export key).
 *
 * A dedicated stage restored in place gets its own cluster back by a delta
 * restore. Restored into a new stage (which has a cluster of its own, as the
 * tenant is dedicated), it goes the shared way: its whole cluster comes back
 * into a scratch instance from its own stanza, and the database is copied
 * into the new stage's cluster.
 *
 * A restore test restores the newest backup that has a fingerprint of the
 * stage's database, to the restore point the fingerprint was taken at, into a
 * scratch instance; compares per-table fingerprints; runs the app's own
 * verify command against it when the stage's release has one; tears it down;
 * and records the evidence (RPO, RTO, verification). Fingerprints are taken
 * after each good backup (onBackupSucceeded), for the databases of the stages
 * whose restore tests are scheduled (prod by default): locking and reading
 * every table of every stage after every backup would cost every tenant
 * twice the I/O of its backups. A restore test of another stage takes a
 * fingerprint of its own at a new restore point after the newest backup.
 *
 * Both run as jobs. A kill -9 mid-way converges on the next start: the job
 * runs again, cleanScratch removes the dead scratch, everything before the
 * swap is redone, and a swap that had begun is finished (swapDatabases is
 * idempotent; a restore only reaches its swap once the copy is verified).
 */
export class RestoreService {
  readonly #o: RestoreServiceOptions;
  readonly #settings: RestoreSettings;
  readonly #abort = new AbortController();

  constructor(options: RestoreServiceOptions) {
    this.#o = options;
    this.#settings = { ...defaultRestoreSettings, ...options.settings };
  }

  get settings(): RestoreSettings {
    return this.#settings;
  }

  /** Removes scratch instances left by a Steward that died, and queues the restore-test schedule. */
  async start(): Promise<void> {
    const state = join(backupsRoot(this.#o.dataDir), 'state');
    for (const stanza of await readdir(state).catch(() => [] as string[])) {
      const removed = await cleanScratch(join(state, stanza, 'scratch'), {
        user: postgresRunAs(),
      }).catch((error: unknown) => {
        this.#o.logger.warn({ cluster: stanza, err: message(error) }, 'scratch clean-up failed');
        return [];
      });
      if (removed.length > 0)
        this.#o.logger.info({ cluster: stanza, removed }, 'left-over scratch instances removed');
    }
    await this.#o.db.transaction().execute((tx) => enqueue(tx, restoreTestScheduleJobKind, scheduleKey));
  }

  /** Running restores and tests stop (they go on at the next start). */
  stop(): void {
    this.#abort.abort();
  }

  // --- connections ----------------------------------------------------------------------------

  /**
   * A superuser of the cluster behind a prepared stanza (the shared cluster
   * by URL, a dedicated one by socket), on its maintenance database with
   * search_path pinned: never inside a stage's database (../databases/privileged.ts).
   */
  #superuser(target: BackupTarget): pg.ClientConfig {
    if (target.kind === 'dedicated') {
      return maintenance({ host: target.cluster.dir, port: target.cluster.port, user: 'postgres' });
    }
    if (!this.#o.sharedClusterUrl) {
      throw new ConflictError('Steward has no superuser connection to its shared cluster here');
    }
    return maintenance({ connectionString: this.#o.sharedClusterUrl });
  }

  /** A stage's own role on its database, or on another it is admitted to (a replacement). */
  async #asStage(tenant: string, stage: string, database?: string): Promise<StageRoleSession> {
    const credentials = await this.#o.tenants.stageConnection(await this.#o.tenants.stageId(tenant, stage));
    return stageRoleSession(credentials.databaseUrl, database);
  }

  /** A stage's role, which in a scratch restored from its cluster has the same name. */
  async #stageRole(tenant: string, stage: string): Promise<string> {
    return (await this.#asStage(tenant, stage)).user;
  }

  #scratchDir(target: BackupTarget): string {
    return join(target.stateDir, 'scratch');
  }

  // --- fingerprints at backup time ------------------------------------------------------------

  /**
   * The onBackupSucceeded hook: fingerprints the databases of the stages on
   * the cluster whose restore tests are scheduled, at restore points made
   * right after the backup, and keeps them with the backup's label.
   */
  async afterBackup(target: BackupTarget, run: BackupRun): Promise<number> {
    if (run.status !== 'succeeded' || !run.label) return 0;
    const databases = await this.#fingerprintedDatabases(target);
    if (databases.length === 0) return 0;
    const admin = this.#superuser(target);
    let recorded = 0;
    for (const [group, batch] of batches(databases, fingerprintBatch).entries()) {
      const access = await Promise.all(
        batch.map(async (s) => ({
          database: s.database,
          connection: stageRoleSession((await this.#o.tenants.stageConnection(s.id)).databaseUrl),
        })),
      );
      const result = await recordFingerprintsApart(admin, access, fingerprintRestorePoint(run.label, group));
      for (const { database, error } of result.failed) {
        this.#o.logger.warn(
          { cluster: target.stanza, label: run.label, database, err: message(error) },
          'no fingerprint of this database after the backup (its restore test will take one)',
        );
      }
      for (const taken of result.recorded) {
        for (const [database, fingerprint] of Object.entries(taken.databases)) {
          await this.#o.db
            .insertInto('backup_fingerprints')
            .values({
              cluster: target.stanza,
              repo: run.repo,
              backup_label: run.label,
              database_name: database,
              restore_point: taken.restorePoint,
              lsn: taken.lsn,
              wal_file: taken.walFile,
              exact: taken.exact,
              why: taken.why,
              tables: JSON.stringify(fingerprint.tables),
              taken_at: taken.takenAt,
            })
            .onConflict((oc) => oc.columns(['cluster', 'repo', 'backup_label', 'database_name']).doNothing())
            .execute();
          recorded++;
        }
      }
    }
    this.#o.logger.info(
      { cluster: target.stanza, label: run.label, databases: recorded },
      'table fingerprints recorded after the backup',
    );
    return recorded;
  }

  /** The ready stages (and their databases) on a cluster whose restore tests are scheduled. */
  async #fingerprintedDatabases(target: BackupTarget): Promise<{ id: string; database: string }[]> {
    let query = this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'stages.database_name'])
      .where('stages.desired', '=', 'present')
      .where('tenants.desired', '=', 'present')
      .where('stages.phase', '=', 'ready')
      .where('stages.name', 'in', [...this.#settings.restoreTestStages, ''])
      .orderBy('stages.database_name');
    query =
      target.kind === 'shared'
        ? query.where('tenants.tier', '=', 'shared')
        : query.where('stages.database_name', '=', target.stanza);
    return (await query.execute()).map((r) => ({ id: r.id, database: r.database_name }));
  }

  // --- restores -------------------------------------------------------------------------------

  /**
   * Asks for a point-in-time restore of a stage. Everything is checked
   * first (the time against the restorable range, the mode, the confirmation),
   * so a refused request changes nothing; then, for `into`, the new stage is
   * added, and the restore runs as a job that `show(id)` follows.
   */
  async restore(
    tenant: string,
    stage: string,
    request: RestoreRequest,
    actor: Principal,
  ): Promise<RestoreView> {
    const toTime = parseRestoreTime(request.toTime, 'toTime');
    const into = request.into;
    const inPlace = request.inPlace === true;
    if ((into === undefined) === !inPlace) {
      throw new InputError(
        'field "into": give either "into" (a new stage to restore into) or "inPlace": true (restore onto the stage itself), not both or neither',
        { field: 'into' },
      );
    }
    const stageId = await this.#o.tenants.stageId(tenant, stage);
    const source = await this.#stageRow(stageId);
    if (source.tier !== 'shared' && source.tier !== 'dedicated') {
      throw new InputError(
        `stage ${tenant}/${stage} is on the ${source.tier} tier, whose point-in-time restore is not yet available`,
        { field: 'stage' },
      );
    }
    if (inPlace && request.confirm !== stage) {
      throw new InputError(
        `field "confirm": ${request.confirm === undefined ? 'is missing' : `${showValue(request.confirm)} is not the stage's name`}; an in-place restore replaces the database of ${tenant}/${stage}, so send "confirm": ${JSON.stringify(stage)}`,
        { field: 'confirm' },
      );
    }
    if (into !== undefined) {
      const problem = stageNameProblem(into);
      if (problem) throw new InputError(`field "into": ${problem}`, { field: 'into' });
      const view = await this.#o.tenants.show(tenant);
      if (view.stages.some((s) => s.name === into)) {
        throw new ConflictError(
          `tenant ${tenant} already has a stage ${into}; restore into a new stage (or in place, with confirmation)`,
          { field: 'into' },
        );
      }
    }
    const running = inPlace
      ? await this.#o.db
          .selectFrom('restores')
          .select('id')
          .where('tenant_slug', '=', tenant)
          .where('target_stage', '=', stage)
          .where('status', '=', 'running')
          .executeTakeFirst()
      : undefined;
    if (running) {
      throw new ConflictError(
        `restore ${running.id} into ${tenant}/${stage} is running; wait until it has ended`,
      );
    }
    const target = await this.#o.backups.stageTarget(tenant, stage);
    const info = await target.driver.info();
    const ranges = restorableRanges(info, `${tenant}/${stage}`);
    const first = ranges[0];
    if (!first) {
      throw new ConflictError(
        `cluster ${target.stanza} has no good backup yet: there is nothing to restore ${tenant}/${stage} from; "steward backup run ${tenant} ${stage}" takes one`,
      );
    }
    const now = this.#o.clock.now();
    const range = ranges.find((r) => r.earliest <= toTime) ?? first;
    try {
      checkRestoreTarget(toTime, range, now);
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      throw new InputError(`field "toTime": ${error.message}`, { field: 'toTime' });
    }
    const backup = backupForTarget(range, toTime);
    // A stage renamed to its opaque name between the backup and the target time: both names are needed.
    const sourceAtTarget = stageDatabaseNameAt(source, toTime);
    const sourceInBackup = stageDatabaseNameAt(source, backup.startedAt);

    if (into !== undefined) await this.#o.tenants.addStage(tenant, { name: into }, actor);
    const targetStage = into ?? stage;
    const targetDatabase =
      into === undefined
        ? source.database
        : (await this.#stageRow(await this.#o.tenants.stageId(tenant, into))).database;
    const id = randomUUID();
    try {
      await this.#o.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('restores')
          .values({
            id,
            tenant_slug: tenant,
            source_stage: stage,
            target_stage: targetStage,
            mode: inPlace ? 'in-place' : 'into',
            target_time: toTime,
            cluster: target.stanza,
            repo: range.repo,
            backup_label: backup.label,
            source_database: sourceAtTarget,
            source_database_in_backup: sourceInBackup === sourceAtTarget ? null : sourceInBackup,
            target_database: targetDatabase,
            replacement_database: replacementDatabaseName(targetDatabase, id),
            // A dedicated stage's own cluster is restored as a whole: no database is kept beside it.
            kept_database: inPlace && source.tier === 'shared' ? keptDatabaseName(targetDatabase, now) : null,
            fingerprint: null,
            progress: into === undefined ? 'queued' : `waiting for the new stage ${into} to be ready`,
            created_by: actorName(actor),
            created_at: now,
          })
          .execute();
        await enqueue(tx, restoreJobKind, id);
        await this.#o.audit.record(tx, {
          actor: actorName(actor),
          address: actor.address,
          action: 'restore.request',
          target: `tenant/${tenant}/stage/${stage}/restore/${id}`,
          tenant,
          details: {
            mode: inPlace ? 'in-place' : 'into',
            into: targetStage,
            toTime: toTime.toISOString(),
            cluster: target.stanza,
            repo: range.repo,
            backup: backup.label,
          },
        });
      });
    } catch (error) {
      if ((error as { constraint?: string }).constraint !== 'restores_one_running') throw error;
      throw new ConflictError(`a restore into ${tenant}/${targetStage} is running; wait until it has ended`);
    }
    return this.show(id);
  }

  async show(id: string, tenant?: string): Promise<RestoreView> {
    return restoreView(await this.#restoreRow(id, tenant));
  }

  async list(tenant: string): Promise<RestoreView[]> {
    await this.#o.tenants.show(tenant);
    const rows = await this.#o.db
      .selectFrom('restores')
      .selectAll()
      .where('tenant_slug', '=', tenant)
      .orderBy('created_at', 'desc')
      .limit(200)
      .execute();
    return rows.map((r) => restoreView(r));
  }

  async #restoreRow(id: string, tenant?: string): Promise<RestoreRow> {
    const row = uuidPattern.test(id)
      ? await this.#o.db.selectFrom('restores').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row || (tenant !== undefined && row.tenant_slug !== tenant)) {
      throw new NotFoundError(
        `restore ${showValue(id)} does not exist${tenant ? ` for tenant ${tenant}` : ''}; "steward restore list <tenant>" shows the restores`,
        { field: 'id' },
      );
    }
    return row;
  }

  /**
   * Drops the database (and files) an in-place restore kept of the stage
   * before it, once the operator is satisfied with the restore. Audited.
   */
  async discard(id: string, actor: Principal): Promise<RestoreView> {
    const row = await this.#restoreRow(id);
    if (row.status !== 'succeeded' || !row.kept_database) {
      throw new ConflictError(
        row.status === 'running'
          ? `restore ${id} is still running; discard what it kept once it has succeeded`
          : `restore ${id} kept nothing to discard${row.mode === 'into' ? ' (it restored into a new stage)' : row.status === 'failed' ? ' (it failed)' : ''}`,
      );
    }
    if (row.discarded_at) {
      throw new ConflictError(
        `what restore ${id} kept (database ${row.kept_database}) was discarded at ${row.discarded_at.toISOString()} by ${row.discarded_by ?? '?'}`,
      );
    }
    const target = await this.#o.backups.target(row.cluster);
    await withClient(this.#superuser(target), (c) =>
      c.query(`drop database if exists ${quoteIdent(row.kept_database!)} with (force)`),
    );
    if (row.kept_files_dir) await removeTree(row.kept_files_dir);
    await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('restores')
        .set({ discarded_at: this.#o.clock.now(), discarded_by: actorName(actor) })
        .where('id', '=', id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'restore.discard',
        target: `tenant/${row.tenant_slug}/stage/${row.target_stage}/restore/${id}`,
        tenant: row.tenant_slug,
        details: { database: row.kept_database, files: row.kept_files_dir },
      });
    });
    return this.show(id);
  }

  /** The restore job: resumes from the phase it was in. */
  readonly handleRestore: JobHandler = async (job) => {
    const row = await this.#o.db
      .selectFrom('restores')
      .selectAll()
      .where('id', '=', job.key)
      .executeTakeFirst();
    if (!row || row.status !== 'running') return { kind: 'done' };
    if (this.#abort.signal.aborted) return { kind: 'requeue', afterMs: 1000 };
    try {
      const outcome = await this.runRestore(row.id);
      return outcome === 'wait' ? { kind: 'requeue', afterMs: 1000 } : { kind: 'done' };
    } catch (error) {
      if (this.#abort.signal.aborted) {
        await this.#setRestore(row.id, {
          progress: 'interrupted: Steward stopped; the restore goes on when it starts again',
        });
        return { kind: 'requeue', afterMs: 1000 };
      }
      await this.#failRestore(row, error);
      return { kind: 'done' };
    }
  };

  /**
   * One run of a restore, from the phase it is in to its end, or 'wait'
   * while the new stage it restores into is not ready yet. Exposed for tests.
   */
  async runRestore(id: string): Promise<'wait' | 'done'> {
    const row = await this.#restoreRow(id);
    if (row.status !== 'running') return 'done';
    let phase = row.phase as RestorePhase;
    const log = this.#o.logger.child({ restore: row.id, tenant: row.tenant_slug, stage: row.target_stage });
    if (phase === 'queued' || phase === 'creating-stage') {
      if (row.mode === 'into') {
        const ready = await this.#targetReady(row);
        if (!ready) return 'wait';
      }
      phase = 'archiving';
    }
    const target = await this.#o.backups.target(row.cluster);
    if (target.kind === 'dedicated' && row.mode === 'in-place') {
      if (redoFromArchiving.includes(phase)) {
        await this.#deltaRestore(row, target, phase);
        phase = 'swapping';
      }
      if (phase === 'swapping') {
        await this.#setRestore(row.id, {
          phase: 'swapping',
          progress: 'putting the restored files in place',
        });
        await this.#swapFiles(row);
        phase = 'restarting';
      }
    }
    if (redoFromArchiving.includes(phase)) {
      await this.#prepare(row, target);
      phase = 'swapping';
    }
    if (phase === 'swapping') {
      const started = Date.now();
      await this.#setRestore(row.id, {
        phase: 'swapping',
        progress: `swapping the restored copy in as ${row.target_database}`,
      });
      await this.#swap(row, await this.#destination(row, target));
      await this.#swapFiles(row);
      await this.#addTimings(row.id, { swapMs: Date.now() - started });
      phase = 'restarting';
    }
    if (phase === 'restarting') {
      if (row.mode === 'in-place') {
        await this.#setRestore(row.id, { phase: 'restarting', progress: "restarting the stage's processes" });
        const stageId = await this.#o.tenants.stageId(row.tenant_slug, row.target_stage);
        await this.#o.runtime.restartStage(stageId);
      }
    }
    const finishedAt = this.#o.clock.now();
    const current = await this.#restoreRow(row.id);
    const total = finishedAt.getTime() - row.created_at.getTime();
    await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('restores')
        .set({
          status: 'succeeded',
          phase: 'done',
          progress: `restored ${row.tenant_slug}/${row.source_stage} to ${isoSeconds(row.target_time)} ${row.mode === 'into' ? `into ${row.target_stage}` : 'in place'}${row.kept_database ? `; the old database is kept as ${row.kept_database}` : ''}`,
          finished_at: finishedAt,
          timings: sql`timings || ${JSON.stringify({ totalMs: total })}::jsonb` as unknown as string,
        })
        .where('id', '=', row.id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: current.created_by,
        action: 'restore.succeeded',
        target: `tenant/${row.tenant_slug}/stage/${row.target_stage}/restore/${row.id}`,
        tenant: row.tenant_slug,
        details: {
          mode: row.mode,
          toTime: row.target_time.toISOString(),
          backup: row.backup_label,
          keptDatabase: row.kept_database,
          filesExport: current.files_export_id,
          files: current.files_note,
        },
      });
    });
    log.info({ ms: total }, 'restore done');
    return 'done';
  }

  async #targetReady(row: RestoreRow): Promise<boolean> {
    const stage = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.phase', 'stages.reason', 'stages.desired'])
      .where('tenants.slug', '=', row.tenant_slug)
      .where('stages.name', '=', row.target_stage)
      .executeTakeFirst();
    if (!stage || stage.desired === 'absent') {
      throw new ConflictError(`the stage ${row.target_stage} to restore into was removed`);
    }
    if (stage.phase === 'ready') return true;
    if (stage.phase === 'failed') {
      throw new ConflictError(`the stage ${row.target_stage} to restore into failed: ${stage.reason}`);
    }
    const waited = this.#o.clock.now().getTime() - row.created_at.getTime();
    if (waited > this.#settings.stageReadyTimeoutMinutes * 60_000) {
      throw new ConflictError(
        `the stage ${row.target_stage} to restore into was not ready after ${this.#settings.stageReadyTimeoutMinutes} min (${stage.phase}: ${stage.reason})`,
      );
    }
    await this.#setRestore(row.id, {
      phase: 'creating-stage',
      progress: `waiting for the new stage ${row.target_stage} to be ready (${stage.phase})`,
    });
    return false;
  }

  /**
   * The cluster that holds the target stage's database, where the copy goes:
   * the restored cluster itself, except into a new stage of a dedicated
   * tenant, which has a cluster of its own. That one is prepared for backups
   * first: preparing it turns archiving on, which restarts it once, and the
   * new stage's own backup job would otherwise do so under the copy.
   */
  async #destination(row: RestoreRow, target: BackupTarget): Promise<BackupTarget> {
    if (target.kind === 'shared' || row.mode === 'in-place') return target;
    return this.#o.backups.stageTarget(row.tenant_slug, row.target_stage);
  }

  /** Everything before the swap: WAL, the scratch, the copy, its check, the files. Redone whole after a crash. */
  async #prepare(row: RestoreRow, target: BackupTarget): Promise<void> {
    const signal = this.#abort.signal;
    const source = this.#superuser(target);
    const destination = await this.#destination(row, target);
    const admin = this.#superuser(destination);
    const deadline = Date.now() + this.#settings.restoreTimeoutMinutes * 60_000;
    await this.#setRestore(row.id, {
      phase: 'archiving',
      progress: `making WAL up to now restorable from repo${row.repo}`,
    });
    await withClient(source, (c) =>
      archiveUpToNow(c, () => target.driver.info(), row.repo, { timeoutMs: 120_000, signal }),
    );
    await this.#dropReplacement(admin, row.replacement_database);
    await this.#setRestore(row.id, {
      phase: 'restoring',
      progress: `restoring ${row.source_database} from backup ${row.backup_label} in repo${row.repo} to ${isoSeconds(row.target_time)} into a scratch instance`,
    });
    const scratch = await restoreIntoScratch({
      configPath: target.configPath,
      stanza: target.stanza,
      binDir: target.cluster.binDir,
      user: target.cluster.user,
      parentDir: this.#scratchDir(target),
      repo: row.repo,
      set: row.backup_label,
      target: { kind: 'time', time: row.target_time },
      // A dedicated cluster holds the stage's database alone: it comes back whole.
      databases:
        target.kind === 'dedicated'
          ? undefined
          : await this.#restoredDatabases(source, row.source_database_in_backup ?? row.source_database),
      ...(row.source_database_in_backup
        ? { renamed: { [row.source_database_in_backup]: row.source_database } }
        : {}),
      timeoutMs: Math.max(60_000, deadline - Date.now()),
      signal,
    });
    await this.#addTimings(row.id, { restoreMs: scratch.durationMs });
    try {
      await this.#setRestore(row.id, {
        phase: 'copying',
        progress: `copying ${row.source_database} out of the scratch into ${row.replacement_database} as role ${row.target_database}`,
      });
      // No superuser enters either database: the tenant's code in them runs as its own roles.
      const to = await this.#asStage(row.tenant_slug, row.target_stage, row.replacement_database);
      await withClient(admin, (c) => openCopyTarget(c, row.replacement_database, to.user));
      const from = await scratchStageConnection(scratch, {
        database: row.source_database,
        role: await this.#stageRole(row.tenant_slug, row.source_stage),
      });
      const copied = await copyDatabase({
        from,
        to,
        binDir: destination.cluster.binDir,
        timeoutMs: Math.max(60_000, deadline - Date.now()),
        signal,
      });
      await this.#addTimings(row.id, { copyMs: copied.durationMs });
      await this.#setRestore(row.id, {
        phase: 'verifying',
        progress: `checking that ${row.replacement_database} holds exactly what was restored`,
      });
      const verifyStarted = Date.now();
      const restored = await withClient(from, (c) => takeFingerprint(c));
      const copy = await withClient(to, (c) => takeFingerprint(c));
      const comparison = compareFingerprints(restored, copy);
      if (!comparison.ok) {
        const checks = tableChecks(restored.tables, comparison, copy.tables);
        throw new InternalError(
          `the copy in ${row.replacement_database} differs from the restored database: ${describeMismatches(checks)}`,
        );
      }
      await withClient(admin, (c) => closeCopyTarget(c, row.replacement_database));
      await this.#setRestore(row.id, { fingerprint: JSON.stringify(restored.tables) });
      await this.#addTimings(row.id, { verifyMs: Date.now() - verifyStarted });
    } finally {
      await scratch.remove().catch((error: unknown) => {
        this.#o.logger.warn({ restore: row.id, err: message(error) }, 'scratch removal failed');
      });
    }
    const filesStarted = Date.now();
    await this.#setRestore(row.id, {
      phase: 'files',
      progress: "restoring the stage's files from the nearest export",
    });
    await this.#stageFiles(row);
    await this.#addTimings(row.id, { filesMs: Date.now() - filesStarted });
  }

  /** Where the export's files are unpacked before they replace the target stage's. */
  #stagingDir(filesDir: string, id: string): string {
    return `${filesDir}.restore-${id.slice(0, 8)}`;
  }

  async #filesDir(tenant: string, stage: string): Promise<{ id: string; filesDir: string }> {
    const row = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'stages.files_dir'])
      .where('tenants.slug', '=', tenant)
      .where('stages.name', '=', stage)
      .executeTakeFirstOrThrow();
    return { id: row.id, filesDir: row.files_dir };
  }

  /** Unpacks the nearest export's files into the staging dir; records which export, or why none. */
  async #stageFiles(row: RestoreRow): Promise<void> {
    const { id: stageId, filesDir } = await this.#filesDir(row.tenant_slug, row.target_stage);
    const staging = this.#stagingDir(filesDir, row.id);
    await removeTree(staging);
    const found = await this.#o.exports.nearest(row.tenant_slug, row.source_stage, row.target_time);
    if (!found) {
      await this.#setRestore(row.id, {
        files_export_id: null,
        files_note: `files not restored: ${row.tenant_slug}/${row.source_stage} has no succeeded export made at or before ${isoSeconds(row.target_time)}${row.mode === 'in-place' ? '; the stage keeps its current files' : ''}`,
      });
      return;
    }
    await mkdir(staging, { recursive: true, mode: 0o700 });
    let unpacked: Awaited<ReturnType<ExportService['unpackFiles']>>;
    try {
      unpacked = await this.#o.exports.unpackFiles(found.id, staging);
    } catch (error) {
      await removeTree(staging);
      throw new InternalError(`the files of export ${found.id} could not be unpacked: ${message(error)}`, {
        cause: error,
      });
    }
    if (!unpacked.restored) {
      await removeTree(staging);
      await this.#setRestore(row.id, {
        files_export_id: null,
        files_note: `files not restored: ${unpacked.reason}${row.mode === 'in-place' ? '; the stage keeps its current files' : ''}`,
      });
      return;
    }
    // The files belong to the stage's own user, like everything the runtime gives it.
    const uid = this.#o.runtime.stageUid(stageId);
    if (uid !== undefined) await chownTree(staging, uid, uid);
    await chmod(staging, 0o700);
    await this.#setRestore(row.id, {
      files_export_id: found.id,
      files_note: `${unpacked.files} files (${unpacked.fileBytes} bytes) restored from export ${found.id} made at ${found.createdAt}`,
    });
  }

  /** The database swap: it finds where a crash left it and finishes. */
  async #swap(row: RestoreRow, target: BackupTarget): Promise<void> {
    const admin = this.#superuser(target);
    const keepAs = row.kept_database ?? keptDatabaseName(row.target_database, row.created_at);
    const request = { live: row.target_database, replacement: row.replacement_database, keepAs };
    await withClient(admin, async (c) => {
      const present = await c.query<{ datname: string }>(
        'select datname from pg_catalog.pg_database where datname operator(pg_catalog.=) any($1::pg_catalog.text[])',
        [[request.live, request.replacement, request.keepAs]],
      );
      const names = new Set(present.rows.map((r) => r.datname));
      // Into a new stage, its empty database was dropped after the swap: nothing is left to do.
      const done =
        row.mode === 'into' &&
        names.has(request.live) &&
        !names.has(request.replacement) &&
        !names.has(keepAs);
      if (!done) {
        swapState(names, request);
        await swapDatabases(c, request);
      }
      if (row.mode === 'into') await c.query(`drop database if exists ${quoteIdent(keepAs)} with (force)`);
    });
  }

  /** The staged files take the target stage's place; in place, its current files are kept beside. */
  async #swapFiles(row: RestoreRow): Promise<void> {
    const { filesDir } = await this.#filesDir(row.tenant_slug, row.target_stage);
    const staging = this.#stagingDir(filesDir, row.id);
    if (!existsSync(staging)) return;
    if (row.mode === 'into') {
      // The new stage's files dir is as empty as its database was.
      await removeTree(filesDir);
      await rename(staging, filesDir);
      return;
    }
    const kept = `${filesDir}.pre-${row.created_at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
    // Recorded first, so that discard finds it whatever point a crash stops the renames at.
    await this.#setRestore(row.id, { kept_files_dir: kept });
    if (existsSync(filesDir) && !existsSync(kept)) await rename(filesDir, kept);
    // Kept already (a run that stopped between the renames); what is there now was made since.
    else if (existsSync(filesDir)) await removeTree(filesDir);
    await rename(staging, filesDir);
  }

  /**
   * In place for a dedicated stage: its own cluster goes back to the time
   * itself. WAL up to now archived, the files staged, then the cluster
   * stopped, `pgbackrest restore --delta` to the time (promote at the
   * target), started, and out of recovery. The stage is paused meanwhile:
   * the reconciler would start the stopped cluster under the restore. A delta
   * restore rewrites the cluster, so nothing of it is kept (its backups are).
   * After a crash mid-way the restore runs again (--delta makes whatever the
   * data dir holds match the backup again).
   */
  async #deltaRestore(row: RestoreRow, target: BackupTarget, from: RestorePhase): Promise<void> {
    const signal = this.#abort.signal;
    const stageId = await this.#o.tenants.stageId(row.tenant_slug, row.target_stage);
    if (from !== 'restoring') {
      await this.#setRestore(row.id, {
        phase: 'archiving',
        progress: `making WAL up to now restorable from repo${row.repo}`,
      });
      await withClient(this.#superuser(target), (c) =>
        archiveUpToNow(c, () => target.driver.info(), row.repo, { timeoutMs: 120_000, signal }),
      );
      const filesStarted = Date.now();
      await this.#setRestore(row.id, {
        phase: 'files',
        progress: "restoring the stage's files from the nearest export",
      });
      await this.#stageFiles(row);
      await this.#addTimings(row.id, { filesMs: Date.now() - filesStarted });
    }
    await this.#pauseStage(stageId, true);
    await this.#setRestore(row.id, {
      phase: 'restoring',
      progress: `stopping the cluster of ${row.tenant_slug}/${row.target_stage} and restoring it in place (delta) from backup ${row.backup_label} in repo${row.repo} to ${isoSeconds(row.target_time)}`,
    });
    const started = Date.now();
    await stopCluster(target.cluster, 'fast');
    const restored = await runInGroup(
      findPgBackRest(),
      [
        `--config=${target.configPath}`,
        `--stanza=${target.stanza}`,
        `--pg1-path=${target.cluster.dir}`,
        `--repo=${row.repo}`,
        `--set=${row.backup_label}`,
        '--delta',
        ...targetOptions({ kind: 'time', time: row.target_time }),
        'restore',
      ],
      {
        user: target.cluster.user,
        timeoutMs: this.#settings.restoreTimeoutMinutes * 60_000,
        signal,
      },
    );
    if (restored.code !== 0 || restored.timedOut || restored.cancelled) {
      if (signal.aborted) throw new InternalError('the restore was interrupted: Steward stopped');
      throw new InternalError(
        `pgbackrest restore --delta of ${row.backup_label} from repo${row.repo} failed (exit ${restored.code}): ${lastOutputLines(restored.stderr || restored.stdout, 5)}; the cluster of ${row.tenant_slug}/${row.target_stage} is left stopped and the stage paused: restore again`,
      );
    }
    // A cluster whose socket is in its data dir has the socket's lock file in its backups too: the
    // restored copy names the postmaster of backup time, which may linger as a zombie and block the start.
    for (const name of await readdir(target.cluster.dir)) {
      if (/^\.s\.PGSQL\.\d+\.lock$/.test(name)) await rm(join(target.cluster.dir, name), { force: true });
    }
    try {
      await startCluster(target.cluster);
    } catch (error) {
      const log = await readFile(join(target.cluster.dir, 'server.log'), 'utf8').catch(() => '');
      throw new InternalError(
        `the restored cluster of ${row.tenant_slug}/${row.target_stage} did not start: ${message(error)}\n${lastOutputLines(log, 8)}; the stage stays paused: restore again`,
        { cause: error },
      );
    }
    const deadline = Date.now() + this.#settings.restoreTimeoutMinutes * 60_000;
    for (;;) {
      const recovering = await withClient(this.#superuser(target), async (c) =>
        Boolean((await c.query<{ r: boolean }>('select pg_is_in_recovery() as r')).rows[0]?.r),
      ).catch(() => true);
      if (!recovering) break;
      if (Date.now() > deadline) {
        throw new InternalError(
          `the cluster of ${row.tenant_slug}/${row.target_stage} did not finish recovery to ${isoSeconds(row.target_time)} in time; see its server.log`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await this.#addTimings(row.id, { restoreMs: Date.now() - started });
    await this.#pauseStage(stageId, false);
  }

  /** Pausing keeps the reconciler off a stage; resuming queues it so that it converges again. */
  async #pauseStage(stageId: string, paused: boolean): Promise<void> {
    await this.#o.db.transaction().execute(async (tx) => {
      await setStagePaused(tx, stageId, paused);
      if (!paused) await enqueue(tx, stageJobKind, stageId);
    });
  }

  async #failRestore(row: RestoreRow, error: unknown): Promise<void> {
    const reason = message(error);
    const current = await this.#restoreRow(row.id);
    const log = this.#o.logger.child({ restore: row.id, tenant: row.tenant_slug, stage: row.target_stage });
    log.error({ err: reason, phase: current.phase }, 'restore failed');
    const swapped = current.phase === 'swapping' || current.phase === 'restarting';
    // Nothing half-made stays: the replacement (never swapped in), the staged files, a new stage.
    if (!swapped) {
      try {
        const target = await this.#o.backups.target(row.cluster);
        // Into a new dedicated stage, the replacement is in the stage's own cluster, which goes with it.
        if (target.kind === 'shared' || row.mode === 'in-place') {
          await this.#dropReplacement(this.#superuser(target), row.replacement_database);
        }
      } catch (cleanup) {
        log.warn({ err: message(cleanup) }, 'the replacement database was not dropped');
      }
      const files = await this.#filesDir(row.tenant_slug, row.target_stage).catch(() => undefined);
      if (files) await removeTree(this.#stagingDir(files.filesDir, row.id));
    }
    let removedStage = false;
    if (row.mode === 'into' && !swapped) {
      await this.#o.tenants
        .removeStage(row.tenant_slug, row.target_stage, systemPrincipal)
        .then(() => (removedStage = true))
        .catch(() => undefined);
    }
    await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('restores')
        .set({
          status: 'failed',
          error:
            `${reason}${removedStage ? `; the new stage ${row.target_stage} is removed again` : ''}`.slice(
              0,
              4000,
            ),
          progress: `failed while ${current.phase}`,
          finished_at: this.#o.clock.now(),
        })
        .where('id', '=', row.id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: row.created_by,
        action: 'restore.failed',
        target: `tenant/${row.tenant_slug}/stage/${row.target_stage}/restore/${row.id}`,
        tenant: row.tenant_slug,
        outcome: 'failure',
        details: { phase: current.phase, error: reason.slice(0, 1000) },
      });
    });
  }

  /**
   * The databases to restore: the one asked for (--db-include), unless the
   * cluster runs without full_page_writes. pgBackRest restores the other
   * databases as zeroed files, and WAL replay then needs the full-page image
   * each page gets at its first change after a checkpoint: without it, a
   * change to another database after the backup stops recovery ("WAL
   * contains references to invalid pages"). Then the whole cluster comes back.
   */
  async #restoredDatabases(admin: pg.ClientConfig, database: string): Promise<string[] | undefined> {
    const setting = await withClient(
      admin,
      async (c) =>
        (await c.query<{ full_page_writes: string }>('show full_page_writes')).rows[0]?.full_page_writes,
    );
    return setting === 'on' ? [database] : undefined;
  }

  /** Drops a replacement database and the access role its copy had (openCopyTarget). */
  async #dropReplacement(admin: pg.ClientConfig, name: string): Promise<void> {
    await withClient(admin, async (c) => {
      await c.query(`drop database if exists ${quoteIdent(name)} with (force)`);
      await closeCopyTarget(c, name);
    });
  }

  async #setRestore(
    id: string,
    values: Partial<{
      phase: RestorePhase;
      progress: string;
      fingerprint: string;
      files_export_id: string | null;
      files_note: string;
      kept_files_dir: string;
    }>,
  ): Promise<void> {
    await this.#o.db
      .updateTable('restores')
      .set({ ...values, ...(values.progress ? { progress: values.progress.slice(0, 2000) } : {}) })
      .where('id', '=', id)
      .execute();
  }

  async #addTimings(id: string, timings: Record<string, number>): Promise<void> {
    await this.#o.db
      .updateTable('restores')
      .set({ timings: sql`timings || ${JSON.stringify(timings)}::jsonb` as unknown as string })
      .where('id', '=', id)
      .execute();
  }

  async #stageRow(stageId: string): Promise<StageRow> {
    const row = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select([
        'stages.id',
        'tenants.tier',
        'stages.database_name',
        'stages.name',
        'stages.previous_database_name',
        'stages.database_renamed_at',
      ])
      .where('stages.id', '=', stageId)
      .executeTakeFirstOrThrow();
    return {
      id: row.id,
      tier: row.tier,
      database: row.database_name,
      name: row.name,
      previousName: row.previous_database_name,
      renamedAt: row.database_renamed_at,
    };
  }

  // --- restore tests --------------------------------------------------------------------------

  /** Starts a restore test of a stage (it runs as a job; `restoreTest(id)` follows it). */
  async requestRestoreTest(
    tenant: string,
    stage: string,
    trigger: RestoreTestTrigger,
    actor: Principal,
    options: { readonly repo?: number } = {},
  ): Promise<RestoreTestView> {
    await this.#o.tenants.stageId(tenant, stage);
    const located = await this.#o.backups.stageCluster(tenant, stage);
    if (located.stanza === null) {
      throw new ConflictError(`stage ${tenant}/${stage} has no physical backups to test: ${located.reason}`);
    }
    if (options.repo !== undefined) {
      const info = await this.#o.backups.info(located.stanza);
      const repos = info ? restorableRanges(info).map((r) => r.repo) : [];
      if (!repos.includes(options.repo)) {
        throw new InputError(
          `field "repo": repo${options.repo} holds no good backup of ${tenant}/${stage}; ${repos.length > 0 ? `repositories with one: ${repos.join(', ')}` : 'take a backup first: steward backup run'}`,
          { field: 'repo' },
        );
      }
    }
    const id = randomUUID();
    try {
      await this.#o.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('restore_tests')
          .values({
            id,
            tenant_slug: tenant,
            stage_name: stage,
            cluster: located.stanza,
            trigger,
            // Manual tests read the repository asked for (repo1 by default); scheduled ones rotate.
            repo: trigger === 'manual' ? (options.repo ?? 1) : null,
            verification: null,
            created_by: actorName(actor),
            started_at: this.#o.clock.now(),
          })
          .execute();
        await enqueue(tx, restoreTestJobKind, id);
        if (trigger === 'manual') {
          await this.#o.audit.record(tx, {
            actor: actorName(actor),
            address: actor.address,
            action: 'restore_test.request',
            target: `tenant/${tenant}/stage/${stage}/restore-test/${id}`,
            tenant,
          });
        }
      });
    } catch (error) {
      if ((error as { constraint?: string }).constraint !== 'restore_tests_one_running') throw error;
      const open = await this.#o.db
        .selectFrom('restore_tests')
        .select(['id', 'trigger'])
        .where('tenant_slug', '=', tenant)
        .where('stage_name', '=', stage)
        .where('status', '=', 'running')
        .executeTakeFirst();
      throw new ConflictError(
        `a restore test of ${tenant}/${stage} is running${open ? ` (${open.id}, ${open.trigger})` : ''}; follow it or ask again once it has ended`,
      );
    }
    return this.restoreTest(id);
  }

  async restoreTest(id: string): Promise<RestoreTestView> {
    const row = uuidPattern.test(id)
      ? await this.#o.db.selectFrom('restore_tests').selectAll().where('id', '=', id).executeTakeFirst()
      : undefined;
    if (!row) {
      throw new NotFoundError(
        `restore test ${showValue(id)} does not exist; "steward restore-test list" shows them`,
        { field: 'id' },
      );
    }
    return testView(row);
  }

  /** Restore tests, newest first: all, a tenant's, or one stage's. */
  async restoreTests(
    filter: { tenant?: string; stage?: string; limit?: number } = {},
  ): Promise<RestoreTestView[]> {
    if (filter.tenant !== undefined) await this.#o.tenants.show(filter.tenant);
    let query = this.#o.db.selectFrom('restore_tests').selectAll();
    if (filter.tenant !== undefined) query = query.where('tenant_slug', '=', filter.tenant);
    if (filter.stage !== undefined) query = query.where('stage_name', '=', filter.stage);
    const rows = await query
      .orderBy('started_at', 'desc')
      .limit(filter.limit ?? 200)
      .execute();
    return rows.map((r) => testView(r));
  }

  /** The restore-test job. A test interrupted by a crash runs again from the start. */
  readonly handleRestoreTest: JobHandler = async (job) => {
    const row = await this.#o.db
      .selectFrom('restore_tests')
      .selectAll()
      .where('id', '=', job.key)
      .executeTakeFirst();
    if (!row || row.status !== 'running') return { kind: 'done' };
    if (this.#abort.signal.aborted) return { kind: 'requeue', afterMs: 1000 };
    await this.runRestoreTest(row.id);
    if (this.#abort.signal.aborted) {
      const after = await this.#o.db
        .selectFrom('restore_tests')
        .select('status')
        .where('id', '=', row.id)
        .executeTakeFirst();
      if (after?.status === 'running') return { kind: 'requeue', afterMs: 1000 };
    }
    return { kind: 'done' };
  };

  /**
   * Which repository a restore test reads: the one asked for (manual tests,
   * repo1 unless told), or for scheduled tests the one whose last test of this
   * stage is the oldest, so the off-site repository is tested as often.
   */
  async #repoToTest(
    row: { id: string; tenant_slug: string; stage_name: string; trigger: string; repo: number | null },
    ranges: readonly RestorableRange[],
  ): Promise<RestorableRange | undefined> {
    if (row.repo !== null) {
      const asked = ranges.find((r) => r.repo === row.repo);
      if (!asked) {
        throw new ConflictError(
          `repo${row.repo} holds no good backup of ${row.tenant_slug}/${row.stage_name} to test${ranges.length > 0 ? `; repositories with one: ${ranges.map((r) => `repo${r.repo}`).join(', ')}` : ''}`,
        );
      }
      return asked;
    }
    if (ranges.length < 2) return ranges[0];
    const last = await this.#o.db
      .selectFrom('restore_tests')
      .select(['repo', (eb) => eb.fn.max('started_at').as('at')])
      .where('tenant_slug', '=', row.tenant_slug)
      .where('stage_name', '=', row.stage_name)
      .where('id', '!=', row.id)
      .where('repo', 'is not', null)
      .groupBy('repo')
      .execute();
    const lastTested = new Map<number, Date>();
    for (const l of last) if (l.repo !== null && l.at) lastTested.set(l.repo, new Date(l.at));
    const repo = repoForScheduledTest(
      ranges.map((r) => r.repo),
      lastTested,
    );
    return ranges.find((r) => r.repo === repo);
  }

  /** Runs one restore test to its end and records the evidence; never throws for the test's own failure. */
  async runRestoreTest(id: string): Promise<RestoreTestView> {
    const row = await this.#o.db
      .selectFrom('restore_tests')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    if (row.status !== 'running') return testView(row);
    const log = this.#o.logger.child({ restoreTest: id, tenant: row.tenant_slug, stage: row.stage_name });
    const signal = this.#abort.signal;
    const startedAt = this.#o.clock.now();
    const evidence: {
      repo?: number;
      label?: string;
      stoppedAt?: Date;
      restorePoint?: string;
      rpoSeconds?: number;
      rtoMs?: number;
      verification?: RestoreTestVerification;
    } = {};
    let scratch: ScratchInstance | undefined;
    try {
      const stage = await this.#o.db
        .selectFrom('stages')
        .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
        .select(['stages.id', 'stages.database_name', 'stages.desired'])
        .where('tenants.slug', '=', row.tenant_slug)
        .where('stages.name', '=', row.stage_name)
        .executeTakeFirst();
      if (!stage || stage.desired === 'absent') throw new ConflictError('the stage was removed');
      const database = stage.database_name;
      const target = await this.#o.backups.target(row.cluster);
      const info = await target.driver.info();
      const range = await this.#repoToTest(
        row,
        restorableRanges(info, `${row.tenant_slug}/${row.stage_name}`),
      );
      if (!range) throw new ConflictError(`cluster ${row.cluster} has no good backup to test yet`);
      const own = await this.#asStage(row.tenant_slug, row.stage_name);
      const chosen = await this.#testFingerprint(id, target, range, { database, connection: own });
      evidence.repo = range.repo;
      evidence.label = chosen.backup.label;
      evidence.stoppedAt = chosen.backup.stoppedAt;
      evidence.restorePoint = chosen.restorePoint;
      evidence.rpoSeconds = Math.max(
        0,
        Math.round((startedAt.getTime() - chosen.backup.stoppedAt.getTime()) / 1000),
      );
      await this.#setTest(id, {
        phase: 'archiving',
        repo: range.repo,
        backup_label: chosen.backup.label,
        backup_stopped_at: chosen.backup.stoppedAt,
        restore_point: chosen.restorePoint,
        rpo_seconds: evidence.rpoSeconds,
      });
      await waitForArchivedWal(() => target.driver.info(), range.repo, chosen.walFile, {
        timeoutMs: 120_000,
        signal,
      });

      await this.#setTest(id, { phase: 'restoring' });
      const restoreStarted = Date.now();
      scratch = await restoreIntoScratch({
        configPath: target.configPath,
        stanza: target.stanza,
        binDir: target.cluster.binDir,
        user: target.cluster.user,
        parentDir: this.#scratchDir(target),
        repo: range.repo,
        set: chosen.backup.label,
        target: { kind: 'name', name: chosen.restorePoint },
        databases: await this.#restoredDatabases(this.#superuser(target), database),
        timeoutMs: this.#settings.restoreTimeoutMinutes * 60_000,
        signal,
      });
      await this.#setTest(id, { phase: 'verifying' });
      const restored = await scratchStageConnection(scratch, { database, role: own.user });
      const actual = await withClient(restored, (c) => takeFingerprint(c));
      const comparison = compareFingerprints(chosen.expected, actual);
      const checks = tableChecks(chosen.expected.tables, comparison, actual.tables);
      let app: AppVerification | null = null;
      if (comparison.ok) {
        await this.#setTest(id, { phase: 'app-verify' });
        app = await this.#appVerify(stage.id, scratch, target, { database, role: own.user });
      }
      evidence.rtoMs = Date.now() - restoreStarted;
      evidence.verification = {
        fingerprint: {
          ok: comparison.ok,
          exact: chosen.exact,
          why: chosen.why,
          takenByTest: chosen.takenByTest,
          tables: checks,
        },
        app,
      };
      await this.#setTest(id, { phase: 'tearing-down' });
      await scratch.remove();
      scratch = undefined;
      if (!comparison.ok) {
        throw new VerificationFailed(
          `${describeMismatches(checks)}${chosen.exact ? '' : ` (the recorded fingerprint was not exact: ${chosen.why ?? 'writers were busy'})`}`,
        );
      }
      if (app && app.exitCode !== 0) {
        throw new VerificationFailed(
          `the app's verify command (${app.command}) exited ${app.exitCode}: ${app.output.split('\n').slice(-3).join(' | ')}`,
        );
      }
      return await this.#endTest(row, 'succeeded', null, evidence);
    } catch (error) {
      await scratch?.remove().catch(() => undefined);
      if (signal.aborted) {
        await this.#setTest(id, { phase: 'queued' });
        log.info('restore test interrupted: it runs again when Steward starts');
        return this.restoreTest(id);
      }
      const reason =
        error instanceof VerificationFailed
          ? `verification failed: ${error.message}`
          : `the restore ${evidence.label ? `of backup ${evidence.label} from repo${evidence.repo ?? 1} ` : ''}failed: ${message(error)}`;
      log.error({ err: reason }, 'restore test failed');
      return await this.#endTest(row, 'failed', reason, evidence);
    }
  }

  /**
   * The backup to test and what its restore must hold: the newest good
   * backup with a fingerprint of the database, or, when none has one, a
   * fingerprint taken now at a new restore point after the newest backup
   * (kept for later tests too).
   */
  async #testFingerprint(
    testId: string,
    target: BackupTarget,
    range: RestorableRange,
    access: DatabaseAccess,
  ): Promise<{
    backup: BackupInfo;
    restorePoint: string;
    walFile: string;
    expected: Fingerprint;
    exact: boolean;
    why: string | null;
    takenByTest: boolean;
  }> {
    const { database } = access;
    const recorded = await this.#o.db
      .selectFrom('backup_fingerprints')
      .selectAll()
      .where('cluster', '=', target.stanza)
      .where('repo', '=', range.repo)
      .where('database_name', '=', database)
      .where('backup_label', 'in', [...range.backups.map((b) => b.label), ''])
      .execute();
    const chosen = chooseTestBackup(
      range.backups,
      recorded.map((r) => ({ label: r.backup_label, exact: r.exact })),
    );
    const fingerprint = chosen
      ? (recorded.find((r) => r.backup_label === chosen.label && r.exact) ??
        recorded.find((r) => r.backup_label === chosen.label))
      : undefined;
    if (chosen && fingerprint) {
      return {
        backup: range.backups.find((b) => b.label === chosen.label)!,
        restorePoint: fingerprint.restore_point,
        walFile: fingerprint.wal_file,
        expected: { tables: fingerprint.tables as TableFingerprint[] },
        exact: fingerprint.exact,
        why: fingerprint.why,
        takenByTest: false,
      };
    }
    const newest = range.backups.at(-1)!;
    const taken = await recordFingerprintWithRestorePoint(
      this.#superuser(target),
      [access],
      `steward-rt-${testId.slice(0, 8)}`,
    );
    const tables = taken.databases[database]?.tables ?? [];
    await this.#o.db
      .insertInto('backup_fingerprints')
      .values({
        cluster: target.stanza,
        repo: range.repo,
        backup_label: newest.label,
        database_name: database,
        restore_point: taken.restorePoint,
        lsn: taken.lsn,
        wal_file: taken.walFile,
        exact: taken.exact,
        why: taken.why,
        tables: JSON.stringify(tables),
        taken_at: taken.takenAt,
      })
      .onConflict((oc) => oc.columns(['cluster', 'repo', 'backup_label', 'database_name']).doNothing())
      .execute();
    return {
      backup: newest,
      restorePoint: taken.restorePoint,
      walFile: taken.walFile,
      expected: { tables },
      exact: taken.exact,
      why: taken.why,
      takenByTest: true,
    };
  }

  /** The app's verify command against the scratch, when the stage's release has one. */
  async #appVerify(
    stageId: string,
    scratch: ScratchInstance,
    target: BackupTarget,
    access: { readonly database: string; readonly role: string },
  ): Promise<AppVerification | null> {
    // Only when there is something to run: opening the scratch to the app costs a restart of it.
    if (!(await activeRelease(this.#o.db, stageId))?.definition.verify?.command) return null;
    const url = await openScratchForApp(scratch, {
      database: access.database,
      role: access.role,
      binDir: target.cluster.binDir,
      user: target.cluster.user,
    });
    const result = await this.#o.runtime.runVerify(stageId, url);
    if (!result) return null;
    return {
      command: result.command,
      release: result.release,
      exitCode: result.code,
      output: lastOutputLines(result.output),
    };
  }

  async #endTest(
    row: RestoreTestRow,
    status: 'succeeded' | 'failed',
    error: string | null,
    evidence: {
      repo?: number;
      label?: string;
      stoppedAt?: Date;
      restorePoint?: string;
      rpoSeconds?: number;
      rtoMs?: number;
      verification?: RestoreTestVerification;
    },
  ): Promise<RestoreTestView> {
    await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('restore_tests')
        .set({
          status,
          phase: 'done',
          error: error?.slice(0, 4000) ?? null,
          rto_ms: evidence.rtoMs ?? null,
          verification: evidence.verification ? JSON.stringify(evidence.verification) : null,
          finished_at: this.#o.clock.now(),
        })
        .where('id', '=', row.id)
        .execute();
      // A failed restore test is an error event: monitoring alerts on it.
      await this.#o.audit.record(tx, {
        actor: row.created_by,
        action: status === 'succeeded' ? 'restore_test.succeeded' : 'restore_test.failed',
        target: `tenant/${row.tenant_slug}/stage/${row.stage_name}/restore-test/${row.id}`,
        tenant: row.tenant_slug,
        outcome: status === 'succeeded' ? 'success' : 'failure',
        details: {
          trigger: row.trigger,
          cluster: row.cluster,
          backup: evidence.label ?? null,
          rpoSeconds: evidence.rpoSeconds ?? null,
          rtoMs: evidence.rtoMs ?? null,
          ...(error ? { error: error.slice(0, 1000) } : {}),
        },
      });
    });
    return this.restoreTest(row.id);
  }

  async #setTest(
    id: string,
    values: Partial<{
      phase: RestoreTestPhase;
      repo: number;
      backup_label: string;
      backup_stopped_at: Date;
      restore_point: string;
      rpo_seconds: number;
    }>,
  ): Promise<void> {
    await this.#o.db.updateTable('restore_tests').set(values).where('id', '=', id).execute();
  }

  // --- the schedule ---------------------------------------------------------------------------

  /**
   * One pass of the restore-test schedule: every stage whose restore tests
   * are scheduled (prod by default), on a cluster with a good backup, whose
   * last test is at least restoreTestEveryHours old, gets one.
   */
  async scheduledPass(): Promise<SchedulePassResult> {
    const now = this.#o.clock.now();
    const every = this.#settings.restoreTestEveryHours * hour;
    const stages = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['tenants.slug', 'stages.name'])
      .where('stages.desired', '=', 'present')
      .where('tenants.desired', '=', 'present')
      .where('stages.phase', '=', 'ready')
      .where('stages.name', 'in', [...this.#settings.restoreTestStages, ''])
      .orderBy('tenants.slug')
      .execute();
    const candidates: ScheduledStage[] = [];
    for (const stage of stages) {
      const located = await this.#o.backups.stageCluster(stage.slug, stage.name).catch(() => null);
      if (!located?.stanza) continue;
      // A stage whose cluster has no good backup yet has nothing to test: no failure, no alert.
      const info = await this.#o.backups.info(located.stanza).catch(() => undefined);
      if (!info || restorableRanges(info).length === 0) continue;
      const last = await this.#o.db
        .selectFrom('restore_tests')
        .select(['started_at', 'status'])
        .where('tenant_slug', '=', stage.slug)
        .where('stage_name', '=', stage.name)
        .orderBy('started_at', 'desc')
        .executeTakeFirst();
      const running = await this.#o.db
        .selectFrom('restore_tests')
        .select('id')
        .where('tenant_slug', '=', stage.slug)
        .where('stage_name', '=', stage.name)
        .where('status', '=', 'running')
        .executeTakeFirst();
      candidates.push({
        tenant: stage.slug,
        stage: stage.name,
        lastStartedAt: last?.started_at ?? null,
        running: running !== undefined,
      });
    }
    const started: RestoreTestView[] = [];
    for (const due of dueRestoreTests(candidates, now, every)) {
      try {
        started.push(await this.requestRestoreTest(due.tenant, due.stage, 'schedule', systemPrincipal));
      } catch (error) {
        if (!isStewardError(error)) throw error;
        this.#o.logger.warn(
          { tenant: due.tenant, stage: due.stage, err: error.message },
          'scheduled restore test not started',
        );
      }
    }
    const after = candidates.map((c) =>
      started.some((s) => s.tenant === c.tenant && s.stage === c.stage) ? { ...c, lastStartedAt: now } : c,
    );
    return { started, nextDue: nextRestoreTestDue(after, now, every) };
  }

  /** The schedule job: a pass, then again when the next test falls due (at least hourly, for new stages). */
  readonly handleSchedule: JobHandler = async () => {
    if (this.#abort.signal.aborted) return { kind: 'requeue', afterMs: 1000 };
    const pass = await this.scheduledPass();
    const now = this.#o.clock.now().getTime();
    const next = pass.nextDue ? pass.nextDue.getTime() - now : hour;
    return { kind: 'requeue', afterMs: Math.max(60_000, Math.min(hour, next)) };
  };
}

class VerificationFailed extends Error {}

function restoreView(row: RestoreRow): RestoreView {
  return {
    id: row.id,
    tenant: row.tenant_slug,
    sourceStage: row.source_stage,
    targetStage: row.target_stage,
    mode: row.mode as RestoreMode,
    toTime: row.target_time.toISOString(),
    cluster: row.cluster,
    repo: row.repo,
    backupLabel: row.backup_label,
    status: row.status as RestoreStatus,
    phase: (restorePhases as readonly string[]).includes(row.phase) ? (row.phase as RestorePhase) : 'queued',
    progress: row.progress,
    keptDatabase: row.discarded_at ? null : row.kept_database,
    keptFilesDir: row.discarded_at ? null : row.kept_files_dir,
    discardedAt: row.discarded_at?.toISOString() ?? null,
    discardedBy: row.discarded_by,
    files: {
      exportId: row.files_export_id,
      restored: row.files_export_id !== null,
      note: row.files_note,
    },
    error: row.error,
    timings: row.timings ?? {},
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}

function testView(row: RestoreTestRow): RestoreTestView {
  return {
    id: row.id,
    tenant: row.tenant_slug,
    stage: row.stage_name,
    cluster: row.cluster,
    trigger: row.trigger as RestoreTestTrigger,
    status: row.status as RestoreStatus,
    phase: row.phase as RestoreTestPhase,
    repo: row.repo,
    backupLabel: row.backup_label,
    backupStoppedAt: row.backup_stopped_at?.toISOString() ?? null,
    restorePoint: row.restore_point,
    rpoSeconds: row.rpo_seconds,
    rtoMs: row.rto_ms,
    verification: (row.verification as RestoreTestVerification | null) ?? null,
    error: row.error,
    createdBy: row.created_by,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}
