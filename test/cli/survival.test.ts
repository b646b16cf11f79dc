import { readFile, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/contract.ts';
import type { StagePsView } from '../../src/runtime/read-model.ts';
import type { TenantView } from '../../src/tenants/service.ts';
import { freePort } from '../../src/system/ports.ts';
import {
  cleanUp,
  cli,
  cliJson,
  eventually,
  makeDataDir,
  sleep,
  spawnUp,
  startUpJson,
  superuser,
  type UpProcess,
  type UpReady,
  waitForOutput,
} from './process.ts';

/**
 * Issue 10 part 9: Steward survives losing its database, and comes back
 * after losing itself. A real `steward up` runs the sample app in acme/prod;
 * a small load generator sends GETs and POSTs through the gateway while the
 * embedded PostgreSQL's postmaster is killed (-9), and then Steward itself is
 * killed (-9) and started again, as systemd's Restart=always would: HAProxy
 * and the app serve on meanwhile.
 *
 * What "keep serving" honestly means here: the app's own database is in the
 * same embedded cluster, so requests that need it fail until the cluster is
 * back. Requests that need no database (GET /api/me) keep being answered
 * through the gateway all along. Without the watchdog nothing restarts the
 * cluster and the app's database requests never recover; before the fix,
 * `steward up` itself died with the postmaster.
 */
const ledger = resolve(import.meta.dirname, '..', '..', 'examples', 'ledger');
// The release build runs `npm ci --prefer-offline`: with the real HOME it finds the machine's npm cache.
const upEnv = { HOME: homedir() };

interface Reply {
  readonly status: number;
  readonly body: string;
}

interface Sample {
  readonly at: number;
  readonly kind: 'nodb' | 'read' | 'write';
  readonly ok: boolean;
  readonly status: number;
}

function send(
  url: string,
  options: {
    ca: string;
    method?: string;
    host?: string;
    headers?: Record<string, string>;
    body?: string;
    agent?: Agent;
  },
): Promise<Reply> {
  return new Promise((resolveReply) => {
    const target = new URL(url);
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: `${target.pathname}${target.search}`,
        method: options.method ?? 'GET',
        servername: options.host ?? target.hostname,
        headers: {
          host: options.host ?? target.host,
          ...(options.body ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
        ca: options.ca,
        timeout: 5000,
        ...(options.agent ? { agent: options.agent } : { agent: false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolveReply({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', () => resolveReply({ status: -1, body: '' }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolveReply({ status: -1, body: error.message }));
    req.end(options.body);
  });
}

/** Three clients in a loop through the gateway: a GET that needs no database, a GET and a POST that do. */
class LoadGenerator {
  readonly samples: Sample[] = [];
  #running = false;
  #loops: Promise<void>[] = [];
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 6 });

  readonly #gateway: string;
  readonly #host: string;
  readonly #ca: string;

  readonly #kinds: readonly Sample['kind'][];

  constructor(
    gateway: string,
    host: string,
    ca: string,
    kinds: readonly Sample['kind'][] = ['nodb', 'read', 'write'],
  ) {
    this.#gateway = gateway;
    this.#host = host;
    this.#ca = ca;
    this.#kinds = kinds;
  }

  start(): void {
    this.#running = true;
    this.#loops = this.#kinds.map((kind) => this.#loop(kind));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#agent.destroy();
  }

  async #loop(kind: Sample['kind']): Promise<void> {
    let n = 0;
    while (this.#running) {
      const reply = await send(
        `${this.#gateway}${kind === 'nodb' ? '/api/me' : '/api/customers'}`,
        kind === 'write'
          ? {
              ca: this.#ca,
              host: this.#host,
              agent: this.#agent,
              method: 'POST',
              body: JSON.stringify({ name: `load ${++n}` }),
            }
          : { ca: this.#ca, host: this.#host, agent: this.#agent },
      );
      const ok = kind === 'write' ? reply.status === 201 : reply.status === 200;
      this.samples.push({ at: Date.now(), kind, ok, status: reply.status });
      // About 20 requests a second per client: enough to see every second of an outage, light on 2 cores.
      await sleep(ok ? 50 : 100);
    }
  }

  /** Per kind: requests and failures in [from, to). */
  count(from: number, to = Infinity): Record<Sample['kind'], { sent: number; failed: number }> {
    const result = {
      nodb: { sent: 0, failed: 0 },
      read: { sent: 0, failed: 0 },
      write: { sent: 0, failed: 0 },
    };
    for (const s of this.samples) {
      if (s.at < from || s.at >= to) continue;
      result[s.kind].sent += 1;
      if (!s.ok) result[s.kind].failed += 1;
    }
    return result;
  }

  /** When every kind last failed, or `from` when none did since. */
  lastFailure(from: number): number {
    return Math.max(from, ...this.samples.filter((s) => s.at >= from && !s.ok).map((s) => s.at));
  }
}

describe('steward up under load: kill -9 of its PostgreSQL, then of itself', () => {
  let dataDir: string;
  const ups: UpProcess[] = [];
  let ready: UpReady & { gatewayUrl: string };
  let ca: string;
  let token: string;
  let load: LoadGenerator;
  /** A second edge: `steward up --role gateway` on the same data dir, as production would run it. */
  let edgeOnly: UpProcess;
  let edgeLoad: LoadGenerator;
  let webPid: number | undefined;

  async function start(): Promise<void> {
    const started = await startUpJson(dataDir, upEnv);
    ups.push(started.up);
    ready = started.ready as UpReady & { gatewayUrl: string };
    const client = JSON.parse(await readFile(ready.clientFile, 'utf8')) as { ca: string; token: string };
    ca = client.ca;
    token = client.token;
  }

  /** The API as the owner, with the token `up` wrote to client.json. */
  function api(path: string): Promise<Reply> {
    return send(`${ready.apiUrl}${path}`, { ca, headers: { authorization: `Bearer ${token}` } });
  }

  async function web(): Promise<StagePsView['processes'][number] | undefined> {
    const [view] = await cliJson<StagePsView[]>(dataDir, ['ps', 'acme', '--stage', 'prod']);
    return view?.processes.find((p) => p.process === 'web');
  }

  beforeAll(async () => {
    dataDir = await makeDataDir();
    // A fixed gateway port: the restarted Steward must listen where the clients are sent.
    const port = await freePort(0);
    const yaml = await readFile(join(dataDir, 'steward.yaml'), 'utf8');
    await writeFile(join(dataDir, 'steward.yaml'), `${yaml}gateway:\n  port: ${port}\n  httpPort: 0\n`);
    await start();
    const added = await cli(dataDir, ['release', 'add', ledger, '--version', '1.0.0']);
    expect(added.code, added.stderr).toBe(0);
    const created = await cli(dataDir, ['tenant', 'create', 'acme', '--stages', 'prod']);
    expect(created.code, created.stderr).toBe(0);
    const deployed = await cli(dataDir, ['deploy', 'acme', 'prod', '1.0.0']);
    expect(deployed.code, deployed.stderr).toBe(0);
    webPid = (await web())?.pid ?? undefined;
    expect(webPid).toBeGreaterThan(0);
    load = new LoadGenerator(ready.gatewayUrl, `prod.acme.localhost`, ca);
    // Ports from the command line replace steward.yaml's gateway settings: both are given.
    edgeOnly = spawnUp(dataDir, ['-o', 'json'], {}, [
      '--role',
      'gateway',
      '--gateway-port',
      '0',
      '--gateway-http-port',
      '0',
    ]);
    const edgeOut = await waitForOutput(edgeOnly, '\n}\n');
    const edgeUrl = (JSON.parse(edgeOut) as { gatewayUrl?: string }).gatewayUrl;
    if (!edgeUrl) throw new Error(`steward up --role gateway did not start: ${edgeOut}`);
    edgeLoad = new LoadGenerator(edgeUrl, 'prod.acme.localhost', ca, ['nodb']);
    await eventually(
      'acme/prod to serve through the gateway',
      async () =>
        (await send(`${ready.gatewayUrl}/api/customers`, { ca, host: 'prod.acme.localhost' })).status === 200
          ? true
          : undefined,
      30_000,
    );
  }, 300_000);

  afterAll(async () => {
    await load?.stop();
    await edgeLoad?.stop();
    await cleanUp(dataDir, edgeOnly, ...ups);
  }, 180_000);

  it('survives a kill -9 of the postmaster, answers 503 with the reason, restarts PostgreSQL, and the edge keeps serving', async () => {
    const up = ups.at(-1) as UpProcess;
    load.start();
    edgeLoad.start();
    await sleep(1500);
    const postmaster = Number((await readFile(join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const killedAt = Date.now();
    process.kill(postmaster, 'SIGKILL');
    // Before the fix, an unhandled 'error' event of a pg client ended `steward up` here.
    await sleep(300);
    expect(up.child.exitCode, up.stderr()).toBeNull();

    // While it is gone, the API says why instead of a 500 or a hang.
    const refused = await eventually(
      'a 503 from the API',
      async () => {
        const reply = await api('/api/v1/tenants');
        return reply.status === 200 ? undefined : reply;
      },
      10_000,
      50,
    );
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(
        /^the control database is unreachable: .+; Steward is restarting it$/,
      ) as unknown,
    });
    expect(refused.body).not.toContain(token);

    await eventually(
      'the API to answer again',
      async () => {
        const reply = await api('/api/v1/tenants');
        return reply.status === 200 ? true : undefined;
      },
      30_000,
      100,
    );
    const dbBackAt = Date.now();
    // The app's own database requests serve again too (same cluster).
    await eventually(
      'acme/prod database requests to serve again',
      async () => {
        await sleep(200);
        const recent = load.count(Date.now() - 1000);
        return recent.read.sent > 0 && recent.read.failed === 0 && recent.write.failed === 0
          ? true
          : undefined;
      },
      30_000,
      200,
    );
    await sleep(1000);
    const counts = load.count(killedAt);
    const servedAgainAt = load.lastFailure(killedAt);
    console.info(
      `postmaster kill -9: control database back after ${((dbBackAt - killedAt) / 1000).toFixed(1)} s, ` +
        `app requests all good again after ${((servedAgainAt - killedAt) / 1000).toFixed(1)} s; ` +
        `requests since the kill (sent/failed): no-db GET ${counts.nodb.sent}/${counts.nodb.failed}, ` +
        `db GET ${counts.read.sent}/${counts.read.failed}, db POST ${counts.write.sent}/${counts.write.failed}`,
    );

    expect(up.child.exitCode).toBeNull();
    expect(up.child.signalCode).toBeNull();
    // The gateway-only process too: it only reconnects (it does not run the cluster) and kept serving.
    await edgeLoad.stop();
    const edge = edgeLoad.count(killedAt);
    console.info(
      `through the --role gateway process since the kill: no-db GET ${edge.nodb.sent}/${edge.nodb.failed}`,
    );
    expect(edgeOnly.child.exitCode).toBeNull();
    expect(edge.nodb.sent).toBeGreaterThan(10);
    expect(edge.nodb.failed).toBe(0);
    expect(dbBackAt - killedAt).toBeLessThan(20_000);
    // The edge and the app process kept serving what needs no database: not one failure.
    expect(counts.nodb.sent).toBeGreaterThan(10);
    expect(counts.nodb.failed).toBe(0);
    // The same web process throughout: its failing health checks were the database's, not its own.
    expect((await web())?.pid).toBe(webPid);

    // An alert tells people about it: one, from the watchdog, with how long and why.
    const alerts = await eventually(
      'the alert about the outage',
      async () => {
        const reply = await api('/api/v1/alerts?source=watchdog');
        // Only the outage's: the watchdog of Steward's loops (src/watchdog/) raises under the same source.
        const listed = ((JSON.parse(reply.body) as { alerts?: AlertView[] }).alerts ?? []).filter((a) =>
          a.dedupKey.startsWith('control-database-outage/'),
        );
        return listed.length > 0 ? listed : undefined;
      },
      10_000,
      200,
    );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      source: 'watchdog',
      severity: 'critical',
      status: 'firing',
      summary: expect.stringMatching(
        /^the control database was unreachable for \d+\.\d s \(.+\); Steward restarted its cluster \(\d+ attempts?\)$/,
      ) as unknown,
    });

    // Everything converges: every LISTEN session is back, and the job runner provisions a new tenant.
    const listening = await eventually(
      'the LISTEN sessions to be back',
      async () => {
        const db = await superuser(dataDir);
        try {
          const rows = await db.query<{ query: string }>(
            `select query from pg_stat_activity where datname = 'steward' and query like 'listen %' order by query`,
          );
          const channels = rows.rows.map((r) => r.query);
          return channels.length >= 6 ? channels : undefined;
        } finally {
          await db.end();
        }
      },
      10_000,
      200,
    );
    // Steward's four (the consoles' live updates among them), and the gateway-only process's two.
    expect(listening).toEqual([
      'listen steward_events',
      'listen steward_jobs',
      'listen steward_keyring',
      'listen steward_keyring',
      'listen steward_routes',
      'listen steward_routes',
    ]);
    const created = await cliJson<TenantView>(dataDir, ['tenant', 'create', 'beta', '--stages', 'dev']);
    expect(created.stages.map((st) => st.phase)).toEqual(['ready']);

    // Logged once, not once per loop and tick: lost, each restart attempt, back.
    const log = await readFile(join(dataDir, 'steward.log'), 'utf8');
    const since = log
      .split('\n')
      .filter((l) => l.includes('"component":"control-database"'))
      .map((l) => JSON.parse(l) as { msg: string; time: number })
      .filter((l) => l.time >= killedAt);
    console.info(
      since
        .map((l) => `+${((l.time - killedAt) / 1000).toFixed(1)} s ${l.msg} ${JSON.stringify(l)}`)
        .join('\n'),
    );
    // Once by each process: Steward restarts the cluster, the gateway-only process reconnects.
    const said = (msg: string): number => since.filter((l) => l.msg === msg).length;
    expect(said('the control database is unreachable; Steward restarts it')).toBe(1);
    expect(said('the control database is unreachable; Steward reconnects')).toBe(1);
    expect(said('the control database is reachable again')).toBe(2);
    expect(
      since.filter((l) => l.msg === 'starting the control database cluster again').length,
    ).toBeGreaterThan(0);
    const warnings = log
      .split('\n')
      .filter((l) => /"level":(40|50)/.test(l))
      .map((l) => JSON.parse(l) as { time: number; component?: string; msg: string })
      .filter((l) => l.time >= killedAt && l.component !== 'control-database');
    console.info(`other warnings since the kill: ${JSON.stringify(warnings.map((w) => w.msg))}`);
    expect(warnings.length, JSON.stringify(warnings.slice(0, 10))).toBeLessThan(10);
  }, 120_000);

  it('comes back after a kill -9 of Steward itself when started again, adopting the app processes', async () => {
    const up = ups.at(-1) as UpProcess;
    const killedAt = Date.now();
    up.child.kill('SIGKILL');
    await up.exited;
    // What systemd's Restart=always does (RestartSec=2).
    await sleep(2000);
    const restartedAt = Date.now();
    await start();
    const apiAt = Date.now();
    await eventually(
      'acme/prod to serve through the gateway again',
      async () => {
        await sleep(200);
        const recent = load.count(Date.now() - 1000);
        return recent.nodb.sent > 0 && Object.values(recent).every((c) => c.failed === 0) ? true : undefined;
      },
      60_000,
      200,
    );
    await load.stop();
    const counts = load.count(killedAt);
    const servedAgainAt = load.lastFailure(killedAt);
    console.info(
      `steward kill -9, started again 2 s later: API up ${((apiAt - restartedAt) / 1000).toFixed(1)} s after the start, ` +
        `every request good again ${((servedAgainAt - killedAt) / 1000).toFixed(1)} s after the kill; ` +
        `requests since the kill (sent/failed): no-db GET ${counts.nodb.sent}/${counts.nodb.failed}, ` +
        `db GET ${counts.read.sent}/${counts.read.failed}, db POST ${counts.write.sent}/${counts.write.failed}`,
    );
    expect(servedAgainAt - restartedAt).toBeLessThan(30_000);
    // HAProxy and the app outlive Steward: not one request failed while it was dead or starting again.
    expect(counts.nodb.failed + counts.read.failed + counts.write.failed).toBe(0);
    // Adopted, not started again.
    expect((await web())?.pid).toBe(webPid);
  }, 120_000);
});
