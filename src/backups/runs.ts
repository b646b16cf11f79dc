import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { systemClock, type Clock } from '../core/clock.ts';
import { ConflictError, InternalError } from '../core/errors.ts';
import type { ControlDb } from '../store/db.ts';
import type { BackupOutcome, PgBackRestDriver } from './pgbackrest/driver.ts';
import { groupAlive, killGroup } from './pgbackrest/process.ts';
import type { BackupType } from './policy.ts';
import { expiredBackups, keepAllFulls, walFulls, type RepoRetention } from './retention.ts';

/** Held by the session of the run in flight: a Steward that dies takes it along. */
const backupLockKey = 0x5737_bac0;

export type BackupRunStatus = 'running' | 'succeeded' | 'failed';

export interface BackupRun {
  readonly id: string;
  readonly cluster: string;
  readonly type: BackupType;
  readonly repo: number;
  readonly status: BackupRunStatus;
  readonly label: string | null;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly sizeBytes: number | null;
  readonly databaseBytes: number | null;
  readonly error: string | null;
  /** The operator's request this run was for; null for a scheduled run. */
  readonly requestId: string | null;
  /** "schedule", or the operator who asked (operator:alice). */
  readonly requestedBy: string | null;
}

export interface BackupRunDeps {
  readonly db: ControlDb;
  readonly driver: PgBackRestDriver;
  readonly clock?: Clock;
}

export interface BackupRunRequest {
  readonly type: BackupType;
  readonly repo: number;
  /** A backup running longer is killed and recorded failed. */
  readonly timeoutMs: number;
  /** Expire with this retention after a good backup, and check that it removed what it should. */
  readonly expire?: RepoRetention;
  /** Aborting kills the backup and records it failed (Steward stopping, an operator cancelling). */
  readonly signal?: AbortSignal;
  /** Recorded with the run: the request it is for, and who asked ("schedule" for the schedule). */
  readonly requestId?: string;
  readonly requestedBy?: string;
}

/** Another backup of the same cluster is running; this one was not started. */
export class BackupBusyError extends ConflictError {}

/**
 * Runs one backup of a cluster and records it. Two runs of one cluster never
 * overlap: the second is refused while the first holds the cluster's advisory
 * lock. A run found `running` once the lock is ours was left by a Steward that
 * died mid-backup: it is recorded failed and its pgbackrest processes ended.
 */
