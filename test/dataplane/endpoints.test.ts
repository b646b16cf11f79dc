import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Activator,
  activatorVia,
  createExclusive,
  Haproxy,
  HaproxyStageEndpoints,
  stageBackendName,
  type StageBackend,
} from '../../src/dataplane/index.ts';
import type { EndpointStage } from '../../src/runtime/endpoints.ts';
import { send, startApp, upgrade, withActivator, type AppProcess } from './endpoint-support.ts';
import { dataPlaneFixture, until, type DataPlaneFixture } from './support.ts';

/**
 * The runtime's StageEndpoints on the real HAProxy, with real app processes:
 * deploys and rollbacks hand over under load through the TLS edge, a sleeping
 * stage wakes through the activator, idleness is read from HAProxy, and a new
 * Steward takes over the view from HAProxy.
 */

let fixture: DataPlaneFixture;
let haproxy: Haproxy;
let activator: Activator;
let endpoints: HaproxyStageEndpoints;
const exclusive = createExclusive();
const apps = new Set<AppProcess>();
/** Stage backends the config has, as the controller would keep them. */
const stages: string[] = [];
let ensured = 0;
/** Stages the activator asked to wake, and what the runtime does then. */
const woken: string[] = [];
let onWake: ((stageId: string) => Promise<void>) | undefined;

const handoverStage: EndpointStage = { id: '11', tenant: 'acme', name: 'prod', publishedPort: 1 };
const sleepyStage: EndpointStage = { id: '12', tenant: 'acme', name: 'dev', publishedPort: 2 };

/** What the controller does: render haproxy.cfg with every stage backend and its servers, then reload. */
async function renderAndReload(): Promise<void> {
  const backends: StageBackend[] = stages.map((name) => ({ name, servers: endpoints.servers(name) }));
  fixture.write(backends);
  writeFileSync(
    fixture.configFile,
    withActivator(readFileSync(fixture.configFile, 'utf8'), await activator.listen()),
  );
  await haproxy.reload();
}

async function app(name: string): Promise<AppProcess> {
  const started = await startApp(name);
  apps.add(started);
  return started;
}

async function stop(started: AppProcess): Promise<string[]> {
  apps.delete(started);
  return started.stop();
}

beforeAll(async () => {
  activator = new Activator({ holdTimeoutMs: 1_500, maxHeldPerStage: 4, retryAfterSeconds: 3 });
  const listen = await activator.listen();
  fixture = await dataPlaneFixture([]);
  writeFileSync(fixture.configFile, withActivator(readFileSync(fixture.configFile, 'utf8'), listen));
  haproxy = new Haproxy({
    configFile: fixture.configFile,
    pidFile: join(fixture.dir, 'haproxy.pid'),
    masterSocket: join(fixture.dir, 'master.sock'),
    adminSocket: fixture.state.files.adminSocket,
    logFile: join(fixture.dir, 'haproxy.log'),
  });
  await haproxy.start();
  endpoints = new HaproxyStageEndpoints({
    api: haproxy.api,
    activator,
    exclusive,
    pollMs: 20,
    statsMaxAgeMs: 100,
    ensureBackend: (stage) =>
      exclusive(async () => {
        ensured += 1;
        stages.push(stageBackendName(stage.id));
        await renderAndReload();
      }),
  });
  await endpoints.refresh();
  endpoints.onWake((stageId) => {
    woken.push(stageId);
    void onWake?.(stageId);
  });
  // The routes, in the map file a reload reads and in the running worker.
  const { routesMap } = fixture.state.files;
  const routes = { 'hand.test': handoverStage, 'sleepy.test': sleepyStage };
  writeFileSync(
    routesMap,
    Object.entries(routes)
      .map(([host, stage]) => `${host} ${stageBackendName(stage.id)}\n`)
      .join(''),
  );
  for (const [host, stage] of Object.entries(routes))
    await haproxy.api.addMapEntry(routesMap, host, stageBackendName(stage.id));
});

afterAll(async () => {
  await haproxy?.stop(2_000);
  for (const started of apps) started.child.kill('SIGKILL');
  await activator?.close();
  if (fixture) rmSync(fixture.dir, { recursive: true, force: true });
});

/**
 * Keep-alive clients through the TLS edge: GETs, slow GETs and POSTs with
 * bodies, each answer counted; a POST counts only if the app saw its whole
 * body (same SHA-256 and length). An answer that crossed the activator
 * counts as failed too: a handover must never leave a moment without an
 * instance, when HAProxy would send requests there.
 */
