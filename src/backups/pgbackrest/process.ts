import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import type { SystemUser } from '../../system/exec.ts';

export interface GroupRunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The limit passed and the whole process group was killed. */
  readonly timedOut: boolean;
  /** The caller's signal aborted and the whole process group was killed. */
  readonly cancelled: boolean;
}

export interface GroupRunOptions {
  readonly user: SystemUser | undefined;
  readonly timeoutMs: number;
  /** Called with the pid (which is also the process group id) once the program started. */
  readonly onStart?: (pid: number) => void;
  /** Aborting kills the whole group, as the time limit does. */
  readonly signal?: AbortSignal;
  /** Written to the program's standard input (closed at once otherwise). */
  readonly input?: string;
}

/**
 * Runs a program in a process group of its own and, past the limit, kills the
 * whole group with SIGKILL: pgBackRest forks local workers, and a stopped
 * (SIGSTOP) or hung process ignores a polite SIGTERM, so nothing else ends it.
 */
export function runInGroup(
  command: string,
  args: readonly string[],
  options: GroupRunOptions,
): Promise<GroupRunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let cancelled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, options.timeoutMs);
    const abort = (): void => {
      cancelled = true;
      killGroup(child.pid);
    };
    if (options.signal?.aborted) abort();
    else options.signal?.addEventListener('abort', abort, { once: true });
    // A program that exits without reading its input must not fail the write with EPIPE.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input);
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
      reject(error);
    });
    child.on('spawn', () => {
      if (child.pid !== undefined) options.onStart?.(child.pid);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
      // Workers that outlived their parent would keep the stanza's lock.
      killGroup(child.pid);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        cancelled,
      });
    });
  });
}

export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * Whether any live process is in the group. Read from /proc, not kill(0):
 * a killed process whose new parent has not reaped it yet is a zombie that
 * kill(0) still finds but that holds no lock.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may hold spaces): state, ppid, pgrp, …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[2] === String(pgid) && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}
