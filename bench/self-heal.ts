/**
 * bench/self-heal: how fast a stage serves again after its web process dies
 * or hangs, under light load through the stage's published URL. Prints JSON.
 *
 * - kill: SIGKILL the web process BENCH_KILLS times (20), each time waiting
 *   until the published URL answers 200 again: p50/p95/max milliseconds
 *   (target p95 <= 2000). Kills are BENCH_KILL_GAP_MS (16000) apart, so that
 *   no more than 4 fall in the supervisor's crashloop window (5 exits in
 *   60 s); closer kills measure the crashloop delay (30 s), not a restart.
 * - hang: SIGSTOP the web process once; seconds until a new process serves,
 *   with the sample app's default probe settings (target <= 15).
 * - anchor: the same web process started bare (`node src/server.ts`, same
 *   directory, environment and user) from spawn to its first 200 on
 *   /healthz: the app's own cold start, which any restart must pay too.
 * - load: BENCH_RATE (20) requests/s to /api/invoices throughout; failed
 *   requests (not 200) are counted per phase.
 *
 * Usage: npm run bench:self-heal  (BENCH_LOG_LEVEL=warn shows why requests failed)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../src/system/ports.ts';
import {
  createTenant,
  deploy,
  ledgerDir,
  log,
  pacedLoad,
  percentile,
  round,
  sleep,
  stageView,
  uploadRelease,
  waitServing,
  withSteward,
  type Sample,
} from './support.ts';
import type { ApiClient } from '../src/cli/client.ts';

const kills = Number(process.env.BENCH_KILLS ?? 20);
const gapMs = Number(process.env.BENCH_KILL_GAP_MS ?? 16_000);
const rate = Number(process.env.BENCH_RATE ?? 20);
const anchorRuns = Number(process.env.BENCH_ANCHOR_RUNS ?? 5);
const tenant = 'heal';
const stage = 'prod';

async function webProcess(api: ApiClient, notPid?: number): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const view = await stageView(api, tenant, stage);
    const web = view.processes.find((p) => p.process === 'web');
    if (web?.pid && web.healthy === true && web.pid !== notPid) return web.pid;
    if (Date.now() > deadline) throw new Error(`no healthy web process: ${JSON.stringify(view)}`);
    await sleep(50);
  }
}

/** The web process's own command line, directory, environment and user, to start it bare. */
async function bareStart(pid: number, children: Set<ChildProcess>): Promise<number> {
  const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean);
  const env: Record<string, string> = {};
  for (const entry of environ) {
    const eq = entry.indexOf('=');
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const cwd = await readlink(`/proc/${pid}/cwd`);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
  const gid = Number(/^Gid:\s+(\d+)/m.exec(status)?.[1]);
  const port = await freePort(0);
  env.PORT = String(port);
  const started = performance.now();
  const child = spawn(process.execPath, ['src/server.ts'], {
    cwd,
    env,
    uid,
    gid,
    detached: true,
    stdio: 'ignore',
  });
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const ready = await waitServing(`http://127.0.0.1:${port}/healthz`, 30_000);
    return ready - started;
  } finally {
    if (child.pid) process.kill(-child.pid, 'SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null && child.signalCode === null && child.pid)
      process.kill(-child.pid, 'SIGKILL');
    children.delete(child);
  }
}

/** The probe settings the sample app's steward.yaml declares (its defaults). */
async function probeSettings(): Promise<Record<string, unknown>> {
  const definition = parseYaml(await readFile(join(ledgerDir, 'steward.yaml'), 'utf8')) as {
    health: { intervalSeconds: number; timeoutSeconds: number; failureThreshold: number };
  };
  const { intervalSeconds, timeoutSeconds, failureThreshold } = definition.health;
  return { intervalSeconds, timeoutSeconds, failureThreshold };
}

const failed = (samples: readonly Sample[], from: number, to: number): number =>
  samples.filter((s) => s.at >= from && s.at < to && s.status !== 200).length;

