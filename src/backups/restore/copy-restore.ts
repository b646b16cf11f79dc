import { InternalError } from '../../core/errors.ts';
import { withClient } from '../../databases/client.ts';
import { quoteIdent } from '../../databases/sql.ts';
import { compareFingerprints, takeFingerprint } from '../fingerprint.ts';
import { describeMismatches, tableChecks } from '../restore-plan.ts';
import type { BackupTarget } from '../service.ts';
import { scratchStageConnection } from './app-access.ts';
import type { RestoreContext } from './context.ts';
import { message } from './context.ts';
import { closeCopyTarget, copyDatabase, keptDatabaseName, openCopyTarget, swapDatabases } from './copy.ts';
import type { RestoreFiles } from './files.ts';
import { swapBegun, type CopyObserved, type RestoreStep, type TargetStageObserved } from './planner.ts';
import { isoSeconds } from './range.ts';
import { restoreIntoScratch } from './scratch.ts';
import type { RestoreRow } from './strategy.ts';

/** Where a copying restore reads (the restored stanza's cluster) and where its copy goes. */
export interface CopyClusters {
  readonly source: BackupTarget;
  /** The cluster of the target stage's database: the source itself, or a new dedicated stage's own. */
  readonly destination: BackupTarget;
}

/**
 * The steps of a restore that copies one database: the target time comes
 * back into a scratch instance next to the restored cluster, the stage's
 * database is copied out of it into a replacement database in the target's
 * cluster as the target's own role, checked against the scratch, and swapped
 * in. The shared tier restores this way, and every tier into a new stage.
 */
export class CopyRestore {
  readonly #c: RestoreContext;
  readonly #files: RestoreFiles;

  constructor(context: RestoreContext, files: RestoreFiles) {
    this.#c = context;
    this.#files = files;
  }

