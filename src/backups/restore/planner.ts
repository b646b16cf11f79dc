/**
 * The pure planner of a restore: from what is observed now (which databases
 * exist, whether the files are staged, what state the cluster is in) and the
 * facts the restore row records (WAL archived, copy verified, files
 * unpacked), the one next step. No I/O.
 *
 * The job handler observes, asks nextRestoreStep, runs the step (one
 * idempotent action) and asks again; a kill -9 between any two steps resumes
 * by observing and asking again. The stored phase is for people only.
 */

/** Where a restore stands as its strategy observes it. */
export type RestoreObserved = CopyObserved | ClusterObserved | HaObserved;

/** A restore that copies one database out of a scratch instance and swaps it in (shared tier; into a new stage). */
export interface CopyObserved {
  readonly method: 'copy';
  /** The stage restored into (for `into`, the new stage; it must be ready before the copy goes in). */
  readonly targetStage: TargetStageObserved;
  /** Which of the three names exist in the cluster that holds the target stage's database. */
  readonly databases: {
    readonly live: boolean;
    readonly replacement: boolean;
    readonly kept: boolean;
  };
  /** The export's files are unpacked beside the stage's files dir, not yet in its place. */
  readonly stagedFiles: boolean;
}

/** A restore of a stage's own cluster as a whole, in place (dedicated tier; the cluster goes back to the time). */
export interface ClusterObserved {
  readonly method: 'cluster';
  /** `recovering`: up, replaying WAL towards the target; `running`: up and writable. */
  readonly cluster: 'running' | 'recovering' | 'stopped';
  /** The data dir was written by this restore's pgbackrest restore (its marker is in postgresql.auto.conf). */
  readonly restoredByThis: boolean;
  readonly stagePaused: boolean;
  readonly stagedFiles: boolean;
}

/**
 * An `ha` cluster restored in place: the first member's data dir is
 * restored and recovered to the time, the cluster's keys in etcd go, that
 * member starts alone (Patroni initialises the cluster from its data dir),
 * and the other members, emptied, copy it again.
 */
export interface HaObserved {
  readonly method: 'ha';
  /** The member whose data dir the restore writes (the first one). */
  readonly restoredMember: HaMemberObserved;
  readonly others: readonly HaMemberObserved[];
  /** The cluster's keys exist in etcd (its initialize key, leader, history). */
  readonly dcsKeys: boolean;
  /**
   * The restored member runs as the leader of the cluster Patroni initialised from its data dir.
   * Until then the emptied members must not start: one that finds no initialised cluster in etcd
   * runs initdb and bootstraps an empty cluster of its own, which then wins over the restored one.
   */
  readonly restoredLeads: boolean;
  /** A leader runs and every other member streams from it. */
  readonly healthy: boolean;
  readonly stagePaused: boolean;
  readonly stagedFiles: boolean;
}

export interface HaMemberObserved {
  readonly patroni: boolean;
  readonly postmaster: boolean;
  /**
   * `restored`: written by this restore and recovered (its marker, no recovery settings left);
   * `recovering`: written by this restore, recovery not finished; `other`: anything else; `empty`: no data.
   * A member copied from the restored one carries its marker: `restored` too.
   */
  readonly data: 'restored' | 'recovering' | 'other' | 'empty';
}

export interface TargetStageObserved {
  readonly state: 'ready' | 'pending' | 'failed' | 'absent';
  /** The stage's own reason (why it is pending or failed). */
  readonly reason: string;
  readonly phase: string;
  /** Since the restore was asked for. */
  readonly waitedMs: number;
  readonly timeoutMs: number;
}

/** What the restore row records: the facts its earlier steps established. */
export interface RestoreFacts {
  readonly status: string;
  readonly mode: string;
  /** The WAL segment that was archived before the restore read the repository; null: not yet. */
  readonly archived_wal: string | null;
  /** The verified copy's fingerprint; null: no verified copy yet. */
  readonly fingerprint: unknown;
  /** Set once the files step ran (restored or why not). */
  readonly files_note: string | null;
  readonly target_stage: string;
}