await withSteward('self-heal', async ({ api }, onCleanup) => {
  log('registering the sample app and deploying it');
  await uploadRelease(api, ledgerDir, '1.0.0');
  await createTenant(api, tenant, [stage]);
  await deploy(api, tenant, stage, '1.0.0');
  const view = await stageView(api, tenant, stage);
  const url = view.url ?? '';
  const health = view.processes.find((p) => p.process === 'web');
  if (!url || !health) throw new Error(`stage not published: ${JSON.stringify(view)}`);

  const children = new Set<ChildProcess>();
  const stopped = new Set<number>();
  onCleanup(() => {
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone already
      }
    }
    for (const child of children) if (child.pid) process.kill(-child.pid, 'SIGKILL');
  });

  log(`anchor: ${anchorRuns} bare starts of the web process`);
  const anchor: number[] = [];
  for (let i = 0; i < anchorRuns; i++) anchor.push(await bareStart(await webProcess(api), children));
  const anchorMs = percentile(anchor, 50);
  log(`anchor: cold start median ${anchorMs.toFixed(0)} ms`);

  const load = pacedLoad(`${url}/api/invoices`, rate, ((kills + 2) * gapMs) / 1000 + 120);
  onCleanup(() => load.stop());
  await sleep(2000);

  const restartMs: number[] = [];
  const windows: { from: number; to: number }[] = [];
  let lastKill = 0;
  for (let i = 0; i < kills; i++) {
    const pid = await webProcess(api);
    await sleep(Math.max(0, lastKill + gapMs - performance.now()));
    const killedAt = performance.now();
    lastKill = killedAt;
    process.kill(pid, 'SIGKILL');
    const servedAt = await waitServing(`${url}/healthz`, 60_000);
    restartMs.push(servedAt - killedAt);
    windows.push({ from: killedAt, to: servedAt + 1000 });
    await webProcess(api, pid);
    log(`kill ${i + 1}/${kills}: serving again after ${(servedAt - killedAt).toFixed(0)} ms`);
  }

  log('hang: SIGSTOP the web process');
  const pid = await webProcess(api);
  await sleep(Math.max(0, lastKill + gapMs - performance.now()));
  const stoppedAt = performance.now();
  stopped.add(pid);
  process.kill(pid, 'SIGSTOP');
  const replacedAt = await waitServing(`${url}/healthz`, 60_000, 50);
  const replacedSeconds = (replacedAt - stoppedAt) / 1000;
  const newPid = await webProcess(api, pid);
  log(`hang: pid ${pid} replaced by ${newPid} after ${replacedSeconds.toFixed(1)} s`);
  await sleep(2000);

  const samples = await load.stop();
  const inKills = windows.reduce((n, w) => n + failed(samples, w.from, w.to), 0);
  const inHang = failed(samples, stoppedAt, replacedAt + 1000);
  const ok = samples.filter((s) => s.status === 200).map((s) => s.ms);
  return {
    bench: 'self-heal',
    load: {
      path: '/api/invoices',
      ratePerSecond: rate,
      requests: samples.length,
      failed: samples.length - ok.length,
      failedDuringKills: inKills,
      failedDuringHang: inHang,
      failedStatuses: [...new Set(samples.filter((s) => s.status !== 200).map((s) => s.status))],
      p50Ms: round(percentile(ok, 50)),
      p99Ms: round(percentile(ok, 99)),
      maxMs: round(Math.max(...ok)),
    },
    kill: {
      kills,
      gapSeconds: gapMs / 1000,
      untilServingP50Ms: round(percentile(restartMs, 50)),
      untilServingP95Ms: round(percentile(restartMs, 95)),
      untilServingMaxMs: round(Math.max(...restartMs)),
      targetP95Ms: 2000,
      anchorBareColdStartMs: round(anchorMs),
      ratioP50ToAnchor: round(percentile(restartMs, 50) / anchorMs, 2),
      samplesMs: restartMs.map((ms) => Math.round(ms)),
    },
    hang: {
      probe: await probeSettings(),
      secondsUntilReplaced: round(replacedSeconds, 2),
      targetSeconds: 15,
    },
  };
});
