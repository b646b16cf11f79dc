import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import { ConflictError, InputError, InternalError, NotFoundError, showValue } from '../core/errors.ts';
import { stageNameProblem } from '../core/names.ts';
import { actorName, systemPrincipal, type Principal } from '../core/policy.ts';
import { withClient } from '../databases/client.ts';
import { quoteIdent } from '../databases/sql.ts';
import { enqueue } from '../jobs/queue.ts';
import type { JobHandler } from '../jobs/runner.ts';
import type { RestoresTable } from '../store/schema-backups.ts';
import { postgresRunAs } from '../system/exec.ts';
import { removeTree } from '../system/safe-fs.ts';
import type { Tier } from '../tenants/schemas.ts';
import { stageDatabaseNameAt } from '../tenants/rename-plan.ts';
import {
  defaultRestoreSettings,
  message,
  RestoreContext,
  type RestoreDeps,
  type RestoreSettings,
} from './restore/context.ts';
import { keptDatabaseName } from './restore/copy.ts';
import { nextRestoreStep, type RestoreStep } from './restore/planner.ts';
import { backupForTarget, checkRestoreTarget, isoSeconds, restorableRanges } from './restore/range.ts';
import { cleanScratch } from './restore/scratch.ts';
import { restoreView, type RestoreRequest, type RestoreView } from './restore/view.ts';
import { restoreStrategies } from './restore/strategies.ts';
import type { RestoreStrategy, RestoreTier } from './restore/strategy.ts';
import { parseRestoreTime, replacementDatabaseName, type RestoreTestTrigger } from './restore-plan.ts';
import {
  RestoreTestService,
  restoreTestJobKind,
  restoreTestScheduleJobKind,
  type RestoreTestView,
  type SchedulePassResult,
} from './restore-tests/index.ts';
import type { BackupRun } from './runs.ts';
import type { BackupTarget } from './service.ts';
import { backupsRoot } from './stanzas.ts';
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';

export const restoreJobKind = 'restore';
export type { RestoreRequest, RestoreView } from './restore/view.ts';
export { defaultRestoreSettings, restoreTestJobKind, restoreTestScheduleJobKind, type RestoreSettings };
export type {
  AppVerification,
  RestoreTestVerification,
  RestoreTestView,
  SchedulePassResult,
} from './restore-tests/index.ts';

export interface RestoreServiceOptions extends Omit<RestoreDeps, 'settings' | 'signal'> {
  readonly settings?: Partial<RestoreSettings>;
}

type RestoreRow = Selectable<RestoresTable>;
/** A stage as a restore sees it; its former name serves restores from before its rename to an opaque one. */
interface StageRow {
  readonly id: string;
  readonly tier: Tier;
  readonly database: string;
  readonly name: string;
  readonly previousName: string | null;
  readonly renamedAt: Date | null;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A step asked for this many times in a row has made no progress: the restore fails rather than spin. */
const maxRepeats = 3;

/**
 * Point-in-time restores of one stage (issue 5), as planner and steps
 * (issue 14): the job observes where the restore stands (through the
 * strategy of the stage's tier: ./restore/strategies.ts), asks the pure
 * planner for the one next step (nextRestoreStep), runs it, and asks again.
 * Every step is one idempotent action, so a kill -9 at any point converges
 * on the next start: the job runs again, cleanScratch removes the dead
 * scratch, and the planner picks up from what it observes. The phase stored
 * with the restore is for people (restore show), never read back.
 *
 * Restore tests live in ./restore-tests (this service passes its calls on).
 */
export class RestoreService {
  readonly #o: RestoreServiceOptions;
  readonly #settings: RestoreSettings;
  readonly #abort = new AbortController();
  readonly #c: RestoreContext;
  readonly #strategies: Readonly<Record<RestoreTier, RestoreStrategy>>;
  readonly tests: RestoreTestService;

