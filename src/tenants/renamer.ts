import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError } from '../core/errors.ts';
import { keptDatabaseAfterRename, newStageDatabaseName } from '../core/names.ts';
import { actorName, systemPrincipal } from '../core/policy.ts';
import type { DatabaseDriver } from '../databases/driver.ts';
import type { StageRenames } from '../databases/rename.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import type { StageRow } from './reconciler.ts';
import { planRename, type RenameStep, type StageNaming } from './rename-plan.ts';
import { chooseStageDatabaseName, markStageDatabaseRenamed } from './stage-store.ts';

/**
 * What a rename needs of a stage's restores (the restore service's table,
 * src/backups/kept-databases.ts): none may be running, and the databases
 * in-place restores kept (`<name>_pre_<time>`) are renamed along.
 */
export interface StageRestores {
  running(tenant: string, stage: string): Promise<boolean>;
  /** What in-place restores of the stage kept and nobody has discarded yet. */
  kept(tenant: string, stage: string): Promise<{ readonly restoreId: string; readonly name: string }[]>;
  /** Records that a kept database now has another name (only if it still has the old one). */
  keptRenamed(restoreId: string, from: string, to: string): Promise<void>;
}

export interface StageRenamerOptions {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly instancePrefix: string;
  readonly restartStage?: (stageId: string) => Promise<void>;
  readonly restores?: StageRestores;
}

type NamingRow = Pick<StageRow, 'database_name' | 'previous_database_name' | 'database_renamed_at'>;

export function stageNaming(stage: NamingRow, driver: DatabaseDriver | undefined): StageNaming {
  return {
    databaseName: stage.database_name,
    previousName: stage.previous_database_name,
    renamed: stage.database_renamed_at !== null,
    renamable: driver?.renames !== undefined,
  };
}

/**
 * The steps that give a stage created before opaque names its opaque name
 * (the plan and why: src/tenants/rename-plan.ts). The stage reconciler asks
 * for the next one before anything else on every pass.
 */
export class StageRenamer {
  readonly #o: StageRenamerOptions;

  constructor(options: StageRenamerOptions) {
    this.#o = options;
  }

  /** The next rename step, or undefined when there is none to take (now). */
  async plan(
    driver: DatabaseDriver,
    stage: StageRow,
    desired: 'present' | 'absent',
    log: Logger,
  ): Promise<{ readonly step: RenameStep; readonly reason: string } | undefined> {
    const naming = stageNaming(stage, driver);
    let plan = planRename(desired, naming);
    if (plan.kind === 'observe') {
      plan = planRename(desired, naming, await driver.renames?.observeRename(plan.from, plan.to));
    }
    if (plan.kind === 'conflict') throw new ConflictError(plan.reason);
    if (plan.kind !== 'step') return undefined;
    if (plan.step === 'choose-opaque-name' && (await this.#o.restores?.running(stage.slug, stage.name))) {
      // A restore works with the names it read when it began; the resync comes back once it has ended.
      log.info('a restore into the stage is running: its database keeps its name for now');
      return undefined;
    }
    return plan;
  }

  async act(driver: DatabaseDriver, step: RenameStep, stage: StageRow): Promise<void> {
    if (step === 'choose-opaque-name') return this.#chooseOpaqueName(stage);
    const renames = driver.renames;
    const from = stage.previous_database_name;
    if (!renames || from === null) {
      throw new Error(`rename step ${step} of stage ${stage.id} has nothing to rename`);
    }
    switch (step) {
      case 'block-logins':
        return renames.blockLogins(from);
      case 'rename-database':
        return renames.renameDatabase(from, stage.database_name);
      case 'rename-role':
        return renames.renameRole(from, stage.database_name);
      case 'drop-old-database':
        return driver.dropDatabase(from);
      case 'drop-old-role':
        return driver.dropRole(from);
      case 'resume':
        await this.#renameKept(renames, stage);
        // NOLOGIN came along with the rename; the same password, a fresh verifier.
        await driver.ensureRole(stage.database_name, await this.#o.secrets.get(stage.password_secret));
        await this.#o.restartStage?.(stage.id);
        await this.#o.db.transaction().execute(async (tx) => {
          if (await markStageDatabaseRenamed(tx, stage.id, this.#o.clock.now())) {
            await this.#record(tx, stage, 'stage.database.renamed', { from, to: stage.database_name });
          }
        });
        return;
    }
  }

  /** Records the old name and the new one together, so that a crash after either rename finds both. */
  async #chooseOpaqueName(stage: StageRow): Promise<void> {
    const to = newStageDatabaseName(this.#o.instancePrefix);
    await this.#o.db.transaction().execute(async (tx) => {
      if (await chooseStageDatabaseName(tx, stage.id, stage.database_name, to, this.#o.clock.now())) {
        await this.#record(tx, stage, 'stage.database.rename', {
          from: stage.database_name,
          to,
          why: 'database and role names must not name the customer',
        });
      }
    });
  }

  /** Databases in-place restores kept beside the stage follow its new name; each rename is recorded after it. */
  async #renameKept(renames: StageRenames, stage: StageRow): Promise<void> {
    for (const kept of (await this.#o.restores?.kept(stage.slug, stage.name)) ?? []) {
      const to = keptDatabaseAfterRename(kept.name, stage.database_name);
      if (to === undefined || to === kept.name) continue;
      const seen = await renames.observeRename(kept.name, to);
      if (seen.fromDatabase && seen.toDatabase) {
        throw new ConflictError(
          `databases ${kept.name} (kept by restore ${kept.restoreId}) and ${to} (its new name) both exist; drop the one that is not the kept database`,
        );
      }
      if (seen.fromDatabase) await renames.renameDatabase(kept.name, to);
      // Also when a kill -9 came between the rename and this record: the database has the new name only.
      if (seen.fromDatabase || seen.toDatabase) {
        await this.#o.restores?.keptRenamed(kept.restoreId, kept.name, to);
      }
    }
  }

  async #record(
    tx: Queryable,
    stage: StageRow,
    action: string,
    details: Record<string, string>,
  ): Promise<void> {
    await this.#o.audit.record(tx, {
      actor: actorName(systemPrincipal),
      action,
      target: `tenant/${stage.slug}/stage/${stage.name}`,
      tenant: stage.slug,
      details,
    });
  }
}
