import { spawn } from 'node:child_process';
import type { SystemUser } from '../../system/exec.ts';

export interface GroupRunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The limit passed and the whole process group was killed. */
  readonly timedOut: boolean;
}

export interface GroupRunOptions {
  readonly user: SystemUser | undefined;
  readonly timeoutMs: number;
  /** Called with the pid (which is also the process group id) once the program started. */
  readonly onStart?: (pid: number) => void;
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
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, options.timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('spawn', () => {
      if (child.pid !== undefined) options.onStart?.(child.pid);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Workers that outlived their parent would keep the stanza's lock.
      killGroup(child.pid);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
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
