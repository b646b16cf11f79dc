import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readProcStat } from '../runtime/process-state.ts';

/**
 * The node-loss drill's "machine dies": every process of one node gets
 * SIGKILL at once, as a power cut would stop it: its Steward, etcd member,
 * Patroni member and PostgreSQL, router, data plane HAProxy, dedicated and
 * Patroni stage clusters and the stages' instances. A node's processes are
 * found by what names its data dir (their command lines: --data-dir, -D,
 * -f, the Patroni config) and by the supervisor's state files (the stages'
 * instances run sandboxed and name no path). Each is killed with its
 * process group when it leads one (they are started detached), never the
 * group of the caller.
 */
export async function nodeProcesses(dataDir: string): Promise<number[]> {
  const found = new Set<number>();
  const marker = dataDir.endsWith('/') ? dataDir : `${dataDir}/`;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (args.some((arg) => arg === dataDir || arg.startsWith(marker) || arg.includes(`=${marker}`)))
      found.add(pid);
  }
  const stateDir = join(dataDir, 'run', 'processes');
  for (const name of await readdir(stateDir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const state = await readFile(join(stateDir, name), 'utf8')
      .then((text) => JSON.parse(text) as { identity?: { pid?: number; startTime?: number } | null })
      .catch(() => undefined);
    const pid = state?.identity?.pid;
    // The pid is theirs only while the start time matches: pids are reused.
    if (pid && readProcStat(pid)?.startTime === state.identity?.startTime) found.add(pid);
  }
  return [...found].sort((a, b) => a - b);
}

/** SIGKILL of every process of the node, with the process groups they lead; resolves when all are gone. */
export async function killNode(dataDir: string, timeoutMs = 10_000): Promise<number[]> {
  const own = readProcStat(process.pid)?.pgid;
  const pids = await nodeProcesses(dataDir);
  for (const pid of pids) {
    const stat = readProcStat(pid);
    if (!stat) continue;
    if (stat.pgid === pid && stat.pgid !== own) signal(-pid);
    signal(pid);
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && pids.some(alive)) await sleep(20);
  return pids;
}

function signal(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // gone already
  }
}

function alive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}
