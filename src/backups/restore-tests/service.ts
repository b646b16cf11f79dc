import { randomUUID } from 'node:crypto';
import { ConflictError, InputError, NotFoundError, isStewardError, showValue } from '../../core/errors.ts';
import { actorName, systemPrincipal, type Principal } from '../../core/policy.ts';
import { withClient } from '../../databases/client.ts';
import { enqueue } from '../../jobs/queue.ts';
import type { JobHandler } from '../../jobs/runner.ts';
import { activeRelease } from '../../runtime/deployments.ts';
import { compareFingerprints, takeFingerprint } from '../fingerprint.ts';
import { openScratchForApp, scratchStageConnection } from '../restore/app-access.ts';
import { message, type RestoreContext } from '../restore/context.ts';
import { restorableRanges, type RestorableRange } from '../restore/range.ts';
import { restoreIntoScratch, type ScratchInstance } from '../restore/scratch.ts';
import { waitForArchivedWal } from '../restore/wal.ts';
import { RestoreTestFingerprints } from './fingerprints.ts';
import {
  testView,
  type AppVerification,
  type RestoreTestRow,
  type RestoreTestVerification,
  type RestoreTestView,
  type SchedulePassResult,
} from './views.ts';
import {
  describeMismatches,
  dueRestoreTests,
  lastOutputLines,
  nextRestoreTestDue,
  repoForScheduledTest,
  tableChecks,
  type RestoreTestPhase,
  type RestoreTestTrigger,
  type ScheduledStage,
} from '../restore-plan.ts';
import type { BackupRun } from '../runs.ts';
import { keysetPage, type Page, type PageRequest } from '../../store/keyset.ts';
import type { BackupTarget } from '../service.ts';

export const restoreTestJobKind = 'restore-test';
export const restoreTestScheduleJobKind = 'restore-test-schedule';
export const restoreTestScheduleKey = 'all';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const hour = 3_600_000;

/** What a restore test established so far: kept with its outcome, whether it succeeded or not. */
interface RestoreTestEvidence {
  repo?: number;
  label?: string;
  stoppedAt?: Date;
  restorePoint?: string;
  rpoSeconds?: number;
  rtoMs?: number;
  verification?: RestoreTestVerification;
}

/**
 * Restore tests (issue 5) and the evidence they leave: a restore test
 * restores the newest backup that has a fingerprint of the stage's database,
 * to the restore point the fingerprint was taken at, into a scratch
 * instance; compares per-table fingerprints; runs the app's own verify
 * command against it when the stage's release has one; tears it down; and
 * records the evidence (RPO, RTO, verification). Fingerprints are taken
 * after each good backup (afterBackup), for the databases of the stages
 * whose restore tests are scheduled (prod by default): locking and reading
 * every table of every stage after every backup would cost every tenant
 * twice the I/O of its backups. A restore test of another stage takes a
 * fingerprint of its own at a new restore point after the newest backup.
 *
 * Tests run as `restore-test` jobs; the `restore-test-schedule` job starts
 * the scheduled ones. A test interrupted by a crash runs again from the
 * start (its scratch went with Steward; cleanScratch removes what is left).
 */
export class RestoreTestService {
  readonly #c: RestoreContext;
  readonly #fingerprints: RestoreTestFingerprints;

  constructor(context: RestoreContext) {
    this.#c = context;
    this.#fingerprints = new RestoreTestFingerprints(context);
  }

  /**
   * The onBackupSucceeded hook: fingerprints the databases of the stages on
   * the cluster whose restore tests are scheduled, at restore points made
   * right after the backup, and keeps them with the backup's label.
   */
  afterBackup(target: BackupTarget, run: BackupRun): Promise<number> {
    return this.#fingerprints.afterBackup(target, run);
  }

