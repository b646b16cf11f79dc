import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.ts';
import { parseConfig } from '../../src/core/config.ts';
import { CheckRunner, CheckStore, type CheckTargets, type ProbeTiming } from '../../src/monitoring/index.ts';
import { probeAgents, probeHttpTarget } from '../../src/monitoring/probes.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { until } from '../harness/stage-app.ts';
import { silentLogger, startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * The check runner's pace against a real control database and real HTTP
 * servers: a probe that hangs until its timeout holds back no other check,
 * and HTTP probes keep their connections open, retrying once when a reused
 * connection is closed under them.
 */

/** /ok answers; /hang never does; /once answers the first request on a connection and drops the next. */
function startServer(): Promise<{
  server: Server;
  port: number;
  connections: () => number;
  hung: () => number;
}> {
  let connections = 0;
  let hung = 0;
  const perSocket = new WeakMap<Socket, number>();
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (req.url === '/hang') {
      hung++;
      return;
    }
    if (req.url === '/once' && n > 1) {
      req.socket.destroy();
      return;
    }
    res.end('ok');
  });
  server.on('connection', () => connections++);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        connections: () => connections,
        hung: () => hung,
      }),
    ),
  );
}

describe('the check runner', () => {
  let t: TestSteward;
  let control: ControlStore;
  let http: Awaited<ReturnType<typeof startServer>>;
  let stageId: string;

  beforeAll(async () => {
    t = await startTestSteward();
    // This test runs a runner of its own against the same checks table.
    await t.services.checkRunner.stop();
    await t.request('POST', '/api/v1/tenants', { slug: 'pace', stages: ['prod'] });
    await t.waitForStages('pace');
    stageId = await t.services.tenants.stageId('pace', 'prod');
    control = openControlStore(t.controlUrl, { max: 4 });
    http = await startServer();
  }, 120_000);

  afterAll(async () => {
    http?.server.closeAllConnections();
    http?.server.close();
    await control?.close();
    await t?.close();
  });

  it('starts checks that fall due while another probe hangs until its timeout', async () => {
    const store = new CheckStore(control.db);
    const targets: CheckTargets = {
      builtins: () => Promise.resolve([]),
      http: () => Promise.resolve({ targets: [{ host: '127.0.0.1', port: http.port }], healthPath: null }),
      processes: () => Promise.reject(new Error('not in this test')),
      disk: () => Promise.reject(new Error('not in this test')),
      certificates: () => Promise.reject(new Error('not in this test')),
      databaseUrl: () => Promise.reject(new Error('not in this test')),
      backup: () => Promise.reject(new Error('not in this test')),
    };
    const settings = parseConfig({ dataDir: t.dataDir, monitoring: { tickMs: 200 } }).monitoring;
    const runner = new CheckRunner({ store, targets, clock: systemClock, logger: silentLogger, settings });
    const timings: ProbeTiming[] = [];
    runner.onProbe((timing) => timings.push(timing));
    const add = (path: string, timeoutMs: number): Promise<string> =>
      store.add(
        {
          stageId,
          tenant: 'pace',
          stage: 'prod',
          kind: 'http',
          builtin: null,
          spec: {
            kind: 'http',
            via: 'processes',
            method: 'GET',
            path,
            expectStatus: 200,
            expectBody: null,
            headers: {},
          },
          intervalSeconds: 60,
          timeoutMs,
          createdBy: 'test',
        },
        new Date(),
      );
    await runner.start();
    try {
      const hangId = await add('/hang', 5000);
      await until('the hanging probe', () => Promise.resolve(http.hung() > 0 ? true : undefined), 10_000, 20);
      // Past the claim window of the pass that claimed /hang (5 ticks): on a loaded machine the
      // steps above alone took that long, and checks falling due then waited for /hang (CI).
      await new Promise((r) => setTimeout(r, 6 * 200));
      // Due now, while /hang still runs.
      const ok = new Set(await Promise.all(Array.from({ length: 5 }, () => add('/ok', 2000))));
      const probed = await until(
        'the other checks probed',
        () => {
          const seen = timings.filter((x) => ok.has(x.checkId));
          return Promise.resolve(seen.length === ok.size ? seen : undefined);
        },
        10_000,
        20,
      );
      const lateMs = probed.map((x) => x.startedAt.getTime() - x.dueAt.getTime());
      // Before: the pass waited for its slowest probe, so these waited until /hang timed out.
      expect(Math.max(...lateMs), `late by ${lateMs.join(', ')} ms`).toBeLessThan(1500);
      // Each started while /hang still ran (its result, stored after theirs or before, says when it ended).
      const hang = timings.find((x) => x.checkId === hangId);
      const hangEnded = hang ? hang.startedAt.getTime() + hang.latencyMs : Infinity;
      for (const x of probed)
        expect(x.startedAt.getTime(), 'started before /hang ended').toBeLessThan(hangEnded);
    } finally {
      await runner.stop();
    }
  }, 60_000);

  it('keeps HTTP probe connections open and retries once when a reused one is dropped', async () => {
    const agents = probeAgents(4);
    try {
      const target = { host: '127.0.0.1', port: http.port };
      const probe = (path: string) =>
        probeHttpTarget(target, { method: 'GET', path, headers: {}, timeoutMs: 2000 }, agents);
      const before = http.connections();
      for (let i = 0; i < 5; i++)
        expect(await probe('/ok')).toEqual({ kind: 'answer', status: 200, body: 'ok' });
      expect(http.connections() - before, 'one connection for five probes').toBe(1);
      // /once on a connection of its own: its first request is answered, the next one dropped.
      const fresh = probeAgents(4);
      const onceProbe = () =>
        probeHttpTarget(target, { method: 'GET', path: '/once', headers: {}, timeoutMs: 2000 }, fresh);
      expect(await onceProbe()).toEqual({ kind: 'answer', status: 200, body: 'ok' });
      // The server drops the reused connection: the probe does not fail, it asks again on a new one.
      expect(await onceProbe()).toEqual({ kind: 'answer', status: 200, body: 'ok' });
      expect(http.connections() - before, 'the dropped connection was replaced').toBe(3);
      fresh.http.destroy();
    } finally {
      agents.http.destroy();
      agents.https.destroy();
    }
  });
});