  /** The name a swap sets the live database aside under: kept (in place) or dropped (into). */
  #keepAs(row: RestoreRow): string {
    return row.kept_database ?? keptDatabaseName(row.target_database, row.created_at);
  }

  async observe(row: RestoreRow, clusters: CopyClusters): Promise<CopyObserved> {
    const targetStage = await this.#targetStage(row);
    const names = [row.target_database, row.replacement_database, this.#keepAs(row)];
    const present =
      targetStage.state === 'ready' || row.mode === 'in-place'
        ? await withClient(this.#c.superuser(clusters.destination), async (c) => {
            const found = await c.query<{ datname: string }>(
              'select datname from pg_catalog.pg_database where datname operator(pg_catalog.=) any($1::pg_catalog.text[])',
              [names],
            );
            return new Set(found.rows.map((r) => r.datname));
          })
        : new Set([row.target_database]);
    return {
      method: 'copy',
      targetStage,
      databases: {
        live: present.has(names[0]!),
        replacement: present.has(names[1]!),
        kept: present.has(names[2]!),
      },
      stagedFiles: await this.#files.staged(row),
    };
  }

  async #targetStage(row: RestoreRow): Promise<TargetStageObserved> {
    const stage = await this.#c.deps.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.phase', 'stages.reason', 'stages.desired'])
      .where('tenants.slug', '=', row.tenant_slug)
      .where('stages.name', '=', row.target_stage)
      .executeTakeFirst();
    const waitedMs = this.#c.deps.clock.now().getTime() - row.created_at.getTime();
    const timeoutMs = this.#c.settings.stageReadyTimeoutMinutes * 60_000;
    if (!stage || stage.desired === 'absent') {
      return { state: 'absent', reason: '', phase: '', waitedMs, timeoutMs };
    }
    const state = stage.phase === 'ready' ? 'ready' : stage.phase === 'failed' ? 'failed' : 'pending';
    return { state, reason: stage.reason, phase: stage.phase, waitedMs, timeoutMs };
  }

  async run(step: RestoreStep, row: RestoreRow, clusters: CopyClusters): Promise<void> {
    switch (step.kind) {
      case 'archive':
        return this.#c.archive(row, clusters.source);
      case 'copy':
        return this.#copy(row, clusters);
      case 'stage-files':
        return this.#files.stage(row);
      case 'swap-databases': {
        const started = Date.now();
        await this.#c.setRestore(row.id, {
          phase: 'swapping',
          progress: `swapping the restored copy in as ${row.target_database}`,
        });
        await withClient(this.#c.superuser(clusters.destination), (c) =>
          swapDatabases(c, {
            live: row.target_database,
            replacement: row.replacement_database,
            keepAs: this.#keepAs(row),
          }),
        );
        return this.#c.addTimings(row.id, { swapMs: Date.now() - started });
      }
      case 'drop-set-aside':
        // Into a new stage: the empty database it was made with goes.
        await withClient(this.#c.superuser(clusters.destination), (c) =>
          c.query(`drop database if exists ${quoteIdent(this.#keepAs(row))} with (force)`),
        );
        return;
      case 'swap-files':
        return this.#files.swap(row);
      default:
        throw new InternalError(`a copying restore has no step ${step.kind}`);
    }
  }

  /**
   * The target time into a scratch, the copy out of it, and its check: one
   * step, as the scratch does not outlive Steward (cleanScratch removes what
   * a dead one left). Redone whole after a crash; the replacement goes first.
   */
  async #copy(row: RestoreRow, { source, destination }: CopyClusters): Promise<void> {
    const signal = this.#c.signal;
    const sourceAdmin = this.#c.superuser(source);
    const admin = this.#c.superuser(destination);
    const deadline = Date.now() + this.#c.settings.restoreTimeoutMinutes * 60_000;
    await this.#c.dropReplacement(admin, row.replacement_database);
    await this.#c.setRestore(row.id, {
      phase: 'restoring',
      progress: `restoring ${row.source_database} from backup ${row.backup_label} in repo${row.repo} to ${isoSeconds(row.target_time)} into a scratch instance`,
    });
    const scratch = await restoreIntoScratch({
      configPath: source.configPath,
      stanza: source.stanza,
      binDir: source.cluster.binDir,
      user: source.cluster.user,
      parentDir: this.#c.scratchDir(source),
      repo: row.repo,
      set: row.backup_label,
      target: { kind: 'time', time: row.target_time },
      // A cluster of the stage's own (dedicated, ha) holds its database alone: it comes back whole.
      databases:
        source.kind !== 'shared'
          ? undefined
          : await this.#c.restoredDatabases(
              sourceAdmin,
              row.source_database_in_backup ?? row.source_database,
            ),
      ...(row.source_database_in_backup
        ? { renamed: { [row.source_database_in_backup]: row.source_database } }
        : {}),
      timeoutMs: Math.max(60_000, deadline - Date.now()),
      signal,
    });
    await this.#c.addTimings(row.id, { restoreMs: scratch.durationMs });
    try {
      await this.#c.setRestore(row.id, {
        phase: 'copying',
        progress: `copying ${row.source_database} out of the scratch into ${row.replacement_database} as role ${row.target_database}`,
      });
      // No superuser enters either database: the tenant's code in them runs as its own roles.
      const to = await this.#c.asStage(row.tenant_slug, row.target_stage, row.replacement_database);
      await withClient(admin, (c) => openCopyTarget(c, row.replacement_database, to.user));
      const from = await scratchStageConnection(scratch, {
        database: row.source_database,
        role: (await this.#c.asStage(row.tenant_slug, row.source_stage)).user,
      });
      const copied = await copyDatabase({
        from,
        to,
        binDir: destination.cluster.binDir,
        timeoutMs: Math.max(60_000, deadline - Date.now()),
        signal,
      });
      await this.#c.addTimings(row.id, { copyMs: copied.durationMs });
      await this.#c.setRestore(row.id, {
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
      // Recorded last: the planner reads it as "a verified copy exists".
      await this.#c.setRestore(row.id, { fingerprint: JSON.stringify(restored.tables) });
      await this.#c.addTimings(row.id, { verifyMs: Date.now() - verifyStarted });
    } finally {
      await scratch.remove().catch((error: unknown) => {
        this.#c.deps.logger.warn({ restore: row.id, err: message(error) }, 'scratch removal failed');
      });
    }
  }

  /**
   * After a failure: unless the swap had begun (the stage then holds the
   * restore), the replacement and the staged files go. Says whether it had.
   */
  async cleanUp(
    row: RestoreRow,
    clusters: CopyClusters,
    options: { readonly dropReplacement: boolean },
  ): Promise<{ swapped: boolean }> {
    const observed = await this.observe(row, clusters).catch(() => undefined);
    if (observed && swapBegun(observed, row)) return { swapped: true };
    if (options.dropReplacement) {
      try {
        await this.#c.dropReplacement(this.#c.superuser(clusters.destination), row.replacement_database);
      } catch (error) {
        this.#c.deps.logger.warn(
          { restore: row.id, err: message(error) },
          'the replacement database was not dropped',
        );
      }
    }
    await this.#files.removeStaged(row);
    return { swapped: false };
  }
}