  /** Queues the schedule's job (once: its key coalesces). */
  async start(): Promise<void> {
    await this.#c.deps.db
      .transaction()
      .execute((tx) => enqueue(tx, restoreTestScheduleJobKind, restoreTestScheduleKey));
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
    await this.#c.deps.tenants.stageId(tenant, stage);
    const located = await this.#c.deps.backups.stageCluster(tenant, stage);
    if (located.stanza === null) {
      throw new ConflictError(`stage ${tenant}/${stage} has no physical backups to test: ${located.reason}`);
    }
    if (options.repo !== undefined) {
      const info = await this.#c.deps.backups.info(located.stanza);
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
      await this.#c.deps.db.transaction().execute(async (tx) => {
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
            started_at: this.#c.deps.clock.now(),
          })
          .execute();
        await enqueue(tx, restoreTestJobKind, id);
        if (trigger === 'manual') {
          await this.#c.deps.audit.record(tx, {
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
      const open = await this.#c.deps.db
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
      ? await this.#c.deps.db.selectFrom('restore_tests').selectAll().where('id', '=', id).executeTakeFirst()
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
    const rows = await (
      await this.#filtered(filter)
    )
      .orderBy('started_at', 'desc')
      .limit(filter.limit ?? 200)
      .execute();
    return rows.map((r) => testView(r));
  }

  /** One page of restore tests (keyset on started_at and id). */
  async restoreTestPage(
    filter: { tenant?: string | undefined; stage?: string | undefined },
    page: PageRequest<'started'>,
  ): Promise<Page<RestoreTestView>> {
    const rows = await keysetPage(await this.#filtered(filter), { sort: 'started_at', id: 'id' }, page);
    return { ...rows, items: rows.items.map((r) => testView(r)) };
  }

  async #filtered(filter: { tenant?: string | undefined; stage?: string | undefined }) {
    if (filter.tenant !== undefined) await this.#c.deps.tenants.show(filter.tenant);
    let query = this.#c.deps.db.selectFrom('restore_tests').selectAll();
    if (filter.tenant !== undefined) query = query.where('tenant_slug', '=', filter.tenant);
    if (filter.stage !== undefined) query = query.where('stage_name', '=', filter.stage);
    return query;
  }

