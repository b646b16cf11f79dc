import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What the supervisor knows about the processes of the machine: process
 * identity from /proc, and one state file per supervised process so that a
 * restarted Steward can find its children again.
 */

/** A pid alone is not an identity: pids are reused. The start time (clock ticks since boot) plus the boot id is. */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: number;
  readonly bootId: string;
}

export interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly ppid: number;
  readonly pgid: number;
  readonly startTime: number;
}

/** Parses /proc/<pid>/stat; undefined when the process is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); field N is fields[N - 3].
  const state = fields[0] ?? '?';
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (!Number.isFinite(startTime)) return undefined;
  return { pid, state, ppid, pgid, startTime };
}

let cachedBootId: string | undefined;
export function bootId(): string {
  cachedBootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return cachedBootId;
}

export function identify(pid: number): ProcessIdentity | undefined {
  const stat = readProcStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return undefined;
  return { pid, startTime: stat.startTime, bootId: bootId() };
}

/** True when this exact process (not a later one with the same pid) is alive and not a zombie. */
export function isSameProcessAlive(identity: ProcessIdentity): boolean {
  if (identity.bootId !== bootId()) return false;
  const stat = readProcStat(identity.pid);
  return (
    stat !== undefined && stat.state !== 'Z' && stat.state !== 'X' && stat.startTime === identity.startTime
  );
}

/** Pids of the live members of a process group. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const pid of allPids()) {
    const stat = readProcStat(pid);
    if (stat && stat.pgid === pgid && stat.state !== 'Z') members.push(pid);
  }
  return members;
}

export function allPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) if (/^\d+$/.test(name)) pids.push(Number(name));
  return pids;
}

/** Encodes a process key (`acme/prod/web/1.0.0/0`) as a file name that cannot escape its directory. */
export function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/\./g, '%2E');
}

export function decodeKey(name: string): string {
  return decodeURIComponent(name);
}

/**
 * The state file's life: `spawning` is written before the spawn (no pid yet),
 * `running` with pid and start time right after, `stopping` before the group
 * is signalled; the file is removed once the group is gone. After a crash at
 * any point, adoption can tell what might be running and find it.
 */
export type StatePhase = 'spawning' | 'running' | 'stopping';

export interface StateFile<Spec> {
  readonly version: 1;
  readonly key: string;
  readonly phase: StatePhase;
  readonly identity: ProcessIdentity | null;
  readonly startedAt: string | null;
  readonly restarts: number;
  readonly cgroup: string | null;
  readonly spec: Spec;
}

export class StateStore<Spec> {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  pathOf(key: string): string {
    return join(this.dir, `${encodeKey(key)}.json`);
  }

  /** Write to a temporary file, fsync, rename: a reader sees the old or the new state, never half of one. */
  async write(state: StateFile<Spec>): Promise<void> {
    const target = this.pathOf(state.key);
    const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(state));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  }

  async remove(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  /** Every readable state file; leftovers of an interrupted write are removed, unreadable files are reported. */
  async readAll(): Promise<{ states: StateFile<Spec>[]; unreadable: string[] }> {
    const states: StateFile<Spec>[] = [];
    const unreadable: string[] = [];
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return { states, unreadable };
    }
    for (const name of names) {
      const path = join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await rm(path, { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        if (!(await stat(path)).isFile()) continue;
        const parsed = JSON.parse(await readFile(path, 'utf8')) as StateFile<Spec>;
        if (parsed.version !== 1 || typeof parsed.key !== 'string')
          throw new Error('unknown state file version');
        states.push(parsed);
      } catch {
        unreadable.push(path);
      }
    }
    return { states, unreadable };
  }
}

/** Device and inode of what the path names: two paths (a log file, a process's stdout) are one file when equal. */
export function fileId(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

export interface LogWriter<S> {
  readonly pid: number;
  readonly pgid: number;
  readonly state: S;
}

/** Processes whose stdout is one of the given files. */
export function logWriters<S>(byLog: ReadonlyMap<string, S>): LogWriter<S>[] {
  const writers: LogWriter<S>[] = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    const id = fileId(`/proc/${pid}/fd/1`);
    const state = id ? byLog.get(id) : undefined;
    const stat = state ? readProcStat(pid) : undefined;
    if (state && stat && stat.state !== 'Z') writers.push({ pid, pgid: stat.pgid, state });
  }
  return writers;
}
