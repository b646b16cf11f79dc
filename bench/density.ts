/**
 * bench/density: resident memory of Steward itself with many running
 * stages, and with those stages scaled to zero. Prints JSON.
 *
 * BENCH_STAGES (50) stages, two per tenant (dev and test), each running the
 * sample app (a web and a worker process), deployed BENCH_CONCURRENCY (8) at
 * a time. Steward runs in this process: its memory is this process's VmRSS
 * (target <= 200 MB with 50 running stages); the anchor is the same right
 * after start with no stage. The apps' processes are summed for context.
 * Then every stage is set to scale to zero after 10 s idle, and both are
 * measured again once `ps` shows every stage scaled to zero.
 *
 * Usage: npm run bench:density  (BENCH_STAGES=10 for a quick run)
 */
import type { ApiClient } from '../src/cli/client.ts';
import {
  createTenant,
  deploy,
  ledgerDir,
  log,
  percentile,
  ps,
  round,
  rssMb,
  sleep,
  uploadRelease,
  withSteward,
  type StageView,
} from './support.ts';

const stageCount = Number(process.env.BENCH_STAGES ?? 50);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const stageNames = ['dev', 'test'] as const;
const tenants = Array.from({ length: Math.ceil(stageCount / 2) }, (_, i) => `dense-${i}`);
const stages = tenants
  .flatMap((tenant) => stageNames.map((stage) => ({ tenant, stage })))
  .slice(0, stageCount);

/** Runs `work` over `items`, `concurrency` at a time. */
async function pool<T>(items: readonly T[], work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i] as T, i);
      }
    }),
  );
}

async function allStages(api: ApiClient): Promise<StageView[]> {
  const views: StageView[] = [];
  for (const tenant of tenants) views.push(...(await ps(api, tenant)));
  return views;
}

const mb = (bytes: number): number => round(bytes / 1024 / 1024);

/**
 * Steward's own RSS (median of five samples a second apart) and V8's heap,
 * then, when run with --expose-gc, both again after a full collection (what
 * is live, not garbage V8 has yet to collect); and the apps' summed RSS.
 */
async function memory(api: ApiClient | undefined) {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(await rssMb('self'));
    await sleep(1000);
  }
  const heap = process.memoryUsage();
  const gc = (globalThis as { gc?: () => void }).gc;
  let afterGc: { rssMb: number; heapUsedMb: number } | undefined;
  if (gc) {
    gc();
    afterGc = { rssMb: round(await rssMb('self')), heapUsedMb: mb(process.memoryUsage().heapUsed) };
  }
  const pids = (api ? await allStages(api) : [])
    .flatMap((s) => s.processes.map((p) => p.pid))
    .filter((p) => p !== null);
  let appMb = 0;
  for (const pid of pids) appMb += await rssMb(pid);
  return {
    stewardMb: round(percentile(samples, 50)),
    steward: {
      heapUsedMb: mb(heap.heapUsed),
      heapTotalMb: mb(heap.heapTotal),
      externalMb: mb(heap.external),
      ...(afterGc ? { afterGc } : {}),
    },
    appMb: round(appMb),
    appProcesses: pids.length,
  };
}

await withSteward('density', async ({ api }) => {
  await sleep(3000);
  const anchor = await memory(undefined);
  log(`anchor: Steward ${anchor.stewardMb} MB with no stage`);

  await uploadRelease(api, ledgerDir, '1.0.0');
  const started = performance.now();
  await pool(tenants, (tenant) => createTenant(api, tenant, [...stageNames]));
  log(`${tenants.length} tenants ready after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  let deployed = 0;
  await pool(stages, async ({ tenant, stage }) => {
    await deploy(api, tenant, stage, '1.0.0');
    if (++deployed % 10 === 0) log(`deployed ${deployed}/${stages.length}`);
  });
  const deploySeconds = (performance.now() - started) / 1000;
  const views = await allStages(api);
  const runningStages = views.filter((s) => s.phase === 'running').length;
  log(`${runningStages}/${stages.length} stages running after ${deploySeconds.toFixed(1)} s; settling`);
  await sleep(10_000);
  const running = await memory(api);
  log(`running: Steward ${running.stewardMb} MB, apps ${running.appMb} MB`);

  for (const { tenant, stage } of stages) {
    await api.request('PATCH', `/api/v1/tenants/${tenant}/stages/${stage}/runtime`, {
      scaleToZeroSeconds: 10,
    });
  }
  const scaleFrom = performance.now();
  for (;;) {
    const zero = (await allStages(api)).filter((s) => s.phase === 'scaled-to-zero').length;
    if (zero === stages.length) break;
    if (performance.now() - scaleFrom > 180_000) throw new Error(`only ${zero} stages scaled to zero`);
    await sleep(2000);
  }
  const scaleSeconds = (performance.now() - scaleFrom) / 1000;
  log(`all stages scaled to zero after ${scaleSeconds.toFixed(1)} s`);
  await sleep(5000);
  const zero = await memory(api);

  return {
    bench: 'density',
    stages: stages.length,
    tenants: tenants.length,
    deployConcurrency: concurrency,
    secondsToRunAll: round(deploySeconds),
    anchorNoStages: { stewardRssMb: anchor.stewardMb, ...anchor.steward },
    running: {
      stages: runningStages,
      stewardRssMb: running.stewardMb,
      targetStewardRssMb: 200,
      ratioToAnchor: round(running.stewardMb / anchor.stewardMb, 2),
      ...running.steward,
      appProcesses: running.appProcesses,
      appRssMb: running.appMb,
    },
    scaledToZero: {
      secondsUntilAllScaledToZero: round(scaleSeconds),
      stewardRssMb: zero.stewardMb,
      ratioToAnchor: round(zero.stewardMb / anchor.stewardMb, 2),
      ...zero.steward,
      appProcesses: zero.appProcesses,
      appRssMb: zero.appMb,
    },
  };
});
