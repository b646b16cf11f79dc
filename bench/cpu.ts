/**
 * CPU time of the processes a benchmark's Steward runs besides itself
 * (PostgreSQL, HAProxy, the stages' apps) and of the whole machine, from
 * /proc. Benchmarks share the machine with other work: these numbers say how
 * much of it was theirs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { cpus } from 'node:os';

/** Linux's USER_HZ: /proc counts CPU time in these ticks. */
const ticksPerSecond = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime, and what reaped children used (cutime + cstime), in ticks. */
  readonly own: number;
  readonly reaped: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields after it start at the last ')'.
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text
      .slice(close + 2)
      .split(' ')
      .map(Number);
    // After comm: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    return {
      pid,
      ppid: f[1] ?? 0,
      comm,
      own: (f[11] ?? 0) + (f[12] ?? 0),
      reaped: (f[13] ?? 0) + (f[14] ?? 0),
    };
  } catch {
    return undefined;
  }
}

/** A process and everything below it (a sandboxed web process is bwrap, bwrap again, then node). */
export async function withDescendants(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    const stat = Number.isInteger(Number(name)) ? await procStat(Number(name)) : undefined;
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat.pid]);
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i] as number) ?? []));
  return all;
}

/** CPU seconds so far per kind of process ("postgres", "haproxy", "apps"). */
export type CpuSample = Readonly<Record<string, number>>;

const kindOf = (comm: string): string =>
  comm.startsWith('postgres') ? 'postgres' : comm === 'haproxy' ? 'haproxy' : 'apps';

/**
 * Samples this process's children (the stages' sandboxed apps) and the
 * processes whose command line names `dataDir` (PostgreSQL's postmasters,
 * which pg_ctl detaches), with all their descendants, but not this process. Exited descendants count through their parent's
 * reaped time, so a sample is cumulative.
 */
export function cpuSampler(dataDir: string): {
  sample(): Promise<CpuSample>;
  /** Each kind's share of one core between two samples. */
  since(before: CpuSample, after: CpuSample, wallSeconds: number): Record<string, number>;
} {
  return {
    async sample() {
      const stats: ProcStat[] = [];
      const roots = new Set<number>();
      for (const name of await readdir('/proc')) {
        const pid = Number(name);
        if (!Number.isInteger(pid) || pid === process.pid) continue;
        const stat = await procStat(pid);
        if (!stat) continue;
        stats.push(stat);
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (stat.ppid === process.pid || cmdline.includes(dataDir)) roots.add(pid);
      }
      const children = new Map<number, ProcStat[]>();
      for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
      const totals: Record<string, number> = {};
      const seen = new Set<number>();
      const add = (s: ProcStat): void => {
        if (seen.has(s.pid)) return;
        seen.add(s.pid);
        const kind = kindOf(s.comm);
        // Reaped time is what exited children used: alive ones are added below, each once.
        totals[kind] = (totals[kind] ?? 0) + (s.own + s.reaped) / ticksPerSecond;
        for (const c of children.get(s.pid) ?? []) add(c);
      };
      for (const s of stats) if (roots.has(s.pid)) add(s);
      return totals;
    },
    since(before, after, wallSeconds) {
      const shares: Record<string, number> = {};
      for (const kind of Object.keys(after)) {
        shares[kind] = Number(
          (Math.max(0, (after[kind] ?? 0) - (before[kind] ?? 0)) / wallSeconds).toFixed(3),
        );
      }
      return shares;
    },
  };
}

/** The machine's busy and total CPU ticks so far (/proc/stat), for the cores busy between two samples. */
export async function machineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Cores busy on average between two machineCpu() samples. */
export function busyCores(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  return b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * cpus().length : 0;
}