function steadyLoad(port: number, host: string, concurrency = 6) {
  const failures: string[] = [];
  const posts = new Map<string, string>();
  let answered = 0;
  let running = true;
  let sequence = 0;
  const agents: Agent[] = [];
  const loop = async (_: unknown, index: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    while (running) {
      const n = sequence++;
      try {
        if (n % 3 === 0) {
          const id = `${index}-${n}`;
          const body = randomBytes(1_024 + (n % 17) * 8_192);
          const sha256 = createHash('sha256').update(body).digest('hex');
          posts.set(id, `${id} ${sha256} ${body.length}`);
          const answer = await send(port, host, {
            method: 'POST',
            path: '/echo',
            body,
            agent,
            headers: { 'x-body-id': id },
          });
          if (answer.status !== 200 || answer.json.sha256 !== sha256 || answer.json.via !== '')
            failures.push(`POST ${id}: ${answer.status} ${answer.body.slice(0, 80)}`);
        } else {
          const path = n % 3 === 1 ? '/?ms=250' : '/';
          const answer = await send(port, host, { path, agent });
          if (answer.status !== 200 || answer.json.via !== '')
            failures.push(`GET ${path}: ${answer.status} ${answer.body.slice(0, 80)}`);
        }
        answered += 1;
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    failures,
    posts,
    answered: () => answered,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      for (const agent of agents) agent.destroy();
    },
  };
}

describe('stage endpoints on HAProxy', () => {
  it('hands over between real app processes 20 times (deploys and rollbacks) under load: no failed request, every POST body whole exactly once', async () => {
    const { https } = fixture.state;
    let current = await app('v0');
    await endpoints.serve(handoverStage, [current.port]);
    // The stage's backend was not in the config yet: the controller was asked for it once.
    expect(ensured).toBe(1);
    expect(endpoints.serving(handoverStage.id)).toEqual([current.port]);
    const received: string[] = [];
    const load = steadyLoad(https.port, 'hand.test');
    let reloadsDuringHandover = 0;
    /** Retires that began while the old instance still carried a request: its drain had to wait. */
    let retiresInFlight = 0;
    const backend = stageBackendName(handoverStage.id);
    const carrying = async (port: number) => {
      const rows = await haproxy.api.showStat('servers', backend);
      const row = rows.find((candidate) => candidate.name === `p${port}`);
      return Number(row?.fields.scur ?? 0) > 0;
    };
    try {
      await until('load', () => load.answered() > 20);
      for (let handover = 1; handover <= 20; handover += 1) {
        const next = await app(`v${handover}`);
        await endpoints.serve(handoverStage, [next.port]);
        expect(endpoints.serving(handoverStage.id)).toEqual([next.port]);
        const mark = load.answered();
        await until('traffic on the new instance', () => load.answered() > mark + 6);
        if (handover === 10 || handover === 12) {
          // A reload between serve and retire (another stage's backend, a policy): the draining
          // instance survives it (rendered weight 0), and a rollback after it gives it its weight back.
          await exclusive(renderAndReload);
          reloadsDuringHandover += 1;
        }
        if (handover % 4 === 0) {
          // A rollback: the previous release serves again; the new one goes.
          await endpoints.serve(handoverStage, [current.port]);
          if (await carrying(next.port)) retiresInFlight += 1;
          await endpoints.retire(handoverStage, [next.port], 10_000);
          received.push(...(await stop(next)));
          continue;
        }
        if (await carrying(current.port)) retiresInFlight += 1;
        await endpoints.retire(handoverStage, [current.port], 10_000);
        received.push(...(await stop(current)));
        current = next;
      }
      const mark = load.answered();
      await until('more load', () => load.answered() > mark + 20);
    } finally {
      await load.stop();
    }
    received.push(...(await stop(current)));
    console.log(
      `handovers: 20 (5 rollbacks, ${reloadsDuringHandover} reloads, ${retiresInFlight} retires waiting for requests in flight), ${load.answered()} answers, ${load.posts.size} POSTs, ${load.failures.length} failed`,
    );
    expect(load.failures).toEqual([]);
    expect(retiresInFlight).toBeGreaterThan(5);
    // Every POST the client sent reached exactly one app process, whole.
    expect(received.toSorted()).toEqual([...load.posts.values()].toSorted());
    const rows = await haproxy.api.showServersState(backend);
    expect(rows.filter((row) => row.server !== 'activator').map((row) => row.port)).toEqual([current.port]);
  });

  it('a sleeping stage: the activator holds its requests, wakes it once, and lets them through when it serves; later ones go straight to the app', async () => {
    const { https } = fixture.state;
    const first = await app('sleepy-1');
    await endpoints.serve(sleepyStage, [first.port]);
    expect((await send(https.port, 'sleepy.test')).json).toEqual({ name: 'sleepy-1', via: '' });
    await endpoints.sleep(sleepyStage);
    expect(endpoints.serving(sleepyStage.id)).toEqual([]);
    await stop(first);

    onWake = async () => {
      const second = await app('sleepy-2');
      await sleep(200);
      await endpoints.serve(sleepyStage, [second.port]);
    };
    const body = randomBytes(100_000);
    const held = await Promise.all([
      send(https.port, 'sleepy.test'),
      send(https.port, 'sleepy.test', { path: '/?ms=50' }),
      send(https.port, 'sleepy.test', {
        method: 'POST',
        path: '/echo',
        body,
        headers: { 'x-body-id': 'held' },
      }),
    ]);
    expect(woken).toEqual([sleepyStage.id]);
    expect(held.map((answer) => [answer.status, answer.json.name, answer.json.via])).toEqual([
      [200, 'sleepy-2', activatorVia],
      [200, 'sleepy-2', activatorVia],
      [200, 'sleepy-2', activatorVia],
    ]);
    expect(held[2]?.json.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    // The stage serves: HAProxy sends the next requests to the app, with no activator hop.
    const forwarded = activator.forwarded;
    for (let n = 0; n < 5; n += 1) {
      expect((await send(https.port, 'sleepy.test')).json).toEqual({ name: 'sleepy-2', via: '' });
    }
    expect(activator.forwarded).toBe(forwarded);
    expect(woken).toHaveLength(1);
  });

  it('a stage that does not wake in time: 503 with Retry-After and a branded page; more than the hold bound get it at once', async () => {
    const { https } = fixture.state;
    onWake = undefined;
    await endpoints.sleep(sleepyStage);
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, () => send(https.port, 'sleepy.test')));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses).toEqual([503, 503, 503, 503, 503]);
    for (const answer of answers) {
      expect(answer.headers['retry-after']).toBe('3');
      expect(answer.body).toContain('The application is starting');
      expect(answer.body).not.toContain('acme');
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(activator.held(sleepyStage.id)).toBe(0);
    // A new sleep, so the activator told the runtime again.
    expect(woken).toEqual([sleepyStage.id, sleepyStage.id]);
  });

  it('a WebSocket to a sleeping stage waits for the wake, then its bytes flow to the app', async () => {
    const { https } = fixture.state;
    onWake = async () => {
      const started = await app('ws');
      await endpoints.serve(sleepyStage, [started.port]);
    };
    const woken = await upgrade(https.port, 'sleepy.test');
    expect(woken.head).toMatch(/^HTTP\/1.1 101 /);
    // HAProxy writes header names in lower case.
    expect(woken.head).toContain(`x-seen-via: ${activatorVia}`);
    expect(await woken.echo('ping')).toBe('ping');
    const direct = await upgrade(https.port, 'sleepy.test');
    expect(direct.head).toMatch(/^x-seen-via: ?\r?$/m);
    expect(await direct.echo('pong')).toBe('pong');
    woken.close();
    direct.close();
    onWake = undefined;
  });

  it('idleMs grows without traffic, is 0 during a slow request, and is unknown for a stage HAProxy does not have', async () => {
    const { https } = fixture.state;
    const woke = await app('idle');
    await endpoints.serve(sleepyStage, [woke.port]);
    await send(https.port, 'sleepy.test');
    const before = await endpoints.idleMs(sleepyStage.id, Date.now());
    await sleep(2_300);
    const after = await endpoints.idleMs(sleepyStage.id, Date.now());
    expect(before).toBeDefined();
    expect(after!).toBeGreaterThan(before!);
    expect(after!).toBeGreaterThanOrEqual(2_000);
    // A reload starts a worker with empty counters: the stage stays as idle as it was seen, not idle since the reload.
    await exclusive(renderAndReload);
    expect(await endpoints.idleMs(sleepyStage.id, Date.now())).toBeGreaterThanOrEqual(after!);
    const slow = send(https.port, 'sleepy.test', { path: '/?ms=1500' });
    await sleep(300);
    expect(await endpoints.idleMs(sleepyStage.id, Date.now())).toBe(0);
    expect((await slow).status).toBe(200);
    expect(await endpoints.idleMs('999', Date.now())).toBeUndefined();
    await expect(endpoints.serve({ ...sleepyStage, id: 'ST 1' }, [1])).rejects.toThrow(
      /stage id "ST 1" is not accepted/,
    );
    await expect(endpoints.serve(sleepyStage, [70_000])).rejects.toThrow(/ports\[0\] "70000" is not a port/);
    expect(endpoints.serving(sleepyStage.id)).toEqual([woke.port]);
    // A stage HAProxy has no backend for, and the controller renders none: a clear error, nothing changed.
    const unknown = { ...sleepyStage, id: '77' };
    let asked = 0;
    const lost = new HaproxyStageEndpoints({
      api: haproxy.api,
      ensureBackend: () => Promise.resolve(void (asked += 1)),
    });
    await expect(lost.serve(unknown, [woke.port])).rejects.toThrow(
      /no backend st_77 for stage 77 even after/,
    );
    expect(asked).toBe(1);
    await expect(new HaproxyStageEndpoints({ api: haproxy.api }).sleep(unknown)).rejects.toThrow(
      /HAProxy has no backend for stage 77 yet/,
    );
    await lost.retire(unknown, [woke.port], 100);
    await lost.remove(unknown.id);

    // A scale to zero (sleep, then retire) raced by a wake that serves the same instance: the wake wins.
    await endpoints.sleep(sleepyStage);
    await endpoints.serve(sleepyStage, [woke.port]);
    await endpoints.retire(sleepyStage, [woke.port], 1_000);
    expect(endpoints.serving(sleepyStage.id)).toEqual([woke.port]);
    expect((await send(https.port, 'sleepy.test')).json).toEqual({ name: 'idle', via: '' });
  });

  it('a new Steward rebuilds its view from HAProxy; a handover its predecessor left half done converges', async () => {
    const backend = stageBackendName(handoverStage.id);
    const [old] = endpoints.serving(handoverStage.id);
    const next = await app('after-restart');
    // The predecessor was killed mid-handover: it added and readied the new instance, and drained nothing.
    await haproxy.api.addServer(backend, `p${next.port}`, '127.0.0.1', next.port);
    await haproxy.api.setServerState(backend, `p${next.port}`, 'ready');
    const successor = new HaproxyStageEndpoints({ api: haproxy.api, exclusive });
    expect(successor.serving(handoverStage.id)).toEqual([]);
    await successor.refresh();
    expect(successor.serving(handoverStage.id).toSorted()).toEqual([old, next.port].toSorted());
    expect(successor.serving(sleepyStage.id)).toEqual(endpoints.serving(sleepyStage.id));
    await successor.serve(handoverStage, [next.port]);
    await successor.retire(handoverStage, [old!], 5_000);
    expect(successor.serving(handoverStage.id)).toEqual([next.port]);
    expect(successor.servers(backend)).toEqual([
      { name: `p${next.port}`, address: '127.0.0.1', port: next.port, state: 'ready' },
    ]);
    const rows = await haproxy.api.showServersState(backend);
    expect(rows.map((row) => row.server).toSorted()).toEqual(['activator', `p${next.port}`]);
    expect((await send(fixture.state.https.port, 'hand.test')).json.name).toBe('after-restart');

    // Really killed: a Steward handing over back and forth gets kill -9 at a random moment, three times.
    const other = await app('after-restart-2');
    const pair: [number, number] = [next.port, other.port];
    for (let kill = 0; kill < 3; kill += 1) {
      const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'endpoints-child.ts')], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          STEWARD_TEST_ENDPOINTS: JSON.stringify({
            socket: fixture.state.files.adminSocket,
            stage: handoverStage,
            ports: pair,
          }),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await once(createInterface({ input: child.stdout }), 'line');
      await sleep(30 + Math.random() * 300);
      child.kill('SIGKILL');
      await once(child, 'exit');
      const restarted = new HaproxyStageEndpoints({ api: haproxy.api, exclusive, pollMs: 20 });
      await restarted.refresh();
      await restarted.serve(handoverStage, [other.port]);
      await restarted.retire(handoverStage, [next.port], 2_000);
      expect(restarted.serving(handoverStage.id)).toEqual([other.port]);
      expect((await haproxy.api.showServersState(backend)).map((row) => row.server).toSorted()).toEqual([
        'activator',
        `p${other.port}`,
      ]);
      expect((await send(fixture.state.https.port, 'hand.test')).json.name).toBe('after-restart-2');
    }

    await successor.remove(handoverStage.id);
    expect(successor.serving(handoverStage.id)).toEqual([]);
    expect((await haproxy.api.showServersState(backend)).map((row) => row.server)).toEqual(['activator']);
  });
});
