import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InternalError } from '../../core/errors.ts';
import type { SystemUser } from '../../system/exec.ts';

/**
 * A long-running program Steward starts detached (its own session, stdout and
 * stderr to a log file) so that it outlives a kill -9 of Steward, and adopts
 * on the next start: Patroni members and the embedded etcd. The pid file is
 * written after the spawn, so a Steward killed in between leaves a process
 * without one; adoption also finds it by its exact command line.
 */
export interface DaemonSpec {
  readonly binary: string;
  readonly args: readonly string[];
  readonly pidFile: string;
  readonly logFile: string;
  readonly user?: SystemUser | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** The pid of the daemon running this spec's command line, if any. */
export async function runningDaemon(spec: DaemonSpec): Promise<number | undefined> {
  const fromFile = Number((await readFile(spec.pidFile, 'utf8').catch(() => '')).trim());
  if (Number.isInteger(fromFile) && fromFile > 1 && (await runsCommand(fromFile, spec))) return fromFile;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry);
    if (Number.isInteger(pid) && pid > 1 && (await runsCommand(pid, spec))) {
      await writeFile(spec.pidFile, `${pid}\n`, { mode: 0o600 });
      return pid;
    }
  }
  return undefined;
}

const commandLine = (spec: DaemonSpec): string => [spec.binary, ...spec.args].join('\0');

async function runsCommand(pid: number, spec: DaemonSpec): Promise<boolean> {
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0$/, '');
    // Python programs run as `python3 /usr/bin/patroni …`: the spec's command line ends theirs.
    if (cmdline !== commandLine(spec) && !cmdline.endsWith(`\0${commandLine(spec)}`)) return false;
    return !(await isZombie(pid));
  } catch {
    return false;
  }
}

/** A process that exited and was not reaped yet (its parent is init, or a container's pid 1). */
export async function isZombie(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

export async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !(await isZombie(pid));
}

/** Adopts the running daemon, or starts it. */
export async function startDaemon(
  spec: DaemonSpec,
): Promise<{ readonly pid: number; readonly adopted: boolean }> {
  const running = await runningDaemon(spec);
  if (running !== undefined) return { pid: running, adopted: true };
  const log = openSync(spec.logFile, 'a', 0o600);
  let pid: number | undefined;
  try {
    const child = spawn(spec.binary, spec.args, {
      cwd: spec.cwd ?? '/',
      detached: true,
      stdio: ['ignore', log, log],
      env: spec.env ?? { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
      ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
    });
    child.on('error', () => undefined);
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(log);
  }
  if (pid === undefined) throw new InternalError(`cannot start ${spec.binary}`);
  await writeFile(spec.pidFile, `${pid}\n`, { mode: 0o600 });
  return { pid, adopted: false };
}

/** SIGTERM, then SIGKILL after `graceMs`; waits until it is gone. */
export async function stopDaemon(spec: DaemonSpec, graceMs: number): Promise<void> {
  const pid = await runningDaemon(spec);
  if (pid !== undefined) await stopPid(pid, graceMs);
  await rm(spec.pidFile, { force: true });
}

export async function stopPid(pid: number, graceMs: number): Promise<void> {
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while ((await isRunning(pid)) && Date.now() < deadline) await sleep(50);
  if (await isRunning(pid)) signal(pid, 'SIGKILL');
  const killed = Date.now();
  while ((await isRunning(pid)) && Date.now() - killed < 5_000) await sleep(20);
}

export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone already.
  }
}

/** The last lines of a daemon's log, for an error that says why it did not come up. */
export async function logTail(spec: Pick<DaemonSpec, 'logFile'>, lines = 5): Promise<string> {
  const text = await readFile(spec.logFile, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-lines).join(' | ');
}
