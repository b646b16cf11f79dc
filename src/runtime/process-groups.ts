import { existsSync } from 'node:fs';
import type { ProcessSpec } from './supervisor-types.ts';

/** Signals to process groups, waiting, and how a supervised command is run. */

const niceBinary = '/usr/bin/nice';

/**
 * The argv and environment of a supervised process: its command under
 * /bin/sh, in its sandbox, at its nice value. Without a memory cgroup, a
 * Node process gets the limit as its heap size.
 */
export function childCommand(
  spec: ProcessSpec,
  inCgroup: boolean,
): { argv: string[]; env: Record<string, string> } {
  const env: Record<string, string> = { ...spec.env };
  if (spec.memoryMb !== undefined && !inCgroup && isNodeCommand(spec.command)) {
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --max-old-space-size=${spec.memoryMb}`.trim();
  }
  // dash exports PWD; unless the caller asked for it, the child gets exactly the env it was given.
  const script = `${'PWD' in spec.env ? '' : 'unset PWD; '}${isSimpleCommand(spec.command) ? 'exec ' : ''}${spec.command}`;
  const argv = [
    ...(spec.nice !== undefined && existsSync(niceBinary) ? [niceBinary, '-n', String(spec.nice)] : []),
    ...(spec.wrapper?.argv ?? []),
    '/bin/sh',
    '-c',
    script,
  ];
  return { argv, env };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  if (pgid <= 1) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone
  }
}

export async function waitUntil(condition: () => boolean, timeoutMs: number, everyMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A command without shell syntax can be exec'd, so the pid we supervise is the program itself, not a shell. */
export function isSimpleCommand(command: string): boolean {
  return /^[\w@%+=:,./ -]+$/.test(command.trim());
}

export function isNodeCommand(command: string): boolean {
  return /(^|[\s/])node(\s|$)/.test(command);
}
