import { readFile, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/ports.ts';
import {
  cleanUp,
  cli,
  cliJson,
  eventually,
  makeDataDir,
  sleep,
  startUpJson,
  type UpProcess,
  type UpReady,
} from '../cli/process.ts';

/**
 * The control plane going down does not take the data plane with it: a real
 * `steward up` runs the sample app in acme/prod behind HAProxy; steady GETs
 * and POSTs (new connections and kept-alive ones) go through the TLS edge
 * while Steward is killed (-9) and started again. Not one request fails, and
 * the restarted Steward adopts the same HAProxy master.
 */
const ledger = resolve(import.meta.dirname, '..', '..', 'examples', 'ledger');
// The release build runs `npm ci --prefer-offline`: with the real HOME it finds the machine's npm cache.
const upEnv = { HOME: homedir() };
const host = 'prod.acme.localhost';

interface Outcome {
  readonly at: number;
  readonly ok: boolean;
  readonly what: string;
}

function send(
  port: number,
  ca: string,
  method: string,
  path: string,
  agent: Agent | false,
): Promise<Outcome> {
  return new Promise((resolveOutcome) => {
    const body = method === 'POST' ? JSON.stringify({ name: `load ${Date.now()}` }) : undefined;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        servername: host,
        headers: { host, ...(body ? { 'content-type': 'application/json' } : {}) },
        ca,
        agent,
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const ok = res.statusCode === (method === 'POST' ? 201 : 200);
          resolveOutcome({ at: Date.now(), ok, what: `${method} ${res.statusCode}` });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) =>
      resolveOutcome({ at: Date.now(), ok: false, what: `${method} ${error.message}` }),
    );
    req.end(body);
  });
}

/** GETs and POSTs in loops, half on new connections, half kept alive. */
function steadyLoad(port: number, ca: string) {
  const outcomes: Outcome[] = [];
  let running = true;
  const agents: Agent[] = [];
  const loops = [
    ['GET', '/api/me', false],
    ['POST', '/api/customers', false],
    ['GET', '/api/customers', true],
    ['POST', '/api/customers', true],
  ].map(async ([method, path, keepAlive]) => {
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    if (agent) agents.push(agent);
    while (running) {
      outcomes.push(await send(port, ca, method as string, path as string, agent));
      await sleep(20);
    }
  });
  return {
    outcomes,
    since: (from: number) => outcomes.filter((o) => o.at >= from),
    stop: async () => {
      running = false;
      await Promise.all(loops);
      for (const agent of agents) agent.destroy();
    },
  };
}

