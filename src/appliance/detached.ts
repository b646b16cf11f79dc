import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InternalError } from '../core/errors.ts';
import type { SystemUser } from '../system/exec.ts';
import { isAlive } from '../system/lockfile.ts';

/**
 * A long-lived process of the appliance (an etcd member, a Patroni member)
 * started detached in a session of its own, with a pid file: a kill -9 of
 * Steward leaves it running, and the next start adopts it instead of
 * starting a second. A pid is only adopted when its command line still
 * names `marker` (the member's data dir or config file): after a reboot the
 * pid may belong to someone else.
 */
export interface DetachedProcess {
  readonly binary: string;
  readonly args: readonly string[];
  readonly pidFile: string;
  readonly logFile: string;
  readonly marker: string;
  readonly cwd: string;
  readonly user?: SystemUser | undefined;
}

export async function runningPid(
  proc: Pick<DetachedProcess, 'pidFile' | 'marker'>,
): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number((await readFile(proc.pidFile, 'utf8')).trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').some((arg) => arg.includes(proc.marker)) ? pid : undefined;
}

/** Adopts the process the pid file names, or starts it; returns its pid and which it was. */
export async function startOrAdopt(proc: DetachedProcess): Promise<{ pid: number; adopted: boolean }> {
  const running = await runningPid(proc);
  if (running !== undefined) return { pid: running, adopted: true };
  const log = openSync(proc.logFile, 'a', 0o600);
  let pid: number | undefined;
  try {
    const child = spawn(proc.binary, proc.args, {
      cwd: proc.cwd,
      detached: true,
      stdio: ['ignore', log, log],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
      ...(proc.user ? { uid: proc.user.uid, gid: proc.user.gid } : {}),
    });
    child.unref();
    child.on('error', () => undefined);
    pid = child.pid;
  } finally {
    closeSync(log);
  }
  if (pid === undefined) throw new InternalError(`cannot start ${proc.binary}`);
  await writeFile(proc.pidFile, `${pid}\n`, { mode: 0o600 });
  return { pid, adopted: false };
}

/** Stops the process (SIGTERM, then SIGKILL after graceMs) and removes its pid file. */
export async function stopDetached(
  proc: Pick<DetachedProcess, 'pidFile' | 'marker'>,
  graceMs = 30_000,
): Promise<void> {
  const pid = await runningPid(proc);
  if (pid !== undefined) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(50);
    if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(20);
  }
  await rm(proc.pidFile, { force: true });
}

/** The last lines of a log, for an error that says why a process did not come up. */
export async function logTail(path: string, lines = 5): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-lines).join(' | ');
}
