/**
 * bench/deploy: zero-downtime deploys under a steady load. Prints JSON.
 *
 * BENCH_RATE (200) requests/s, paced and open-loop, to /api/invoices through
 * the stage's published URL; first a quiet period of BENCH_QUIET_SECONDS
 * (20) without deploys (the anchor), then BENCH_DEPLOYS (10) deploys one
 * after the other, alternating between two releases of the sample app that
 * differ in their environment. Reports failed requests (target 0), latency
 * during deploys against the quiet period, and deploy durations.
 *
 * The load comes from this process, which also runs Steward (and with it the
 * stage's proxy): both share one event loop, as the CPU of a small machine.
 *
 * Usage: npm run bench:deploy
 */
import { rm } from 'node:fs/promises';
import {
  createTenant,
  deploy,
  get,
  ledgerDir,
  log,
  pacedLoad,
  percentile,
  round,
  sleep,
  stageView,
  uploadRelease,
  variant,
  withSteward,
  type Sample,
} from './support.ts';

const rate = Number(process.env.BENCH_RATE ?? 200);
const deploys = Number(process.env.BENCH_DEPLOYS ?? 10);
const quietSeconds = Number(process.env.BENCH_QUIET_SECONDS ?? 20);
const tenant = 'deploy';
const stage = 'prod';
const versions = ['1.0.1', '1.0.0'] as const;

const latency = (samples: readonly Sample[]) => {
  const ok = samples.filter((s) => s.status === 200).map((s) => s.ms);
  return {
    requests: samples.length,
    failed: samples.length - ok.length,
    p50Ms: round(percentile(ok, 50)),
    p99Ms: round(percentile(ok, 99)),
    maxMs: round(Math.max(...ok)),
  };
};

await withSteward('deploy', async ({ api }, onCleanup) => {
  log('registering two releases of the sample app');
  const other = await variant((y) => y.replace('LEDGER_CURRENCY: EUR', 'LEDGER_CURRENCY: CHF'));
  onCleanup(() => rm(other, { recursive: true, force: true }));
  await uploadRelease(api, ledgerDir, '1.0.0');
  await uploadRelease(api, other, '1.0.1');
  await createTenant(api, tenant, [stage]);
  await deploy(api, tenant, stage, '1.0.0');
  const url = (await stageView(api, tenant, stage)).url;
  if (!url) throw new Error('the stage has no published URL');
  for (let i = 0; i < 50; i++) await get(`${url}/api/invoices`); // warm up connections and the JIT

  const maxSeconds = quietSeconds + deploys * 60 + 30;
  const load = pacedLoad(`${url}/api/invoices`, rate, maxSeconds);
  onCleanup(() => load.stop());
  const quietFrom = performance.now();
  log(`quiet: ${quietSeconds} s at ${rate} requests/s`);
  await sleep(quietSeconds * 1000);
  const quietTo = performance.now();

  const durations: number[] = [];
  const deployFrom = performance.now();
  for (let i = 0; i < deploys; i++) {
    const version = versions[i % 2] ?? '1.0.0';
    const ms = await deploy(api, tenant, stage, version);
    durations.push(ms);
    log(`deploy ${i + 1}/${deploys}: ${version} active after ${(ms / 1000).toFixed(2)} s`);
  }
  const deployTo = performance.now();
  await sleep(1000);
  const samples = await load.stop();
  const elapsed = (samples.at(-1)?.at ?? deployTo) - (samples[0]?.at ?? quietFrom);
  const failures = samples.filter((s) => s.status !== 200);
  const release = JSON.parse((await get(`${url}/healthz`)).body) as { release: string };

  const quiet = latency(samples.filter((s) => s.at >= quietFrom && s.at < quietTo));
  const during = latency(samples.filter((s) => s.at >= deployFrom && s.at < deployTo));
  return {
    bench: 'deploy',
    deploys,
    ratePerSecond: rate,
    achievedRatePerSecond: round((samples.length / elapsed) * 1000),
    totalRequests: samples.length,
    failedRequests: failures.length,
    failedStatuses: [...new Set(failures.map((s) => s.status))],
    targetFailed: 0,
    quietAnchor: { seconds: quietSeconds, ...quiet },
    duringDeploys: { seconds: round((deployTo - deployFrom) / 1000), ...during },
    ratioP50ToAnchor: round(during.p50Ms / quiet.p50Ms, 2),
    ratioP99ToAnchor: round(during.p99Ms / quiet.p99Ms, 2),
    deploySeconds: {
      p50: round(percentile(durations, 50) / 1000, 2),
      max: round(Math.max(...durations) / 1000, 2),
      all: durations.map((ms) => round(ms / 1000, 2)),
    },
    finalRelease: release.release,
  };
});