export type RestoreStep =
  | { readonly kind: 'done' }
  | { readonly kind: 'wait-for-stage'; readonly reason: string }
  | { readonly kind: 'fail'; readonly reason: string }
  /** Commit stamped now, WAL switch, wait until archived; records the segment. */
  | { readonly kind: 'archive' }
  /** Restore into a scratch, copy into the replacement database, verify, record the fingerprint. */
  | { readonly kind: 'copy' }
  /** Unpack the nearest export's files beside the stage's files dir; records which (or why none). */
  | { readonly kind: 'stage-files' }
  /** The replacement takes the live name (swapDatabases; idempotent). */
  | { readonly kind: 'swap-databases' }
  /** Into a new stage: its empty database, set aside by the swap, goes. */
  | { readonly kind: 'drop-set-aside' }
  /** Pause the stage, stop its cluster, pgbackrest restore --delta to the time with this restore's marker. */
  | { readonly kind: 'restore-cluster' }
  /** Start the restored cluster and wait until it is out of recovery. */
  | { readonly kind: 'recover' }
  /** ha: pause the stage, stop every member (Patroni and its PostgreSQL). */
  | { readonly kind: 'stop-members' }
  /** ha: pgbackrest restore --delta of the first member's data dir to the time, with this restore's marker. */
  | { readonly kind: 'restore-member' }
  /** ha: the restored member's PostgreSQL alone, out of recovery, its recovery settings removed, stopped. */
  | { readonly kind: 'recover-member' }
  /** ha: the other members' data dirs emptied, so that they copy the restored one. */
  | { readonly kind: 'empty-members' }
  /** ha: the cluster's keys in etcd removed, so that Patroni initialises it from the restored data dir. */
  | { readonly kind: 'reset-dcs' }
  /** ha: the restored member's Patroni started: it becomes the leader. */
  | { readonly kind: 'start-member' }
  /** ha: wait until the restored member leads (the cluster is initialised from its data dir). */
  | { readonly kind: 'await-leader' }
  /** ha: the other members' Patroni started: they copy the leader. */
  | { readonly kind: 'start-members' }
  /** ha: wait until a leader runs and every member streams. */
  | { readonly kind: 'await-cluster' }
  /** Resume the stage (the reconciler may touch its cluster again). */
  | { readonly kind: 'resume-stage' }
  /** The staged files take the stage's files dir's place. */
  | { readonly kind: 'swap-files' }
  /** Restart the stage's processes (in place) and record the restore succeeded; both are safe to repeat. */
  | { readonly kind: 'finish'; readonly restart: boolean };

export type RestoreStepKind = RestoreStep['kind'];

/** The one next step of a restore. Pure. */
export function nextRestoreStep(observed: RestoreObserved, row: RestoreFacts): RestoreStep {
  if (row.status !== 'running') return { kind: 'done' };
  switch (observed.method) {
    case 'copy':
      return nextCopyStep(observed, row);
    case 'cluster':
      return nextClusterStep(observed, row);
    case 'ha':
      return nextHaStep(observed, row);
  }
}

/**
 * Whether a copying restore's swap has begun, so that the stage holds (part
 * of) the restore: the live name is set aside (in place, or into before the
 * drop), or, into a new stage, the verified copy holds the live name alone.
 */
export function swapBegun(observed: CopyObserved, row: Pick<RestoreFacts, 'mode' | 'fingerprint'>): boolean {
  const { live, replacement, kept } = observed.databases;
  return kept || (row.mode === 'into' && verified(row) && live && !replacement);
}

function verified(row: Pick<RestoreFacts, 'fingerprint'>): boolean {
  return row.fingerprint !== null && row.fingerprint !== undefined;
}

