import {
  fileId,
  identify,
  isSameProcessAlive,
  logWriters,
  readProcStat,
  type LogWriter,
  type ProcessIdentity,
  type StateFile,
} from './process-state.ts';
import type { ProcessSpec } from './supervisor-types.ts';

/** What an earlier Steward left, sorted by what the next one does with it. */
export interface AdoptionPlan {
  /** Running processes to supervise again, under these identities. */
  readonly adopt: readonly { readonly state: StateFile<ProcessSpec>; readonly identity: ProcessIdentity }[];
  /** Processes an earlier Steward was stopping: their groups get SIGKILL, then their state goes. */
  readonly finishStop: readonly (StateFile<ProcessSpec> & { readonly identity: ProcessIdentity })[];
  /** Processes that are gone: their state goes. */
  readonly gone: readonly StateFile<ProcessSpec>[];
  /** Processes still writing to a supervised log file that nobody adopts: leftovers to kill. */
  readonly leftovers: readonly LogWriter<StateFile<ProcessSpec>>[];
}

/**
 * Finds, from the supervisor's state files and /proc, which processes of an
 * earlier Steward still run. A state file's pid counts only if its start time
 * (and boot) still match and it still leads its process group, so a reused
 * pid is never taken for ours. A file written just before a spawn (no pid
 * yet) is resolved by the log file: the child's stdout is that file.
 */
export function planAdoption(states: readonly StateFile<ProcessSpec>[]): AdoptionPlan {
  const adopt: { state: StateFile<ProcessSpec>; identity: ProcessIdentity }[] = [];
  const keep = new Set<number>();
  const stopping = new Map<number, StateFile<ProcessSpec> & { readonly identity: ProcessIdentity }>();
  const pending: StateFile<ProcessSpec>[] = [];
  for (const state of states) {
    const identity = state.identity;
    const leader = identity && isSameProcessAlive(identity) ? readProcStat(identity.pid) : undefined;
    if (!identity || !leader || leader.pgid !== identity.pid) pending.push(state);
    else if (state.phase === 'stopping') stopping.set(identity.pid, { ...state, identity });
    else {
      adopt.push({ state, identity });
      keep.add(identity.pid);
    }
  }

  // Stdout of every process on the machine, by device and inode of its target.
  const byLog = new Map<string, StateFile<ProcessSpec>>();
  for (const state of states) {
    const id = fileId(state.spec.logFile);
    if (id) byLog.set(id, state);
  }
  const writers = byLog.size > 0 ? logWriters(byLog) : [];

  const gone: StateFile<ProcessSpec>[] = [];
  for (const state of pending) {
    if (state.phase === 'spawning') {
      // Spawned, but the pid never made it to the file: the group leader writing to its log is the child.
      const found = writers.find(
        (w) => w.state.key === state.key && w.pgid === w.pid && !keep.has(w.pgid) && !stopping.has(w.pgid),
      );
      const identity = found ? identify(found.pid) : undefined;
      if (identity) {
        adopt.push({ state, identity });
        keep.add(identity.pid);
        continue;
      }
    }
    gone.push(state);
  }
  return {
    adopt,
    finishStop: [...stopping.values()],
    gone,
    leftovers: writers.filter((w) => !keep.has(w.pgid)),
  };
}
