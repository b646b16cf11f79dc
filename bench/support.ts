/**
 * What the runtime benchmarks share: an in-process Steward in a temporary
 * data dir, the sample app as a release, deploys, `ps`, a paced HTTP load
 * through a stage's published URL, and resident memory from /proc.
 */
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ApiClient } from '../src/cli/client.ts';
import { readEnvironment } from '../src/core/env.ts';
import { createLogger } from '../src/core/logger.ts';
import { up, type ClientFile, type RunningSteward } from '../src/up.ts';

export const ledgerDir = join(import.meta.dirname, '..', 'examples', 'ledger');

export const log = (message: string): void => void process.stderr.write(`${message}\n`);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

/** A small seeded PRNG (mulberry32): the same evidence on every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

export interface BenchSteward {
  readonly running: RunningSteward;
  readonly api: ApiClient;
  readonly dataDir: string;
  /** Stops Steward (and with it every stage's processes and PostgreSQL), then removes the data dir. */
  close(): Promise<void>;
}

/**
 * Runs `work` against a fresh Steward and always cleans up: on success, on
 * an error, and on SIGINT/SIGTERM. `cleanups` registered by the work run first.
 */
export async function withSteward(
  name: string,
  work: (s: BenchSteward, onCleanup: (fn: () => unknown) => void) => Promise<unknown>,
  options: {
    readonly overrides?: Readonly<Record<string, unknown>>;
    /** Start with the demo tenant (what `npm start` does). */
    readonly demo?: boolean;
    /** Print the work's result as JSON on stdout (default); off when a benchmark combines several runs. */
    readonly print?: boolean;
  } = {},
): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), `steward-bench-${name}-`));
  await chmod(dataDir, 0o711);
  log(`bench/${name}: data dir ${dataDir}`);
  const cleanups: (() => unknown)[] = [];
  let running: RunningSteward | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (error) {
          log(`cleanup: ${(error as Error).message}`);
        }
      }
      await running?.stop().catch((error: unknown) => log(`stopping Steward: ${(error as Error).message}`));
      await rm(dataDir, { recursive: true, force: true });
      log(`bench/${name}: cleaned up`);
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`bench/${name}: ${signal}, cleaning up`);
    void close().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    running = await up({
      dataDir,
      env: { ...readEnvironment({}), pgBinDir: process.env.STEWARD_PG_BIN_DIR },
      overrides: {
        api: { port: 0 },
        logLevel: 'warn',
        // A uid range of its own: with the default one, the network rules of another Steward on
        // this machine (a test, another benchmark) refuse this one's stages their database.
        runtime: { uidBase: 1_000_000 + randomInt(0, 1_000_000) * 1000, uidCount: 1000 },
        ...options.overrides,
      },
      ...(options.demo ? { demo: true } : {}),
      // Steward's own log lines go to stderr: stdout holds only the result.
      logger: createLogger(process.env.BENCH_LOG_LEVEL ?? 'error', pino.destination(2)),
      progress: log,
    });
    const client = JSON.parse(await readFile(running.clientFile, 'utf8')) as ClientFile;
    const api = new ApiClient(client);
    const result = await work({ running, api, dataDir, close }, (fn) => cleanups.push(fn));
    if (options.print !== false) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } catch (error) {
    log(`bench/${name} failed: ${(error as Error).stack ?? String(error)}`);
    process.exitCode = 1;
  } finally {
    await close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A copy of the sample app with its steward.yaml changed; the caller removes it. */
export async function variant(change: (yaml: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ledger-variant-'));
  await cp(ledgerDir, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  const file = join(dir, 'steward.yaml');
  await writeFile(file, change(await readFile(file, 'utf8')));
  return dir;
}

export async function uploadRelease(api: ApiClient, dir: string, version: string): Promise<void> {
  const archive = execFileSync('tar', ['-czf', '-', '--exclude=node_modules', '-C', dir, '.'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  await api.upload(`/api/v1/releases?version=${encodeURIComponent(version)}`, archive, 'application/gzip');
}

export async function createTenant(api: ApiClient, slug: string, stages: string[]): Promise<void> {
  await api.post('/api/v1/tenants', { slug, stages });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const tenant = await api.get<{ stages: { phase: string }[] }>(`/api/v1/tenants/${slug}`);
    if (tenant.stages.every((s) => s.phase === 'ready')) return;
    if (tenant.stages.some((s) => s.phase === 'failed')) throw new Error(`tenant ${slug}: a stage failed`);
    if (Date.now() > deadline) throw new Error(`tenant ${slug}: stages not ready within 120 s`);
    await sleep(50);
  }
}

export interface Deployment {
  readonly id: string;
  readonly status: string;
  readonly reason: string | null;
}

/** Deploys and waits until the deployment is active (or fails); returns its duration in ms. */
export async function deploy(
  api: ApiClient,
  tenant: string,
  stage: string,
  version: string,
): Promise<number> {
  const started = performance.now();
  const { id } = await api.post<Deployment>(`/api/v1/tenants/${tenant}/stages/${stage}/deployments`, {
    version,
  });
  const deadline = Date.now() + 180_000;
  for (;;) {
    const d = await api.get<Deployment>(`/api/v1/deployments/${id}`);
    if (d.status === 'active') return performance.now() - started;
    if (d.status === 'failed') throw new Error(`deploy ${tenant}/${stage} ${version} failed: ${d.reason}`);
    if (Date.now() > deadline) throw new Error(`deploy ${tenant}/${stage} ${version} stuck in ${d.status}`);
    await sleep(50);
  }
}

export interface ProcessView {
  readonly process: string;
  readonly pid: number | null;
  /** The port a web process listens on (its own, behind the stage's published endpoint). */
  readonly port?: number | null;
  readonly phase: string;
  readonly healthy: boolean | null;
  readonly restarts: number;
  readonly release: string;
}

export interface StageView {
  readonly stage: string;
  readonly phase: string;
  readonly url: string | null;
  readonly release: string | null;
  readonly processes: ProcessView[];
}

export async function ps(api: ApiClient, tenant: string): Promise<StageView[]> {
  return (await api.get<{ stages: StageView[] }>(`/api/v1/tenants/${tenant}/ps`)).stages;
}

export async function stageView(api: ApiClient, tenant: string, stage: string): Promise<StageView> {
  const view = (await ps(api, tenant)).find((s) => s.stage === stage);
  if (!view) throw new Error(`no stage ${tenant}/${stage} in ps`);
  return view;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One GET; never rejects: status -1 for a connection error, -2 for a timeout. */
export function get(url: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', () => resolve({ status: -1, body: '' }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ status: -2, body: 'timeout' });
    });
    req.on('error', (error) => resolve({ status: -1, body: error.message }));
    req.end();
  });
}

/** Polls until a GET answers 200; returns when it did (performance.now()). */
export async function waitServing(url: string, timeoutMs: number, everyMs = 10): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { status } = await get(url, 2000);
    if (status === 200) return performance.now();
    if (performance.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

export interface Sample {
  /** When the request was due (ms, performance.now()). */
  readonly at: number;
  readonly ms: number;
  readonly status: number;
}

/**
 * Open-loop load: request i is sent at start + i / rate whether or not the
 * earlier ones have answered, so a stall shows as latency, not as fewer
 * requests. Stops by itself after `maxSeconds` (or `stop()`); `stop()`
 * resolves once every request sent has answered or timed out.
 */
export function pacedLoad(
  url: string,
  rate: number,
  maxSeconds: number,
): { stop(): Promise<Sample[]>; readonly samples: Sample[] } {
  const samples: Sample[] = [];
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  const limit = Math.ceil(rate * maxSeconds);
  let sent = 0;
  let stopped = false;
  const fire = (): void => {
    const due = Math.min(limit, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    while (!stopped && sent < due) {
      const at = start + (sent * 1000) / rate;
      sent++;
      const p = get(url, 30_000).then(({ status }) => {
        samples.push({ at, ms: performance.now() - at, status });
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    if (sent >= limit) stopped = true;
  };
  const timer = setInterval(fire, Math.max(1, Math.min(10, 1000 / rate / 2)));
  return {
    samples,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return samples.sort((a, b) => a.at - b.at);
    },
  };
}

/** Resident memory of a process in MB (VmRSS), or 0 when it is gone. */
export async function rssMb(pid: number | 'self'): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}
