import { join } from 'node:path';
import { ConflictError } from '../../core/errors.ts';
import { postgresRunAs } from '../../system/exec.ts';
import { pgbackrestDriver } from '../pgbackrest/driver.ts';
import { findPgBackRest } from '../pgbackrest/setup.ts';
import type { RestoreMode } from '../restore-plan.ts';
import type { BackupTarget } from '../service.ts';
import { ClusterRestore } from './cluster-restore.ts';
import type { RestoreContext } from './context.ts';
import { CopyRestore, type CopyClusters } from './copy-restore.ts';
import { RestoreFiles } from './files.ts';
import { HaClusterRestore, type HaRestoreCluster } from './ha-restore.ts';
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
 * cluster through its leader. In place, the whole cluster goes back to the
 * time (./ha-restore.ts: HaClusterRestore): every member stopped, the first
 * restored and recovered, the others copy it. The stage is paused first, so
 * that neither the reconciler nor the member keeper (which leaves a paused
 * stage's cluster alone) starts the members under the restore. Nothing here
 * needs the cluster's leader once the members stop.
 */
export class HaRestore implements RestoreStrategy {
  readonly tier = 'ha';
  readonly #c: RestoreContext;
  readonly #copy: CopyRestore;
  readonly #files: RestoreFiles;

  constructor(context: RestoreContext, copy: CopyRestore, files: RestoreFiles) {
    this.#c = context;
    this.#copy = copy;
    this.#files = files;
  }

  refusal(): string | undefined {
    return undefined;
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

  /** The stage's cluster as HaClusterRestore needs it, from the ha driver and the stanza's config (no leader needed). */
  async #cluster(row: RestoreRow): Promise<HaRestoreCluster> {
    const ha = this.#c.deps.ha;
    const view = await ha?.clusterOf(row.cluster);
    if (!ha || !view) throw new ConflictError(`the ha cluster ${row.cluster} does not run on this machine`);
    const configPath = join(this.#c.deps.backups.stateDirOf(row.cluster), 'pgbackrest.conf');
    const user = postgresRunAs();
    const bin = findPgBackRest();
    const driver = pgbackrestDriver({ configPath, stanza: row.cluster, user, bin });
    return {
      scope: view.scope,
      namespace: view.namespace,
      etcdUrls: await ha.etcdUrls(),
      members: view.members,
      rest: await ha.rest(row.cluster),
      binDir: ha.binDir,
      user,
      configPath,
      stanza: row.cluster,
      pgbackrest: bin,
      info: () => driver.info(),
    };
  }

  /** The steps of an in-place restore, reporting into this restore's row. */
  #steps(row: RestoreRow): HaClusterRestore {
    const c = this.#c;
    return new HaClusterRestore({
      progress: (_row, phase, progress) => c.setRestore(row.id, { phase, progress }),
      archived: (_row, walFile) => c.setRestore(row.id, { archived_wal: walFile }),
      pauseStage: async (_row, paused) =>
        c.pauseStage(await c.deps.tenants.stageId(row.tenant_slug, row.target_stage), paused),
      signal: c.signal,
      timeoutMs: c.settings.restoreTimeoutMinutes * 60_000,
    });
  }

  async observe(row: RestoreRow): Promise<RestoreObserved> {
    if (row.mode === 'in-place') {
      const stage = {
        paused: await this.#c.stagePaused(row.tenant_slug, row.target_stage),
        stagedFiles: await this.#files.staged(row),
      };
      return this.#steps(row).observe(row, await this.#cluster(row), stage);
    }
    const source = await this.#c.deps.backups.target(row.cluster);
    // The new stage's cluster is not there until the stage is ready.
    const ready = await this.#copy.observe(row, { source, destination: source });
    if (ready.targetStage.state !== 'ready') return ready;
    return this.#copy.observe(row, await this.#clusters(row));
  }

  async run(step: RestoreStep, row: RestoreRow): Promise<void> {
    if (row.mode !== 'in-place') return this.#copy.run(step, row, await this.#clusters(row));
    switch (step.kind) {
      case 'stage-files':
        return this.#files.stage(row);
      case 'resume-stage':
        return this.#c.resumeStage(row);
      case 'swap-files':
        return this.#files.swap(row);
      default:
        return this.#steps(row).run(step, row, await this.#cluster(row));
    }
  }

  async cleanUp(row: RestoreRow): Promise<{ swapped: boolean }> {
    if (row.mode === 'in-place') {
      // Once the first member holds the restore, the cluster is the restore's: it stays (the stage paused).
      const observed = await this.observe(row).catch(() => undefined);
      if (
        observed?.method === 'ha' &&
        observed.restoredMember.data !== 'other' &&
        observed.restoredMember.data !== 'empty'
      ) {
        return { swapped: true };
      }
      await this.#files.removeStaged(row);
      return { swapped: false };
    }
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
    ha: new HaRestore(context, copy, files),
  };
}
