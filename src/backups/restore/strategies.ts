import type { RestoreMode } from '../restore-plan.ts';
import type { BackupTarget } from '../service.ts';
import { ClusterRestore } from './cluster-restore.ts';
import type { RestoreContext } from './context.ts';
import { CopyRestore, type CopyClusters } from './copy-restore.ts';
import { RestoreFiles } from './files.ts';
import type { RestoreObserved, RestoreStep } from './planner.ts';
import type { RestoreRow, RestoreStrategy, RestoreTier } from './strategy.ts';

/**
 * The shared tier: the stage's database alone comes back (--db-include) into
 * a scratch instance next to the shared cluster, is copied into a
 * replacement database and swapped in: into a new stage (its empty database
 * goes), or in place (the old database is kept under `<name>_pre_<time>`
 * until `restore discard`).
 */
export class SharedRestore implements RestoreStrategy {
  readonly tier = 'shared';
  readonly #c: RestoreContext;
  readonly #copy: CopyRestore;

  constructor(context: RestoreContext, copy: CopyRestore) {
    this.#c = context;
    this.#copy = copy;
  }

  refusal(): string | undefined {
    return undefined;
  }

  keepsDatabase(mode: RestoreMode): boolean {
    return mode === 'in-place';
  }

  async #clusters(row: RestoreRow): Promise<CopyClusters> {
    const source = await this.#c.deps.backups.target(row.cluster);
    return { source, destination: source };
  }

  async observe(row: RestoreRow): Promise<RestoreObserved> {
    return this.#copy.observe(row, await this.#clusters(row));
  }

  async run(step: RestoreStep, row: RestoreRow): Promise<void> {
    await this.#copy.run(step, row, await this.#clusters(row));
  }

  async cleanUp(row: RestoreRow): Promise<{ swapped: boolean }> {
    return this.#copy.cleanUp(row, await this.#clusters(row), { dropReplacement: true });
  }
}

/**
 * The dedicated tier: in place, the stage's own cluster goes back to the time
 * as a whole (a delta restore: ClusterRestore). Into a new stage (which has a
 * cluster of its own, as the tenant is dedicated), the whole cluster comes
 * back into a scratch instance from the stage's own stanza, and the database
 * is copied into the new stage's cluster.
 */
export class DedicatedRestore implements RestoreStrategy {
  readonly tier = 'dedicated';
  readonly #c: RestoreContext;
  readonly #copy: CopyRestore;
  readonly #cluster: ClusterRestore;

  constructor(context: RestoreContext, copy: CopyRestore, cluster: ClusterRestore) {
    this.#c = context;
    this.#copy = copy;
    this.#cluster = cluster;
  }

  refusal(): string | undefined {
    return undefined;
  }

  keepsDatabase(): boolean {
    return false;
  }

  /**
   * The source stanza, and the new stage's cluster the copy goes into. That
   * one is prepared for backups first: preparing it turns archiving on, which
   * restarts it once, and the new stage's own backup job would otherwise do
   * so under the copy.
   */
  async #clusters(row: RestoreRow, source: BackupTarget): Promise<CopyClusters> {
    return {
      source,
      destination: await this.#c.deps.backups.stageTarget(row.tenant_slug, row.target_stage),
    };
  }

  async observe(row: RestoreRow): Promise<RestoreObserved> {
    const source = await this.#c.deps.backups.target(row.cluster);
    if (row.mode === 'in-place') return this.#cluster.observe(row, source);
    // The new stage's cluster is not there until the stage is ready.
    const ready = await this.#copy.observe(row, { source, destination: source });
    if (ready.targetStage.state !== 'ready') return ready;
    return this.#copy.observe(row, await this.#clusters(row, source));
  }

  async run(step: RestoreStep, row: RestoreRow): Promise<void> {
    const source = await this.#c.deps.backups.target(row.cluster);
    if (row.mode === 'in-place') return this.#cluster.run(step, row, source);
    return this.#copy.run(step, row, await this.#clusters(row, source));
  }

  async cleanUp(row: RestoreRow): Promise<{ swapped: boolean }> {
    const source = await this.#c.deps.backups.target(row.cluster);
    if (row.mode === 'in-place') return this.#cluster.cleanUp(row, source);
    // The replacement is in the new stage's own cluster, which goes with the stage.
    const clusters = await this.#clusters(row, source).catch(() => ({ source, destination: source }));
    return this.#copy.cleanUp(row, clusters, { dropReplacement: false });
  }
}

/**
 * The ha tier. Into a new stage (an ha stage of its own), as the dedicated
 * tier: the cluster's backup, taken on a standby, comes back into a scratch
 * next to the leader and the database is copied into the new stage's
 * cluster through its leader. In place, the steps exist (./ha-restore.ts:
 * HaClusterRestore, proven on a real three-member cluster) but are not yet
 * run from here: they stop every member, and the ha tier's member keeper
 * would start them again under the restore; until it leaves a paused
 * stage's members alone, an in-place restore is refused.
 */
export class HaRestore implements RestoreStrategy {
  readonly tier = 'ha';
  readonly #c: RestoreContext;
  readonly #copy: CopyRestore;

  constructor(context: RestoreContext, copy: CopyRestore) {
    this.#c = context;
    this.#copy = copy;
  }

  refusal(mode: RestoreMode): string | undefined {
    return mode === 'in-place'
      ? 'in-place point-in-time restore is not yet available (restore into a new stage instead)'
      : undefined;
  }

  keepsDatabase(): boolean {
    return false;
  }

  async #clusters(row: RestoreRow): Promise<CopyClusters> {
    return {
      source: await this.#c.deps.backups.target(row.cluster),
      destination: await this.#c.deps.backups.stageTarget(row.tenant_slug, row.target_stage),
    };
  }

  async observe(row: RestoreRow): Promise<RestoreObserved> {
    const source = await this.#c.deps.backups.target(row.cluster);
    // The new stage's cluster is not there until the stage is ready.
    const ready = await this.#copy.observe(row, { source, destination: source });
    if (ready.targetStage.state !== 'ready') return ready;
    return this.#copy.observe(row, await this.#clusters(row));
  }

  async run(step: RestoreStep, row: RestoreRow): Promise<void> {
    return this.#copy.run(step, row, await this.#clusters(row));
  }

  async cleanUp(row: RestoreRow): Promise<{ swapped: boolean }> {
    const source = await this.#c.deps.backups.target(row.cluster);
    // The replacement is in the new stage's own cluster, which goes with the stage.
    const clusters = await this.#clusters(row).catch(() => ({ source, destination: source }));
    return this.#copy.cleanUp(row, clusters, { dropReplacement: false });
  }
}

/** One strategy per tier. */
export function restoreStrategies(context: RestoreContext): Readonly<Record<RestoreTier, RestoreStrategy>> {
  const files = new RestoreFiles(context);
  const copy = new CopyRestore(context, files);
  return {
    shared: new SharedRestore(context, copy),
    dedicated: new DedicatedRestore(context, copy, new ClusterRestore(context, files)),
    ha: new HaRestore(context, copy),
  };
}