  /** The restore-test job. A test interrupted by a crash runs again from the start. */
  readonly handleRestoreTest: JobHandler = async (job) => {
    const row = await this.#c.deps.db
      .selectFrom('restore_tests')
      .selectAll()
      .where('id', '=', job.key)
      .executeTakeFirst();
    if (!row || row.status !== 'running') return { kind: 'done' };
    if (this.#c.signal.aborted) return { kind: 'requeue', afterMs: 1000 };
    await this.runRestoreTest(row.id);
    if (this.#c.signal.aborted) {
      const after = await this.#c.deps.db
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
    const last = await this.#c.deps.db
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
    const row = await this.#c.deps.db
      .selectFrom('restore_tests')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    if (row.status !== 'running') return testView(row);
    const log = this.#c.deps.logger.child({
      restoreTest: id,
      tenant: row.tenant_slug,
      stage: row.stage_name,
    });
    const signal = this.#c.signal;
    const startedAt = this.#c.deps.clock.now();
    const evidence: RestoreTestEvidence = {};
    let scratch: ScratchInstance | undefined;
    try {
      const stage = await this.#c.deps.db
        .selectFrom('stages')
        .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
        .select(['stages.id', 'stages.database_name', 'stages.desired'])
        .where('tenants.slug', '=', row.tenant_slug)
        .where('stages.name', '=', row.stage_name)
        .executeTakeFirst();
      if (!stage || stage.desired === 'absent') throw new ConflictError('the stage was removed');
      const database = stage.database_name;
      const target = await this.#c.deps.backups.target(row.cluster);
      const info = await target.driver.info();
      const range = await this.#repoToTest(
        row,
        restorableRanges(info, `${row.tenant_slug}/${row.stage_name}`),
      );
      if (!range) throw new ConflictError(`cluster ${row.cluster} has no good backup to test yet`);
      const own = await this.#c.asStage(row.tenant_slug, row.stage_name);
      const chosen = await this.#fingerprints.forTest(id, target, range, { database, connection: own });
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
        parentDir: this.#c.scratchDir(target),
        repo: range.repo,
        set: chosen.backup.label,
        target: { kind: 'name', name: chosen.restorePoint },
        databases: await this.#c.restoredDatabases(this.#c.superuser(target), database),
        timeoutMs: this.#c.settings.restoreTimeoutMinutes * 60_000,
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

  /** The app's verify command against the scratch, when the stage's release has one. */
  async #appVerify(
    stageId: string,
    scratch: ScratchInstance,
    target: BackupTarget,
    access: { readonly database: string; readonly role: string },
  ): Promise<AppVerification | null> {
    // Only when there is something to run: opening the scratch to the app costs a restart of it.
    if (!(await activeRelease(this.#c.deps.db, stageId))?.definition.verify?.command) return null;
    const url = await openScratchForApp(scratch, {
      database: access.database,
      role: access.role,
      binDir: target.cluster.binDir,
      user: target.cluster.user,
    });
    const result = await this.#c.deps.runtime.runVerify(stageId, url);
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
    evidence: RestoreTestEvidence,
  ): Promise<RestoreTestView> {
    await this.#c.deps.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('restore_tests')
        .set({
          status,
          phase: 'done',
          error: error?.slice(0, 4000) ?? null,
          rto_ms: evidence.rtoMs ?? null,
          verification: evidence.verification ? JSON.stringify(evidence.verification) : null,
          finished_at: this.#c.deps.clock.now(),
        })
        .where('id', '=', row.id)
        .execute();
      // A failed restore test is an error event: monitoring alerts on it.
      await this.#c.deps.audit.record(tx, {
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
    await this.#c.deps.db.updateTable('restore_tests').set(values).where('id', '=', id).execute();
  }

  // --- the schedule ---------------------------------------------------------------------------

  /**
   * One pass of the restore-test schedule: every stage whose restore tests
   * are scheduled (prod by default), on a cluster with a good backup, whose
   * last test is at least restoreTestEveryHours old, gets one.
   */
  async scheduledPass(): Promise<SchedulePassResult> {
    const now = this.#c.deps.clock.now();
    const every = this.#c.settings.restoreTestEveryHours * hour;
    const stages = await this.#c.deps.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['tenants.slug', 'stages.name'])
      .where('stages.desired', '=', 'present')
      .where('tenants.desired', '=', 'present')
      .where('stages.phase', '=', 'ready')
      .where('stages.name', 'in', [...this.#c.settings.restoreTestStages, ''])
      .orderBy('tenants.slug')
      .execute();
    const candidates: ScheduledStage[] = [];
    for (const stage of stages) {
      const located = await this.#c.deps.backups.stageCluster(stage.slug, stage.name).catch(() => null);
      if (!located?.stanza) continue;
      // A stage whose cluster has no good backup yet has nothing to test: no failure, no alert.
      const info = await this.#c.deps.backups.info(located.stanza).catch(() => undefined);
      if (!info || restorableRanges(info).length === 0) continue;
      const last = await this.#c.deps.db
        .selectFrom('restore_tests')
        .select(['started_at', 'status'])
        .where('tenant_slug', '=', stage.slug)
        .where('stage_name', '=', stage.name)
        .orderBy('started_at', 'desc')
        .executeTakeFirst();
      const running = await this.#c.deps.db
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
        this.#c.deps.logger.warn(
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
    if (this.#c.signal.aborted) return { kind: 'requeue', afterMs: 1000 };
    const pass = await this.scheduledPass();
    const now = this.#c.deps.clock.now().getTime();
    const next = pass.nextDue ? pass.nextDue.getTime() - now : hour;
    return { kind: 'requeue', afterMs: Math.max(60_000, Math.min(hour, next)) };
  };
}

class VerificationFailed extends Error {}