export async function runBackup(deps: BackupRunDeps, request: BackupRunRequest): Promise<BackupRun> {
  const cluster = deps.driver.stanza;
  const clock = deps.clock ?? systemClock;
  return deps.db.connection().execute(async (session) => {
    const locked = await sql<{
      locked: boolean;
    }>`select pg_try_advisory_lock(${backupLockKey}, hashtext(${cluster})) as locked`.execute(session);
    if (!locked.rows[0]?.locked) {
      const running = await deps.db
        .selectFrom('backup_runs')
        .select(['id', 'started_at'])
        .where('cluster', '=', cluster)
        .where('status', '=', 'running')
        .executeTakeFirst();
      throw new BackupBusyError(
        `a backup of cluster ${cluster} is already running${running ? ` (run ${running.id}, started ${running.started_at.toISOString()})` : ''}; try again when it has finished`,
      );
    }
    try {
      await endOrphans(deps.db, cluster, clock);
      const row = await deps.db
        .insertInto('backup_runs')
        .values({
          cluster,
          type: request.type,
          repo: request.repo,
          started_at: clock.now(),
          request_id: request.requestId ?? null,
          requested_by: request.requestedBy ?? null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      let recordingPid: Promise<unknown> = Promise.resolve();
      let outcome: BackupOutcome;
      try {
        outcome = await deps.driver.backup({
          type: request.type,
          repo: request.repo,
          timeoutMs: request.timeoutMs,
          ...(request.signal ? { signal: request.signal } : {}),
          onStart: (pid) => {
            recordingPid = deps.db
              .updateTable('backup_runs')
              .set({ pid })
              .where('id', '=', row.id)
              .execute()
              .catch(() => undefined);
          },
        });
      } catch (cause) {
        // pgbackrest could not even start (missing, not executable): the run still ends, recorded.
        await recordingPid;
        await finish(deps.db, row.id, clock, {
          status: 'failed',
          error: `pgbackrest backup did not start: ${(cause as Error).message}`,
        });
        return await readRun(deps.db, row.id);
      }
      await recordingPid;
      if (!outcome.ok) {
        await finish(deps.db, row.id, clock, { status: 'failed', error: outcome.error });
        return await readRun(deps.db, row.id);
      }
      let sizes: { size_bytes: number; database_bytes: number } | undefined;
      let error: string | undefined;
      try {
        const info = await deps.driver.info();
        const found = info.backups.find((b) => b.label === outcome.label && b.repo === request.repo);
        if (found) sizes = { size_bytes: found.repositoryBytes, database_bytes: found.databaseBytes };
        else
          error = `backup ${outcome.label} finished but pgbackrest info does not list it in repo${request.repo}`;
      } catch (cause) {
        error = `backup ${outcome.label} finished but pgbackrest info failed: ${(cause as Error).message}`;
      }
      await finish(deps.db, row.id, clock, {
        status: error ? 'failed' : 'succeeded',
        label: outcome.label,
        ...(sizes ?? {}),
        ...(error ? { error } : {}),
      });
      if (!error && request.expire) {
        await expireAndCheck(deps.driver, {
          repo: request.repo,
          retention: request.expire,
          now: clock.now(),
        });
      }
      return await readRun(deps.db, row.id);
    } finally {
      await sql`select pg_advisory_unlock(${backupLockKey}, hashtext(${cluster}))`.execute(session);
    }
  });
}

/** Marks runs that outlived their Steward failed and kills what is left of their pgbackrest. */
async function endOrphans(db: ControlDb, cluster: string, clock: Clock): Promise<void> {
  const orphans = await db
    .updateTable('backup_runs')
    .set({ status: 'failed', finished_at: clock.now(), error: 'Steward stopped while this backup ran' })
    .where('cluster', '=', cluster)
    .where('status', '=', 'running')
    .returning(['pid'])
    .execute();
  for (const { pid } of orphans) {
    if (pid === null) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    // Only a pgbackrest backup of this stanza: the pid may since belong to anything.
    if (args.some((a) => a.endsWith('pgbackrest')) && args.includes(`--stanza=${cluster}`)) {
      killGroup(pid);
      // pgBackRest's own lock is released only once every process of the group is gone.
      await groupGone(pid, 10_000);
    }
  }
}

async function groupGone(pgid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await groupAlive(pgid))) return;
    if (Date.now() > deadline) {
      throw new InternalError(`pgbackrest process group ${pgid} is still alive after SIGKILL`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function finish(
  db: ControlDb,
  id: string,
  clock: Clock,
  result: {
    status: 'succeeded' | 'failed';
    label?: string;
    size_bytes?: number;
    database_bytes?: number;
    error?: string;
  },
): Promise<void> {
  await db
    .updateTable('backup_runs')
    .set({ ...result, finished_at: clock.now(), pid: null })
    .where('id', '=', id)
    .execute();
}

async function readRun(db: ControlDb, id: string): Promise<BackupRun> {
  const row = await db.selectFrom('backup_runs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  return toRun(row);
}

function toRun(row: {
  id: string;
  cluster: string;
  type: string;
  repo: number;
  status: string;
  label: string | null;
  started_at: Date;
  finished_at: Date | null;
  size_bytes: string | null;
  database_bytes: string | null;
  error: string | null;
  request_id: string | null;
  requested_by: string | null;
}): BackupRun {
  return {
    id: row.id,
    cluster: row.cluster,
    type: row.type as BackupType,
    repo: row.repo,
    status: row.status as BackupRunStatus,
    label: row.label,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    databaseBytes: row.database_bytes === null ? null : Number(row.database_bytes),
    error: row.error,
    requestId: row.request_id,
    requestedBy: row.requested_by,
  };
}

export async function listBackupRuns(
  db: ControlDb,
  cluster: string,
  limit = 100,
): Promise<readonly BackupRun[]> {
  const rows = await db
    .selectFrom('backup_runs')
    .selectAll()
    .where('cluster', '=', cluster)
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map(toRun);
}

/**
 * Expires a repository and then checks, against pgBackRest's own listing,
 * that every backup this retention removes is gone: an expire that silently
 * does nothing (a repository it cannot list) is an error, not retention.
 * A tiered retention is applied by Steward, set by set (expireLabels).
 */
export async function expireAndCheck(
  driver: PgBackRestDriver,
  options: { repo: number; retention: RepoRetention; now: Date },
): Promise<readonly string[]> {
  const before = (await driver.info()).backups.filter((b) => b.repo === options.repo);
  const expected = expiredBackups(before, options.retention, options.now);
  if (options.retention.kind === 'tiered') {
    const policy = options.retention.policy;
    return expireLabels(driver, {
      repo: options.repo,
      labels: expected,
      walFulls: walFulls(before, policy.retainDays, options.now),
    });
  }
  await driver.expire({ repo: options.repo, retention: options.retention });
  await checkExpired(driver, options.repo, expected);
  return expected;
}

/**
 * Removes the given backups from a repository (each with what builds on it),
 * then the WAL older than the newest `walFulls` fulls need for point-in-time
 * recovery (every remaining backup keeps the WAL that makes it consistent),
 * and checks the catalogue and the storage as expireAndCheck does. pgBackRest's
 * own retention is held off for these runs (a count of fulls it never reaches).
 */
export async function expireLabels(
  driver: PgBackRestDriver,
  options: { repo: number; labels: readonly string[]; walFulls: number },
): Promise<readonly string[]> {
  const retention: RepoRetention = { kind: 'count', fulls: keepAllFulls };
  const before = (await driver.info()).backups.filter((b) => b.repo === options.repo);
  const known = new Map(before.map((b) => [b.label, b]));
  const unknown = options.labels.filter((label) => !known.has(label));
  if (unknown.length > 0) {
    throw new InternalError(
      `expire of stanza ${driver.stanza} repo${options.repo} was asked to remove ${unknown.join(', ')}, which it does not hold`,
    );
  }
  const doomed = new Set(options.labels);
  // A set takes what builds on it along: expire only those whose prior stays, oldest first.
  const roots = before
    .filter((b) => doomed.has(b.label) && (b.prior === null || !doomed.has(b.prior)))
    .sort((a, b) => +a.stoppedAt - +b.stoppedAt);
  for (const root of roots) await driver.expire({ repo: options.repo, retention, set: root.label });
  await driver.expire({ repo: options.repo, retention, walFulls: Math.max(1, options.walFulls) });
  // Dependents gone with their set are expected gone too.
  const gone = new Set(doomed);
  for (const b of [...before].sort((a, b) => +a.stoppedAt - +b.stoppedAt)) {
    if (b.prior !== null && gone.has(b.prior)) gone.add(b.label);
  }
  const expected = before.filter((b) => gone.has(b.label)).map((b) => b.label);
  await checkExpired(driver, options.repo, expected);
  return expected;
}

/** Every expected label is gone from pgBackRest's catalogue and from the repository's storage. */
async function checkExpired(
  driver: PgBackRestDriver,
  repo: number,
  expected: readonly string[],
): Promise<void> {
  const after = new Set((await driver.info()).backups.filter((b) => b.repo === repo).map((b) => b.label));
  const left = expected.filter((label) => after.has(label));
  if (left.length > 0) {
    throw new InternalError(
      `expire of stanza ${driver.stanza} repo${repo} left ${left.join(', ')} in place, though its retention removes them`,
    );
  }
  // The catalogue is not the storage: a store whose listing hides nested prefixes lets expire
  // drop a backup from backup.info while its files stay. Look at the storage itself.
  const stored: string[] = [];
  for (const label of expected) {
    for (const path of [`backup/${driver.stanza}/${label}`, `backup/${driver.stanza}/${label}/pg_data`]) {
      if ((await driver.listRepo(repo, path)).length > 0) {
        stored.push(label);
        break;
      }
    }
  }
  if (stored.length > 0) {
    throw new InternalError(
      `expire of stanza ${driver.stanza} repo${repo} dropped ${stored.join(', ')} from its catalogue but their files remain in the repository: its storage listing is incomplete, so this is not retention`,
    );
  }
}