  constructor(options: RestoreServiceOptions) {
    this.#o = options;
    this.#settings = { ...defaultRestoreSettings, ...options.settings };
    this.#c = new RestoreContext({ ...options, settings: this.#settings, signal: this.#abort.signal });
    this.#strategies = restoreStrategies(this.#c);
    this.tests = new RestoreTestService(this.#c);
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
    await this.tests.start();
  }

  /** Running restores and tests stop (they go on at the next start). */
  stop(): void {
    this.#abort.abort();
  }

  /** The onBackupSucceeded hook: fingerprints for restore tests. */
  afterBackup(target: BackupTarget, run: BackupRun): Promise<number> {
    return this.tests.afterBackup(target, run);
  }

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
    const strategy = this.#strategies[source.tier];
    const refused = strategy.refusal(inPlace ? 'in-place' : 'into');
    if (refused) {
      throw new InputError(`stage ${tenant}/${stage} is on the ${source.tier} tier, whose ${refused}`, {
        field: 'stage',
      });
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
            // A cluster restored as a whole (dedicated, ha) keeps no database beside it.
            kept_database:
              inPlace && strategy.keepsDatabase('in-place') ? keptDatabaseName(targetDatabase, now) : null,
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
    await withClient(this.#c.superuser(target), (c) =>
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

  /** The restore job: observe, plan, one step, again. */
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
        await this.#c.setRestore(row.id, {
          progress: 'interrupted: Steward stopped; the restore goes on when it starts again',
        });
        return { kind: 'requeue', afterMs: 1000 };
      }
      await this.#failRestore(row, error);
      return { kind: 'done' };
    }
  };

  /**
   * Runs a restore step by step to its end, or 'wait' while the new stage it
   * restores into is not ready yet. Exposed for tests.
   */
  async runRestore(id: string): Promise<'wait' | 'done'> {
    let last: { kind: RestoreStep['kind']; times: number } | undefined;
    for (;;) {
      const row = await this.#restoreRow(id);
      if (row.status !== 'running') return 'done';
      const strategy = await this.#strategyOf(row);
      const step = nextRestoreStep(await strategy.observe(row), row);
      last =
        last?.kind === step.kind ? { kind: step.kind, times: last.times + 1 } : { kind: step.kind, times: 1 };
      if (last.times > maxRepeats) {
        throw new InternalError(
          `the restore made no progress: its step ${step.kind} was asked for ${maxRepeats} times`,
        );
      }
      switch (step.kind) {
        case 'done':
          return 'done';
        case 'wait-for-stage':
          await this.#c.setRestore(row.id, { phase: 'creating-stage', progress: step.reason });
          return 'wait';
        case 'fail':
          throw new ConflictError(step.reason);
        case 'finish':
          await this.#finish(row, step.restart);
          return 'done';
        default:
          await strategy.run(step, row);
      }
    }
  }

  /** By the tenant's tier, not the cluster: an ha cluster mid-restore has no leader to prepare a target on. */
  async #strategyOf(row: RestoreRow): Promise<RestoreStrategy> {
    const q = this.#o.db.selectFrom('tenants').select('tier').where('slug', '=', row.tenant_slug);
    return this.#strategies[(await q.executeTakeFirstOrThrow()).tier as Tier];
  }

  /** Restarts the stage's processes (in place) and records the success; both are safe to repeat. */
  async #finish(row: RestoreRow, restart: boolean): Promise<void> {
    if (restart && row.mode === 'in-place') {
      await this.#c.setRestore(row.id, { phase: 'restarting', progress: "restarting the stage's processes" });
      await this.#o.runtime.restartStage(await this.#o.tenants.stageId(row.tenant_slug, row.target_stage));
    }
    const finishedAt = this.#o.clock.now();
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
        .where('status', '=', 'running')
        .execute();
      await this.#o.audit.record(tx, {
        actor: row.created_by,
        action: 'restore.succeeded',
        target: `tenant/${row.tenant_slug}/stage/${row.target_stage}/restore/${row.id}`,
        tenant: row.tenant_slug,
        details: {
          mode: row.mode,
          toTime: row.target_time.toISOString(),
          backup: row.backup_label,
          keptDatabase: row.kept_database,
          filesExport: row.files_export_id,
          files: row.files_note,
        },
      });
    });
    this.#o.logger
      .child({ restore: row.id, tenant: row.tenant_slug, stage: row.target_stage })
      .info({ ms: total }, 'restore done');
  }

  async #failRestore(row: RestoreRow, error: unknown): Promise<void> {
    const reason = message(error);
    const current = await this.#restoreRow(row.id);
    const log = this.#o.logger.child({ restore: row.id, tenant: row.tenant_slug, stage: row.target_stage });
    log.error({ err: reason, phase: current.phase }, 'restore failed');
    // Nothing half-made stays (the replacement, never swapped in; the staged files), unless the swap had begun.
    const { swapped } = await this.#strategyOf(current)
      .then((strategy) => strategy.cleanUp(current))
      .catch((cleanup: unknown) => {
        log.warn({ err: message(cleanup) }, 'clean-up after the failed restore failed');
        return { swapped: false };
      });
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
      tier: row.tier as Tier,
      database: row.database_name,
      name: row.name,
      previousName: row.previous_database_name,
      renamedAt: row.database_renamed_at,
    };
  }

  // --- restore tests (./restore-tests) ----------------------------------------------------------

  requestRestoreTest(
    tenant: string,
    stage: string,
    trigger: RestoreTestTrigger,
    actor: Principal,
    options: { readonly repo?: number } = {},
  ): Promise<RestoreTestView> {
    return this.tests.requestRestoreTest(tenant, stage, trigger, actor, options);
  }

  restoreTest(id: string): Promise<RestoreTestView> {
    return this.tests.restoreTest(id);
  }

  restoreTests(filter: { tenant?: string; stage?: string; limit?: number } = {}): Promise<RestoreTestView[]> {
    return this.tests.restoreTests(filter);
  }

  runRestoreTest(id: string): Promise<RestoreTestView> {
    return this.tests.runRestoreTest(id);
  }

  scheduledPass(): Promise<SchedulePassResult> {
    return this.tests.scheduledPass();
  }

  get handleRestoreTest(): JobHandler {
    return this.tests.handleRestoreTest;
  }

  get handleSchedule(): JobHandler {
    return this.tests.handleSchedule;
  }
}
