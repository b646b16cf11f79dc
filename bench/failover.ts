/**
 * bench/failover: SIGKILL of an ha cluster's primary (its Patroni and its
 * postmaster: the machine is gone) under the drills' write load, BENCH_KILLS
 * times (20), with Steward's tuned Patroni settings and then with Patroni's
 * own defaults as the anchor, in the same run. Each kill is a failover drill
 * (src/drills/runner.ts): writes through the database router, seconds until
 * they resume, acknowledged commits lost (synchronous mode: the target is 0
 * over all kills), seconds until the old primary streams again.
 * Targets: writes-resume p95 <= 10 s (stretch 5 s); the RDS Multi-AZ anchor is 35 s.
 *
 * Usage: npm run bench:failover   (BENCH_KILLS=3 for a quick run;
 * BENCH_ANCHOR_KILLS for the defaults' count, default BENCH_KILLS;
 * BENCH_SYNCHRONOUS=0 for asynchronous mode; BENCH_UNSAFE_FAST=1 for fsync off;
 * BENCH_TTL, BENCH_LOOP_WAIT, BENCH_RETRY_TIMEOUT override the tuned settings, to try others)
 */
import { cpus } from 'node:os';
import pino from 'pino';
import { defaultSettings, patroniDefaults, type PatroniSettings } from '../src/databases/patroni/index.ts';
import { runDrill, type DrillRun } from '../src/drills/runner.ts';
import { benchRoot, startBenchCluster, startBenchEtcd } from './ha-support.ts';
import { log, percentile, round } from './support.ts';

const kills = Number(process.env.BENCH_KILLS ?? 20);
const anchorKills = Number(process.env.BENCH_ANCHOR_KILLS ?? kills);
const synchronous = process.env.BENCH_SYNCHRONOUS !== '0';
const unsafeFast = process.env.BENCH_UNSAFE_FAST === '1';
const override = (name: string): number | undefined =>
  process.env[name] === undefined ? undefined : Number(process.env[name]);
const tunedSettings: PatroniSettings = {
  ...defaultSettings,
  ttl: override('BENCH_TTL') ?? defaultSettings.ttl,
  loopWait: override('BENCH_LOOP_WAIT') ?? defaultSettings.loopWait,
  retryTimeout: override('BENCH_RETRY_TIMEOUT') ?? defaultSettings.retryTimeout,
};

interface Series {
  readonly settings: PatroniSettings;
  readonly kills: number;
  readonly passed: number;
  readonly writesResumeSeconds: { p50: number; p95: number; max: number; min: number };
  readonly lostCommits: { readonly total: number; readonly killsWithLoss: number };
  readonly rejoinSeconds: { p50: number; max: number };
  readonly acknowledgedWrites: number;
  readonly failures: readonly string[];
  readonly each: readonly { resume: number | null; lost: number | null; rejoin: number | null }[];
}

async function series(
  name: string,
  bench: Awaited<ReturnType<typeof benchRoot>>,
  etcd: Awaited<ReturnType<typeof startBenchEtcd>>,
  settings: PatroniSettings,
  count: number,
): Promise<Series> {
  log(`${name}: starting a 3-member ${synchronous ? 'synchronous' : 'asynchronous'} cluster`);
  const cluster = await startBenchCluster(bench.root, etcd, { synchronous, settings, unsafeFast });
  bench.onCleanup(() => cluster.stop());
  const runs: DrillRun[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const run = await runDrill(cluster.ha, 'kill', {
        logger: pino({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
        limits: {
          healthyWithinMs: 180_000,
          warmupWrites: 50,
          warmupWithinMs: 30_000,
          resumeWithinMs: 180_000,
          settleMs: 1_000,
          rejoinWithinMs: 180_000,
        },
      });
      runs.push(run);
      log(
        `${name} kill ${i + 1}/${count}: ${run.outcome}, writes resumed after ${run.writesResumeSeconds ?? '-'} s, ${run.lostCommits ?? '-'} lost of ${run.acknowledgedWrites ?? '-'}, rejoined after ${run.rejoinSeconds ?? '-'} s${run.outcome === 'passed' ? '' : `: ${run.reason}`}`,
      );
    }
  } finally {
    await cluster.stop();
  }
  const resumes = runs.flatMap((r) => (r.writesResumeSeconds == null ? [] : [r.writesResumeSeconds]));
  const rejoins = runs.flatMap((r) => (r.rejoinSeconds == null ? [] : [r.rejoinSeconds]));
  const lost = runs.map((r) => r.lostCommits ?? 0);
  return {
    settings,
    kills: count,
    passed: runs.filter((r) => r.outcome === 'passed').length,
    writesResumeSeconds: {
      p50: round(percentile(resumes, 50), 2),
      p95: round(percentile(resumes, 95), 2),
      max: round(Math.max(...resumes), 2),
      min: round(Math.min(...resumes), 2),
    },
    lostCommits: { total: lost.reduce((a, b) => a + b, 0), killsWithLoss: lost.filter((n) => n > 0).length },
    rejoinSeconds: { p50: round(percentile(rejoins, 50), 2), max: round(Math.max(...rejoins), 2) },
    acknowledgedWrites: runs.reduce((a, r) => a + (r.acknowledgedWrites ?? 0), 0),
    failures: runs.filter((r) => r.outcome !== 'passed').map((r) => r.reason),
    each: runs.map((r) => ({
      resume: r.writesResumeSeconds ?? null,
      lost: r.lostCommits ?? null,
      rejoin: r.rejoinSeconds ?? null,
    })),
  };
}

const bench = await benchRoot('failover');
try {
  const etcd = await startBenchEtcd(bench.root);
  bench.onCleanup(() => etcd.stop());
  const started = Date.now();
  const tuned = kills > 0 ? await series('tuned', bench, etcd, tunedSettings, kills) : null;
  const anchor =
    anchorKills > 0 ? await series('patroni defaults', bench, etcd, patroniDefaults, anchorKills) : null;
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'failover',
        machine: { cpus: cpus().length, members: 3, loopback: true, fsync: !unsafeFast },
        synchronous,
        fault: 'SIGKILL of the primary member: its Patroni and its postmaster together',
        load: 'one connection through the database router, one insert per transaction, reconnecting with 50-400 ms backoff',
        targets: { writesResumeP95Seconds: 10, stretchSeconds: 5, rdsMultiAzSeconds: 35, lostCommits: 0 },
        tuned,
        patroniDefaults: anchor,
        seconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await bench.cleanup();
}
