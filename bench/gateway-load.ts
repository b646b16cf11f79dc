/**
 * bench/gateway's load generators: wrk (HTTP/1.1) and h2load (HTTP/2), each
 * in its own mount namespace with a private /etc/hosts, so that it connects
 * by name (SNI = Host) to 127.0.0.1 and nothing on the machine changes.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { percentile, round } from './support.ts';

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx answers, socket errors and timeouts. */
  readonly failed: number;
}

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime+stime (self) and cutime+cstime (reaped children) of a process, in seconds. */
export function cpuOf(pid: number | 'self'): { self: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number): number => Number(fields[i] ?? 0);
    // Fields 14-17 of proc(5), counted from field 3 (state) at index 0.
    return { self: (n(11) + n(12)) / clockTicks, children: (n(13) + n(14)) / clockTicks };
  } catch {
    return { self: 0, children: 0 };
  }
}

function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

export function parseWrk(out: string): LoadResult {
  const pct = (p: string): number =>
    parseDuration(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1];
  if (rps === undefined) throw new Error(`wrk printed no Requests/sec:\n${out}`);
  const socketErrors = [1, 2, 3, 4].reduce((n, i) => n + Number(errors?.[i] ?? 0), 0);
  return {
    requestsPerSecond: Number(rps),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    failed: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + socketErrors,
  };
}

/** h2load's summary, with p50/p99 from its per-request log (start µs, status, duration µs). */
export function parseH2load(out: string, requestLog: string): LoadResult {
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1];
  if (rps === undefined) throw new Error(`h2load printed no req/s:\n${out}`);
  const counts =
    /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      out,
    );
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const durations = requestLog
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((cells) => cells.length === 3)
    .map((cells) => Number(cells[2]) / 1000);
  return {
    requestsPerSecond: Number(rps),
    requests: Number(counts?.[2] ?? 0),
    p50Ms: round(percentile(durations, 50), 2),
    p99Ms: round(percentile(durations, 99), 2),
    failed:
      Number(counts?.[4] ?? 0) +
      Number(counts?.[5] ?? 0) +
      Number(counts?.[6] ?? 0) +
      Number(statuses?.[2] ?? 0) +
      Number(statuses?.[3] ?? 0) +
      Number(statuses?.[4] ?? 0),
  };
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export function loadGenerator(options: { work: string; host: string }) {
  const hostsFile = join(options.work, 'hosts');
  writeFileSync(hostsFile, `127.0.0.1 localhost ${options.host}\n::1 localhost\n`);
  const probe = spawnSync(
    'unshare',
    ['-m', 'sh', '-c', `mount --bind ${shellQuote(hostsFile)} /etc/hosts && getent hosts ${options.host}`],
    { stdio: 'ignore' },
  );
  if (probe.status !== 0)
    throw new Error('bench/gateway needs `unshare -m` (root) for a private /etc/hosts; run it as root');

  const exec = async (command: string, timeoutMs: number): Promise<string> => {
    const script = `mount --bind ${shellQuote(hostsFile)} /etc/hosts && ulimit -n "$(ulimit -Hn)" && exec ${command}`;
    const child = spawn('unshare', ['-m', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // h2load once waited minutes past its duration for a connection that never came up.
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    clearTimeout(killer);
    if (code !== 0) throw new Error(`${command.split(' ')[0]} exited ${code}: ${err}${out}`);
    return out;
  };

  return {
    async run(
      protocol: 'http1' | 'http2',
      url: string,
      connections: number,
      seconds: number,
      /** Request headers (HTTP/1.1 only), e.g. a session cookie (bench/identity). */
      headers: Readonly<Record<string, string>> = {},
    ): Promise<LoadResult> {
      if (protocol === 'http1') {
        const flags = Object.entries(headers)
          .map(([name, value]) => ` -H ${shellQuote(`${name}: ${value}`)}`)
          .join('');
        return parseWrk(
          await exec(
            `wrk -t 2 -c ${connections} -d ${seconds}s --latency --timeout 10s${flags} ${shellQuote(url)}`,
            (seconds + 60) * 1000,
          ),
        );
      }
      const requestLog = join(options.work, 'h2load.log');
      try {
        const out = await exec(
          `h2load -t 2 -c ${connections} -m 1 -D ${seconds} -N 10s --log-file=${shellQuote(requestLog)} ${shellQuote(url)}`,
          (seconds + 60) * 1000,
        );
        return parseH2load(out, readFileSync(requestLog, 'utf8'));
      } finally {
        rmSync(requestLog, { force: true });
      }
    },
  };
}