describe('steward up killed (-9) under load through HAProxy', () => {
  let dataDir: string;
  const ups: UpProcess[] = [];
  let ready: UpReady & { gatewayUrl: string };
  let ca: string;
  let port: number;

  async function start(): Promise<void> {
    const started = await startUpJson(dataDir, upEnv);
    ups.push(started.up);
    ready = started.ready as UpReady & { gatewayUrl: string };
    ca = (JSON.parse(await readFile(ready.clientFile, 'utf8')) as { ca: string }).ca;
  }

  const haproxyPid = async (): Promise<number> =>
    Number((await readFile(join(dataDir, 'dataplane', 'haproxy.pid'), 'utf8')).trim());

  beforeAll(async () => {
    dataDir = await makeDataDir();
    port = await freePort(0);
    const yaml = await readFile(join(dataDir, 'steward.yaml'), 'utf8');
    await writeFile(join(dataDir, 'steward.yaml'), `${yaml}gateway:\n  port: ${port}\n  httpPort: 0\n`);
    await start();
    for (const args of [
      ['release', 'add', ledger, '--version', '1.0.0'],
      ['release', 'add', ledger, '--version', '1.0.1'],
      ['tenant', 'create', 'acme', '--stages', 'prod'],
      ['deploy', 'acme', 'prod', '1.0.0'],
    ]) {
      const result = await cli(dataDir, args);
      expect(result.code, result.stderr).toBe(0);
    }
    await eventually(
      'acme/prod to serve through HAProxy',
      async () => ((await send(port, ca, 'GET', '/api/customers', false)).ok ? true : undefined),
      30_000,
    );
  }, 300_000);

  afterAll(async () => {
    await cleanUp(dataDir, ...ups);
  }, 120_000);

  it('fails no request while Steward is dead, and the restarted one adopts the same HAProxy', async () => {
    const pid = await haproxyPid();
    const load = steadyLoad(port, ca);
    try {
      await sleep(1000);
      const up = ups.at(-1) as UpProcess;
      const killedAt = Date.now();
      up.child.kill('SIGKILL');
      await up.exited;
      await sleep(2000);
      const dead = load.since(killedAt).length;
      const restartedAt = Date.now();
      await start();
      const adoptedAt = Date.now();
      await sleep(2000);
      const after = load.since(adoptedAt).length;
      console.info(
        `kill -9 of steward up: ${dead} requests while it was dead, restart took ${adoptedAt - restartedAt} ms, ` +
          `${after} requests in 2 s after; ${load.outcomes.length} in all, ` +
          `${load.outcomes.filter((o) => !o.ok).length} failed`,
      );
      expect(dead).toBeGreaterThan(20);
      expect(after).toBeGreaterThan(20);
    } finally {
      await load.stop();
    }
    expect(load.outcomes.filter((o) => !o.ok).map((o) => o.what)).toEqual([]);
    expect(await haproxyPid()).toBe(pid);
    const log = await readFile(join(dataDir, 'steward.log'), 'utf8');
    expect(log).toContain('"msg":"HAProxy adopted"');
    // The same listeners, activator and pages ports as before: the adopted config needed no reload.
    const sinceAdopted = log.slice(log.lastIndexOf('"msg":"HAProxy adopted"'));
    expect(sinceAdopted).not.toContain('"msg":"HAProxy reloaded"');
  }, 180_000);

  it('fails no request during 20 deploys and rollbacks under load, each handed over at HAProxy', async () => {
    const load = steadyLoad(port, ca);
    const versions: string[] = [];
    try {
      await sleep(500);
      for (let i = 0; i < 10; i++) {
        const deployed = await cli(dataDir, ['deploy', 'acme', 'prod', '1.0.1']);
        expect(deployed.code, deployed.stderr).toBe(0);
        const rolledBack = await cli(dataDir, ['rollback', 'acme', 'prod', '--to', '1.0.0']);
        expect(rolledBack.code, rolledBack.stderr).toBe(0);
        versions.push('1.0.1', '1.0.0');
      }
      await sleep(500);
    } finally {
      await load.stop();
    }
    const failed = load.outcomes.filter((o) => !o.ok).map((o) => o.what);
    const posts = load.outcomes.filter((o) => o.what === 'POST 201').length;
    console.info(
      `20 deploys and rollbacks: ${load.outcomes.length} requests (${posts} POSTs created), ${failed.length} failed`,
    );
    expect(versions).toHaveLength(20);
    // Twenty deployments went active in turn, each superseded by the next but the last.
    const deployments = await cliJson<{ version: string; status: string }[]>(dataDir, [
      'deployments',
      'acme',
      '-o',
      'json',
    ]);
    expect(deployments.slice(0, 20).map((d) => d.version)).toEqual([...versions].reverse());
    expect(deployments.slice(0, 20).map((d) => d.status)).toEqual([
      'active',
      ...Array<string>(19).fill('superseded'),
    ]);
    expect(posts).toBeGreaterThan(40);
    expect(failed).toEqual([]);
    // The handovers were at the data plane: dynamic servers, not reloads (the stage's backend already existed).
    const log = await readFile(join(dataDir, 'steward.log'), 'utf8');
    const sinceAdopted = log.slice(log.lastIndexOf('"msg":"HAProxy adopted"'));
    expect(sinceAdopted).not.toContain('"msg":"HAProxy reloaded"');
  }, 300_000);
});
