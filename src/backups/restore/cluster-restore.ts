import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError } from '../../core/errors.ts';
import { withClient } from '../../databases/client.ts';
import { clusterIsRunning, startCluster, stopCluster } from '../../databases/local-cluster.ts';
import { runInGroup } from '../pgbackrest/process.ts';
import { findPgBackRest } from '../pgbackrest/setup.ts';
import { lastOutputLines } from '../restore-plan.ts';
import type { BackupTarget } from '../service.ts';
import { message, type RestoreContext } from './context.ts';
import type { RestoreFiles } from './files.ts';
import type { ClusterObserved, RestoreStep } from './planner.ts';
import { isoSeconds } from './range.ts';
import { targetOptions } from './scratch.ts';
import type { RestoreRow } from './strategy.ts';

/**
 * The custom setting pgbackrest restore writes into postgresql.auto.conf
 * beside the recovery target (--recovery-option): the restore whose files
 * the data dir holds. It is how a restart tells "restored by this restore"
 * from "not yet", whatever point a kill -9 stopped it at: pgBackRest writes
 * its recovery options after every file is in place.
 */
export const restoreMarker = 'steward.restore';

/** The restore id of the last marker in a postgresql.auto.conf, or null. Pure. */
export function restoreMarkerIn(autoConf: string): string | null {
  let found: string | null = null;
  const pattern = /^\s*steward\.restore\s*=\s*'([^']*)'/gm;
  for (const match of autoConf.matchAll(pattern)) found = match[1] ?? null;
  return found;
}

/**
 * The steps of a restore of a stage's own cluster in place (a dedicated
 * stage): WAL up to now archived and the files staged while the cluster
 * runs, then the stage paused (the reconciler would start the stopped
 * cluster under the restore), the cluster stopped, `pgbackrest restore
 * --delta` to the time (promote at the target), started, out of recovery,
 * the stage resumed. A delta restore rewrites the cluster, so nothing of it
 * is kept (its backups are). After a crash mid-restore the restore runs again
 * (--delta makes whatever the data dir holds match the backup again).
 */
export class ClusterRestore {
  readonly #c: RestoreContext;
  readonly #files: RestoreFiles;

  constructor(context: RestoreContext, files: RestoreFiles) {
    this.#c = context;
    this.#files = files;
  }

  async observe(row: RestoreRow, target: BackupTarget): Promise<ClusterObserved> {
    const autoConf = await readFile(join(target.cluster.dir, 'postgresql.auto.conf'), 'utf8').catch(() => '');
    return {
      method: 'cluster',
      cluster: await this.#state(target),
      restoredByThis: restoreMarkerIn(autoConf) === row.id,
      stagePaused: await this.#c.stagePaused(row.tenant_slug, row.target_stage),
      stagedFiles: await this.#files.staged(row),
    };
  }

  async #state(target: BackupTarget): Promise<ClusterObserved['cluster']> {
    if (!(await clusterIsRunning(target.cluster))) return 'stopped';
    return withClient(this.#c.superuser(target), async (c) =>
      (await c.query<{ r: boolean }>('select pg_is_in_recovery() as r')).rows[0]?.r
        ? 'recovering'
        : 'running',
    ).catch(() => 'recovering' as const);
  }

  async run(step: RestoreStep, row: RestoreRow, target: BackupTarget): Promise<void> {
    switch (step.kind) {
      case 'archive':
        return this.#c.archive(row, target);
      case 'stage-files':
        return this.#files.stage(row);
      case 'restore-cluster':
        return this.#restore(row, target);
      case 'recover':
        return this.#recover(row, target);
      case 'resume-stage':
        return this.#c.resumeStage(row);
      case 'swap-files':
        return this.#files.swap(row);
      default:
        throw new InternalError(`a restore of a whole cluster has no step ${step.kind}`);
    }
  }

  async #stageId(row: RestoreRow): Promise<string> {
    return this.#c.deps.tenants.stageId(row.tenant_slug, row.target_stage);
  }

  async #restore(row: RestoreRow, target: BackupTarget): Promise<void> {
    const signal = this.#c.signal;
    await this.#c.pauseStage(await this.#stageId(row), true);
    await this.#c.setRestore(row.id, {
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
        `--recovery-option=${restoreMarker}=${row.id}`,
        'restore',
      ],
      {
        user: target.cluster.user,
        timeoutMs: this.#c.settings.restoreTimeoutMinutes * 60_000,
        signal,
      },
    );
    if (restored.code !== 0 || restored.timedOut || restored.cancelled) {
      if (signal.aborted) throw new InternalError('the restore was interrupted: Steward stopped');
      throw new InternalError(
        `pgbackrest restore --delta of ${row.backup_label} from repo${row.repo} failed (exit ${restored.code}): ${lastOutputLines(restored.stderr || restored.stdout, 5)}; the cluster of ${row.tenant_slug}/${row.target_stage} is left stopped and the stage paused: restore again`,
      );
    }
    await this.#c.addTimings(row.id, { restoreMs: Date.now() - started });
  }

  /** Starts the restored cluster and waits until it has recovered to the time and is writable. */
  async #recover(row: RestoreRow, target: BackupTarget): Promise<void> {
    const started = Date.now();
    await this.#c.setRestore(row.id, {
      phase: 'restoring',
      progress: `recovering the cluster of ${row.tenant_slug}/${row.target_stage} to ${isoSeconds(row.target_time)}`,
    });
    if (!(await clusterIsRunning(target.cluster))) {
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
    }
    const deadline = Date.now() + this.#c.settings.restoreTimeoutMinutes * 60_000;
    while ((await this.#state(target)) !== 'running') {
      this.#c.signal.throwIfAborted();
      if (Date.now() > deadline) {
        throw new InternalError(
          `the cluster of ${row.tenant_slug}/${row.target_stage} did not finish recovery to ${isoSeconds(row.target_time)} in time; see its server.log`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await this.#c.addTimings(row.id, { recoverMs: Date.now() - started });
  }

  /** After a failure: the staged files go unless the cluster holds the restore already. */
  async cleanUp(row: RestoreRow, target: BackupTarget): Promise<{ swapped: boolean }> {
    const observed = await this.observe(row, target).catch(() => undefined);
    if (observed?.restoredByThis) return { swapped: true };
    await this.#files.removeStaged(row);
    return { swapped: false };
  }
}
