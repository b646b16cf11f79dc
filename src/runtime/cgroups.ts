import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Memory limits through the kernel: a cgroup per supervised process with a
 * hard limit; the kernel kills the process when it is exceeded and counts the
 * kill, which is how an out-of-memory exit is told from any other SIGKILL.
 *
 * cgroup v2 (unified, memory.max, memory.events) where /sys/fs/cgroup is a
 * writable cgroup2 mount with the memory controller; the v1 memory controller
 * (memory.limit_in_bytes, memory.oom_control) where only that is available;
 * otherwise none, and the supervisor falls back to the runtime's own limit.
 */
export interface MemoryCgroups {
  readonly kind: 'cgroup2' | 'cgroup1';
  /** The directory under which per-process cgroups are made. */
  readonly base: string;
  /** Creates (or reuses) the cgroup `name` with a hard limit; returns its path. */
  prepare(name: string, limitMb: number): Promise<string>;
  /** Moves a process into the cgroup. */
  add(path: string, pid: number): Promise<void>;
  /** How many times the kernel has killed a process in this cgroup for exceeding the limit. */
  oomKills(path: string): Promise<number>;
  /** Removes the cgroup; false when it still has processes or is already gone. */
  remove(path: string): Promise<boolean>;
}

const root = '/sys/fs/cgroup';

/**
 * The cgroup of one supervised process: a digest of its key, not the key.
 * Any local user can list /sys/fs/cgroup and read /proc/<pid>/cgroup, and a
 * key (`<tenant>/<stage>/<process>/…`) names the customer: each stage's
 * processes would list the vendor's other customers.
 */
export function processCgroupName(key: string): string {
  return `p-${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The cgroup this process is in, per hierarchy line of /proc/self/cgroup. */
function ownCgroup(match: (controllers: string) => boolean): string | undefined {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (controllers !== undefined && path !== undefined && match(controllers)) return path;
  }
  return undefined;
}

export function detectMemoryCgroups(options: { readonly name?: string } = {}): MemoryCgroups | undefined {
  const name = options.name ?? 'steward';
  try {
    const controllersFile = join(root, 'cgroup.controllers');
    if (existsSync(controllersFile) && writable(root)) {
      const controllers = readFileSync(controllersFile, 'utf8').split(/\s+/);
      if (controllers.includes('memory')) return cgroup2(join(root, name));
    }
    const v1 = join(root, 'memory');
    if (existsSync(join(v1, 'memory.limit_in_bytes')) && writable(v1)) {
      // Under our own memory cgroup, so that whatever limit Steward runs under still applies to its children.
      const own = ownCgroup((controllers) => controllers.split(',').includes('memory')) ?? '/';
      const base = join(v1, own, name);
      if (writable(join(v1, own))) return cgroup1(base);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

async function readKeyed(file: string, key: string): Promise<number> {
  try {
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      const [k, v] = line.split(' ');
      if (k === key && v !== undefined) return Number(v);
    }
  } catch {
    // gone: no kills to report
  }
  return 0;
}

async function removeDir(path: string): Promise<boolean> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      await rmdir(path);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code !== 'EBUSY') throw error;
      // Tasks that were just killed leave the cgroup a moment later.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return false;
}

function cgroup2(base: string): MemoryCgroups {
  return {
    kind: 'cgroup2',
    base,
    async prepare(name, limitMb) {
      await mkdir(base, { recursive: true });
      // The memory controller must be enabled for the children of `base`; harmless when it already is.
      await writeFile(join(root, 'cgroup.subtree_control'), '+memory').catch(() => undefined);
      await writeFile(join(base, 'cgroup.subtree_control'), '+memory').catch(() => undefined);
      const path = join(base, name);
      await mkdir(path, { recursive: true });
      await writeFile(join(path, 'memory.max'), String(limitMb * 1024 * 1024));
      await writeFile(join(path, 'memory.swap.max'), '0').catch(() => undefined);
      return path;
    },
    async add(path, pid) {
      await writeFile(join(path, 'cgroup.procs'), String(pid));
    },
    oomKills: (path) => readKeyed(join(path, 'memory.events'), 'oom_kill'),
    remove: removeDir,
  };
}

function cgroup1(base: string): MemoryCgroups {
  return {
    kind: 'cgroup1',
    base,
    async prepare(name, limitMb) {
      const path = join(base, name);
      await mkdir(path, { recursive: true });
      const bytes = String(limitMb * 1024 * 1024);
      // memsw (memory + swap) must stay >= the memory limit, so raise or lower them in the right order.
      await writeFile(join(path, 'memory.memsw.limit_in_bytes'), '-1').catch(() => undefined);
      await writeFile(join(path, 'memory.limit_in_bytes'), bytes);
      await writeFile(join(path, 'memory.memsw.limit_in_bytes'), bytes).catch(() => undefined);
      return path;
    },
    async add(path, pid) {
      await writeFile(join(path, 'cgroup.procs'), String(pid));
    },
    oomKills: (path) => readKeyed(join(path, 'memory.oom_control'), 'oom_kill'),
    remove: removeDir,
  };
}
