import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { systemPrincipal, actorName } from '../core/policy.ts';
import { backoff, isTransient } from '../core/retry.ts';
import { driverFor, type DatabaseDriver, type DatabaseDrivers } from '../databases/driver.ts';
import { enqueue } from '../jobs/queue.ts';
import type { ClaimedJob, JobOutcome } from '../jobs/queue.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import type { FilesDriver } from './files.ts';
import { planStage, type ObservedStage, type StageStep } from './plan.ts';
import { planRename } from './rename-plan.ts';
import { StageRenamer, stageNaming, type StageRestores } from './renamer.ts';
import { stageJobKind } from './service.ts';
import { deleteRemovedStage, markStageReady, setStagePhase } from './stage-store.ts';

export type ReconcileResult =
  | { readonly kind: 'converged'; readonly reason: string }
  | { readonly kind: 'wait'; readonly afterMs: number; readonly reason: string };

export interface StageReconcilerOptions {
  readonly db: ControlDb;
  readonly drivers: DatabaseDrivers;
  readonly files: FilesDriver;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly instancePrefix: string;
  /** Stops and starts a stage's processes: after a rename their DATABASE_URL names the new database. */
  readonly restartStage?: (stageId: string) => Promise<void>;
  /** The restores of a stage, whose kept databases follow it when it is renamed. */
  readonly restores?: StageRestores;
}

export interface StageRow {
  readonly id: string;
  readonly name: string;
  readonly desired: string;
  readonly database_name: string;
  readonly previous_database_name: string | null;
  readonly database_renamed_at: Date | null;
  readonly password_secret: string;
  readonly files_dir: string;
  readonly paused: boolean;
  readonly generation: number;
  readonly phase: string;
  readonly slug: string;
  readonly tier: string;
  readonly tenant_id: string;
}

/** A step that fails this many times in a row puts the stage in phase `failed`. */
const maxAttempts = 8;

/**
 * Drives one stage's database, role and files to its desired state. Level
 * triggered: each pass re-reads desired and observed state and takes the
 * steps the planner names, re-observing after each, until converged.
 */
export class StageReconciler {
  readonly #o: StageReconcilerOptions;
  readonly #renamer: StageRenamer;

  constructor(options: StageReconcilerOptions) {
    this.#o = options;
    this.#renamer = new StageRenamer(options);
  }