function nextCopyStep(observed: CopyObserved, row: RestoreFacts): RestoreStep {
  const into = row.mode === 'into';
  const { live, replacement, kept } = observed.databases;
  if (!swapBegun(observed, row)) {
    if (into) {
      const stage = observed.targetStage;
      if (stage.state === 'absent') {
        return { kind: 'fail', reason: `the stage ${row.target_stage} to restore into was removed` };
      }
      if (stage.state === 'failed') {
        return {
          kind: 'fail',
          reason: `the stage ${row.target_stage} to restore into failed: ${stage.reason}`,
        };
      }
      if (stage.state === 'pending') {
        if (stage.waitedMs > stage.timeoutMs) {
          return {
            kind: 'fail',
            reason: `the stage ${row.target_stage} to restore into was not ready after ${Math.round(stage.timeoutMs / 60_000)} min (${stage.phase}: ${stage.reason})`,
          };
        }
        return {
          kind: 'wait-for-stage',
          reason: `waiting for the new stage ${row.target_stage} to be ready (${stage.phase})`,
        };
      }
    }
    if (!live) {
      return {
        kind: 'fail',
        reason: `the database of ${row.target_stage} is gone, and no swap had begun: nothing to restore onto`,
      };
    }
    if (row.archived_wal === null) return { kind: 'archive' };
    if (!verified(row) || !replacement) return { kind: 'copy' };
    if (row.files_note === null) return { kind: 'stage-files' };
    return { kind: 'swap-databases' };
  }
  if (!live || replacement) return { kind: 'swap-databases' };
  if (into && kept) return { kind: 'drop-set-aside' };
  if (observed.stagedFiles) return { kind: 'swap-files' };
  return { kind: 'finish', restart: !into };
}

function nextClusterStep(observed: ClusterObserved, row: RestoreFacts): RestoreStep {
  if (!observed.restoredByThis) {
    // Archived and staged while the cluster still runs: a stopped one archives nothing.
    if (row.archived_wal === null) return { kind: 'archive' };
    if (row.files_note === null) return { kind: 'stage-files' };
    return { kind: 'restore-cluster' };
  }
  if (observed.cluster !== 'running') return { kind: 'recover' };
  if (observed.stagePaused) return { kind: 'resume-stage' };
  if (observed.stagedFiles) return { kind: 'swap-files' };
  return { kind: 'finish', restart: true };
}

function nextHaStep(observed: HaObserved, row: RestoreFacts): RestoreStep {
  const first = observed.restoredMember;
  const up = (m: HaMemberObserved): boolean => m.patroni || m.postmaster;
  if (first.data === 'other' || first.data === 'empty') {
    // Archived and staged while the cluster still runs: a stopped one archives nothing.
    if (row.archived_wal === null) return { kind: 'archive' };
    if (row.files_note === null) return { kind: 'stage-files' };
    if (up(first) || observed.others.some(up)) return { kind: 'stop-members' };
    return { kind: 'restore-member' };
  }
  if (first.data === 'recovering') return { kind: 'recover-member' };
  if (observed.others.some((m) => m.data === 'other')) {
    if (observed.others.some((m) => m.data === 'other' && up(m))) return { kind: 'stop-members' };
    return { kind: 'empty-members' };
  }
  // Only before the restored member first starts (no other member holds a copy of it yet): its
  // data dir keeps the old cluster's system id, and the old keys would make Patroni take it for a
  // lagging member of the old cluster.
  if (!first.patroni && observed.dcsKeys && observed.others.every((m) => m.data === 'empty')) {
    return { kind: 'reset-dcs' };
  }
  if (!first.patroni) return { kind: 'start-member' };
  if (observed.others.some((m) => !m.patroni)) {
    return observed.restoredLeads ? { kind: 'start-members' } : { kind: 'await-leader' };
  }
  if (!observed.healthy) return { kind: 'await-cluster' };
  if (observed.stagePaused) return { kind: 'resume-stage' };
  if (observed.stagedFiles) return { kind: 'swap-files' };
  return { kind: 'finish', restart: true };
}