  /** The job handler: a pass, with transient failures retried and terminal ones recorded. */
  readonly handle = async (job: ClaimedJob): Promise<JobOutcome> => {
    try {
      const result = await this.reconcile(job.key);
      return result.kind === 'converged' ? { kind: 'done' } : { kind: 'requeue', afterMs: result.afterMs };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const attempts = job.attempts + 1;
      const terminal = !isTransient(error) && attempts >= maxAttempts;
      await this.#setPhase(
        job.key,
        terminal ? 'failed' : undefined,
        `${terminal ? '' : `attempt ${attempts}: `}${message}`,
      );
      this.#o.logger.warn({ stage: job.key, attempts, err: message }, 'stage reconcile failed');
      if (terminal) return { kind: 'done' };
      return { kind: 'retry', afterMs: backoff(job.attempts, 500, 30_000), error: message };
    }
  };

  async reconcile(stageId: string): Promise<ReconcileResult> {
    let stage = await this.#stage(stageId);
    if (!stage) return { kind: 'converged', reason: 'stage no longer exists' };
    const log = this.#o.logger.child({ tenant: stage.slug, stage: stage.name });
    if (stage.paused) {
      await this.#setPhase(stage.id, 'paused', 'reconciliation is paused for this stage');
      return { kind: 'converged', reason: 'paused' };
    }
    const driver = driverFor(this.#o.drivers, stage.tier);
    if (!driver) {
      await this.#setPhase(
        stage.id,
        'failed',
        `tier ${stage.tier} has no database driver on this installation`,
      );
      return { kind: 'converged', reason: 'no driver' };
    }
    const desired = stage.desired === 'absent' ? 'absent' : 'present';
    for (let steps = 0; steps < 16; steps++) {
      const rename = await this.#renamer.plan(driver, stage, desired, log);
      if (rename) {
        await this.#setPhase(stage.id, desired === 'present' ? 'provisioning' : 'deleting', rename.reason);
        log.info({ step: rename.step }, rename.reason);
        await this.#renamer.act(driver, rename.step, stage);
        stage = (await this.#stage(stageId)) ?? stage;
        continue;
      }
      const observed = await this.#observe(driver, stage.database_name, stage.files_dir);
      const plan = planStage(desired, observed);
      if (plan.kind === 'converged') {
        if (desired === 'present') {
          await markStageReady(
            this.#o.db,
            stage,
            'database, role and files directory are in place',
            this.#o.clock.now(),
          );
        } else {
          await this.#forget(stage);
        }
        log.debug({ desired }, 'stage converged');
        return { kind: 'converged', reason: desired };
      }
      await this.#setPhase(stage.id, desired === 'present' ? 'provisioning' : 'deleting', plan.reason);
      log.debug({ step: plan.step }, plan.reason);
      await this.#act(driver, plan.step, stage.database_name, stage.password_secret, stage.files_dir);
    }
    return { kind: 'wait', afterMs: 1000, reason: 'did not converge within one pass' };
  }

  async #stage(stageId: string): Promise<StageRow | undefined> {
    return this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select([
        'stages.id',
        'stages.name',
        'stages.desired',
        'stages.database_name',
        'stages.previous_database_name',
        'stages.database_renamed_at',
        'stages.password_secret',
        'stages.files_dir',
        'stages.paused',
        'stages.generation',
        'stages.phase',
        'tenants.slug',
        'tenants.tier',
        'tenants.id as tenant_id',
      ])
      .where('stages.id', '=', stageId)
      .executeTakeFirst();
  }

  /**
   * Finds stages whose database or role went missing behind Steward's back,
   * and stages whose database and role still carry their tenant's name
   * (created before opaque names), and queues them.
   */
  async resync(): Promise<number> {
    const databases = new Set<string>();
    const roles = new Set<string>();
    for (const driver of Object.values(this.#o.drivers) as (DatabaseDriver | undefined)[]) {
      if (!driver) continue;
      const inventory = await driver.inventory(this.#o.instancePrefix);
      for (const name of inventory.databases) databases.add(name);
      for (const name of inventory.roles) roles.add(name);
    }
    const stages = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select([
        'stages.id',
        'stages.database_name',
        'stages.previous_database_name',
        'stages.database_renamed_at',
        'stages.phase',
        'stages.desired',
        'stages.paused',
        'tenants.tier',
      ])
      .execute();
    const due = stages.filter(
      (s) =>
        !s.paused &&
        (s.phase !== 'ready' ||
          s.desired === 'absent' ||
          !databases.has(s.database_name) ||
          !roles.has(s.database_name) ||
          planRename('present', stageNaming(s, driverFor(this.#o.drivers, s.tier))).kind !== 'converged'),
    );
    if (due.length > 0) {
      await this.#o.db.transaction().execute(async (tx) => {
        for (const s of due) await enqueue(tx, stageJobKind, s.id);
      });
    }
    return due.length;
  }

  async #observe(driver: DatabaseDriver, name: string, filesDir: string): Promise<ObservedStage> {
    const [database, filesDirExists] = await Promise.all([
      driver.observe(name),
      this.#o.files.exists(filesDir),
    ]);
    return { database, filesDirExists };
  }

  async #act(
    driver: DatabaseDriver,
    step: StageStep,
    name: string,
    passwordSecret: string,
    filesDir: string,
  ): Promise<void> {
    switch (step) {
      case 'ensure-server':
        return driver.ensureServer(name);
      case 'ensure-role':
        return driver.ensureRole(name, await this.#o.secrets.get(passwordSecret));
      case 'ensure-database':
        return driver.ensureDatabase(name);
      case 'restrict-access':
        return driver.restrictAccess(name);
      case 'ensure-files':
        return this.#o.files.ensure(filesDir);
      case 'drop-database':
        return driver.dropDatabase(name);
      case 'drop-role':
        return driver.dropRole(name);
      case 'remove-files':
        return this.#o.files.remove(filesDir);
    }
  }

  /** Everything is gone: remove the stage's rows and secret, and the tenant once it has no stages. */
  async #forget(stage: {
    id: string;
    name: string;
    slug: string;
    tenant_id: string;
    password_secret: string;
  }) {
    await this.#o.db.transaction().execute(async (tx) => {
      if (!(await deleteRemovedStage(tx, stage.id))) return;
      await this.#o.secrets.remove(tx, stage.password_secret);
      await this.#o.audit.record(tx, {
        actor: actorName(systemPrincipal),
        action: 'stage.deleted',
        target: `tenant/${stage.slug}/stage/${stage.name}`,
        tenant: stage.slug,
        details: { removed: ['database', 'role', 'files', 'secret'] },
      });
      await removeTenantIfEmpty(tx, stage.tenant_id, this.#o.audit);
    });
  }

  async #setPhase(stageId: string, phase: string | undefined, reason: string): Promise<void> {
    await setStagePhase(this.#o.db, stageId, phase, reason, this.#o.clock.now());
  }
}

/** A tenant being deleted goes once its last stage has. */
export async function removeTenantIfEmpty(
  tx: Queryable,
  tenantId: string,
  audit: AuditService,
): Promise<void> {
  const tenant = await tx
    .selectFrom('tenants')
    .select(['slug', 'desired'])
    .where('id', '=', tenantId)
    .forUpdate()
    .executeTakeFirst();
  if (!tenant || tenant.desired !== 'absent') return;
  const remaining = await tx
    .selectFrom('stages')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .limit(1)
    .execute();
  if (remaining.length > 0) return;
  await tx.deleteFrom('tenants').where('id', '=', tenantId).execute();
  await audit.record(tx, {
    actor: actorName(systemPrincipal),
    action: 'tenant.deleted',
    target: `tenant/${tenant.slug}`,
    tenant: tenant.slug,
  });
}

export async function reconcileTenant(
  db: ControlDb,
  audit: AuditService,
  tenantId: string,
): Promise<JobOutcome> {
  await db.transaction().execute((tx) => removeTenantIfEmpty(tx, tenantId, audit));
  return { kind: 'done' };
}
