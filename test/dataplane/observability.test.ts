import Fastify, { type FastifyInstance } from 'fastify';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { Server } from 'node:http';
import { createConnection, createServer, type Socket } from 'node:net';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsRoutes } from '../../src/api/routes/metrics.ts';
import type { Authenticator } from '../../src/api/route.ts';
import { UnauthorizedError } from '../../src/core/errors.ts';
import { systemPrincipal } from '../../src/core/policy.ts';
import {
  OctetCountDecoder,
  observationOf,
  parseAccessLogMessage,
  renderAccessLogRing,
  type AccessLogRecord,
} from '../../src/dataplane/access-log-stream.ts';
import { AccessLogReceiver } from '../../src/dataplane/access-log-receiver.ts';
import { HaproxyExporter } from '../../src/dataplane/exporter.ts';
import { DataPlaneAccessLog } from '../../src/dataplane/observability.ts';
import { Haproxy } from '../../src/dataplane/index.ts';
import { createGatewayMetrics } from '../../src/gateway/metrics.ts';
import { lookupUser, type SystemUser } from '../../src/system/exec.ts';
import { freePort } from '../../src/system/ports.ts';
import { issueServerCertificate } from '../../src/tls/ca.ts';
import { haproxyDashboardSeries } from './haproxy-series.ts';
import { dataPlaneFixture, get, nameServer, until, type DataPlaneFixture } from './support.ts';

/**
 * The data plane's observability against a real HAProxy: its access log
 * (ring -> Steward's receiver -> the gateway metrics) and its Prometheus
 * exporter behind Steward's /metrics guard.
 */

const record: AccessLogRecord = {
  ts: 1_796_000_000_000,
  id: 'abc',
  client: '192.0.2.1',
  method: 'GET',
  host: 'acme.test',
  path: '/x',
  status: 200,
  ms: 12,
  bytes: 5,
  backend: 'st_s1',
  ua: 'curl',
};

describe('access log records (pure)', () => {
  it.each([
    ['a record', 'record', JSON.stringify(record)],
    ['a record with a trailing newline', 'record', `${JSON.stringify(record)}\n`],
    ["HAProxy's notice of overwritten records", 'lost', '1234 events dropped'],
    [
      'a connection that ended in its TLS handshake',
      'connection',
      '127.0.0.1:57272 [07/Dec/2026:01:16:40.527] fe_https/1: Connection closed during SSL handshake',
    ],
    ['not JSON', 'malformed', '{"ts":'],
    ['an array', 'malformed', '[1,2]'],
    ['a missing key', 'malformed', JSON.stringify({ ...record, ua: undefined })],
    ['a status as a string', 'malformed', JSON.stringify({ ...record, status: '200' })],
    ['a host as a number', 'malformed', JSON.stringify({ ...record, host: 7 })],
  ])('%s is %s', (_name, kind, text) => {
    expect(parseAccessLogMessage(text).kind).toBe(kind);
  });

  it('keeps only the agreed keys and redacts secret query values HAProxy left', () => {
    const parsed = parseAccessLogMessage(
      JSON.stringify({ ...record, path: '/cb?code=s3cr3t&page=2', cookie: 'sid=1' }),
    );
    expect(parsed).toEqual({
      kind: 'record',
      record: { ...record, path: '/cb?code=[redacted]&page=2' },
    });
  });

  it('splits octet-counted messages across and within chunks', () => {
    const decoder = new OctetCountDecoder(100);
    const stream = Buffer.from('5 hello3 abc11 hello world');
    expect(decoder.push(stream.subarray(0, 3))).toEqual([]);
    expect(decoder.push(stream.subarray(3, 12))).toEqual(['hello', 'abc']);
    expect(decoder.push(stream.subarray(12))).toEqual(['hello world']);
  });

  it.each([
    ['a length that is not a number', 'x5 hello'],
    ['a length over the limit', '101 hello'],
    ['a length with no space after it', '12345678901234'],
  ])('refuses %s, naming what is accepted', (_name, text) => {
    expect(() => new OctetCountDecoder(100).push(Buffer.from(text))).toThrow(
      /message length .* is not accepted: use an octet count from 1 to 100/,
    );
  });

  it('names the tenant and stage of a stage backend, none for the others', () => {
    const lookup = (id: string) => (id === 's1' ? { tenant: 'acme', stage: 'prod' } : undefined);
    expect(observationOf(record, lookup)).toEqual({
      tenant: 'acme',
      stage: 'prod',
      status: 200,
      durationSeconds: 0.012,
    });
    for (const backend of ['be_unrouted', 'be_steward', 'st_unknown', 'st_'])
      expect(observationOf({ ...record, backend }, lookup)).toMatchObject({
        tenant: undefined,
        stage: undefined,
      });
  });

  it('refuses a ring socket path HAProxy would misread', () => {
    expect(() => renderAccessLogRing('/tmp/a b.sock')).toThrow(/accessLog "\/tmp\/a b.sock" is not accepted/);
  });
});

// ---------------------------------------------------------------- the real thing

const stageId = 'e7c1d2a4-5b6f-4c3d-9e8f-0a1b2c3d4e5f';
const backend = `st_${stageId}`;
const host = 'prod.acme.test';
const secret = 'tok-4f9c2b7e1d';

function haproxyUser(): SystemUser {
  const user = lookupUser('haproxy');
  if (!user) throw new Error('no haproxy user: install haproxy (bin/setup)');
  return user;
}

let fixture: DataPlaneFixture;
let haproxy: Haproxy;
let socketDir: string;
let app: Server;
const metrics = createGatewayMetrics();
let receiver: DataPlaneAccessLog;

/** Steward's side of the access log as `steward up` wires it; a new one is a restarted Steward. */
function newReceiver(): DataPlaneAccessLog {
  return new DataPlaneAccessLog({
    socketPath: join(socketDir, 'access.sock'),
    haproxyUser: haproxyUser(),
    stages: (id) => (id === stageId ? { tenant: 'acme', stage: 'prod' } : undefined),
    gatewayMetrics: metrics,
    registry: metrics.registry,
    fileDir: join(fixture.dir, 'access'),
  });
}

/** Every record in the access log files so far. */
function received(): AccessLogRecord[] {
  const dir = join(fixture.dir, 'access');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AccessLogRecord);
}

async function requestsCounted(tenant: string, stage: string, statusClass: string): Promise<number> {
  const text = await metrics.render();
  const line = text
    .split('\n')
    .find((entry) =>
      entry.startsWith(
        `steward_gateway_requests_total{tenant="${tenant}",stage="${stage}",status_class="${statusClass}"}`,
      ),
    );
  return Number(line?.split(' ').at(-1) ?? 0);
}

beforeAll(async () => {
  // HAProxy's workers connect as their own user: the socket's directory must let them pass.
  socketDir = mkdtempSync('/tmp/st-al-');
  chmodSync(socketDir, 0o711);
  fixture = await dataPlaneFixture([{ name: backend, tenant: 'acme' }], {
    accessLog: join(socketDir, 'access.sock'),
  });
  receiver = newReceiver();
  await receiver.start();
  const served = await nameServer('acme prod');
  app = served.server;
  haproxy = new Haproxy({
    configFile: fixture.configFile,
    pidFile: join(fixture.dir, 'haproxy.pid'),
    masterSocket: join(fixture.dir, 'master.sock'),
    adminSocket: fixture.state.files.adminSocket,
    logFile: join(fixture.dir, 'haproxy.log'),
  });
  await haproxy.start();
  const certificate = await issueServerCertificate(fixture.ca, [host]);
  const certFile = join(fixture.dir, 'acme.pem');
  await haproxy.api.putCertificate(certFile, `${certificate.chainPem}\n${certificate.keyPem}`, {
    isNew: true,
  });
  await haproxy.api.addCrtListEntry(fixture.state.files.crtList, certFile, [host]);
  await haproxy.api.addServer(backend, 'web1', '127.0.0.1', served.port);
  await haproxy.api.setServerState(backend, 'web1', 'ready');
  await haproxy.api.putMapEntry(fixture.state.files.routesMap, host, backend);
});

afterAll(async () => {
  await haproxy?.stop(2_000);
  await receiver?.stop();
  app?.close();
  if (fixture) rmSync(fixture.dir, { recursive: true, force: true });
  if (socketDir) rmSync(socketDir, { recursive: true, force: true });
});

describe('the access log from a real HAProxy', () => {
  it('is a socket only HAProxy’s user can write to', () => {
    const stat = statSync(receiver.socketPath);
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(stat.uid).toBe(haproxyUser().uid);
  });

  it('counts a request in the metrics under its tenant, stage and status class', async () => {
    const before = await requestsCounted('acme', 'prod', '2xx');
    const answer = await get(fixture.state.https.port, host, `/orders?access_token=${secret}&page=2`);
    expect(answer.status).toBe(200);
    await until(
      'the request in the metrics',
      async () => (await requestsCounted('acme', 'prod', '2xx')) > before,
    );
    expect(await requestsCounted('acme', 'prod', '2xx')).toBe(before + 1);
    const entry = received().find((r) => r.path.startsWith('/orders'));
    expect(entry).toMatchObject({ host, method: 'GET', status: 200, backend });
    expect(entry?.path).toBe('/orders?access_token=[redacted]&page=2');
    const text = await metrics.render();
    expect(text).toMatch(
      /steward_gateway_request_duration_seconds_count\{tenant="acme",stage="prod"\} [1-9]/,
    );
  });

  it('counts a host nobody routes as none, 4xx', async () => {
    const before = await requestsCounted('none', 'none', '4xx');
    expect((await get(fixture.state.https.port, 'nobody.test')).status).toBe(404);
    await until(
      'the 404 in the metrics',
      async () => (await requestsCounted('none', 'none', '4xx')) > before,
    );
  });

  it('never lets a secret through: not in the records, not in the metrics', async () => {
    await get(fixture.state.https.port, host, `/login?password=${secret}&client_secret=${secret}`);
    await until('the login request', () => received().some((r) => r.path.startsWith('/login')));
    expect(JSON.stringify(received())).not.toContain(secret);
    for (const name of readdirSync(join(fixture.dir, 'access')))
      expect(readFileSync(join(fixture.dir, 'access', name), 'utf8')).not.toContain(secret);
    expect(await metrics.render()).not.toContain(secret);
  });

  it('keeps HAProxy serving while Steward is away, and delivers what it logged meanwhile once Steward is back', async () => {
    await receiver.stop();
    const before = await requestsCounted('acme', 'prod', '2xx');
    for (let n = 0; n < 20; n += 1) {
      const answer = await get(fixture.state.https.port, host, `/while-away/${n}`);
      expect(answer.status).toBe(200);
    }
    receiver = newReceiver();
    const restarted = performance.now();
    await receiver.start();
    await until(
      'the records logged while Steward was away',
      () => received().filter((r) => r.path.startsWith('/while-away/')).length === 20,
      15_000,
    );
    console.log(
      `ring backlog delivered ${(performance.now() - restarted).toFixed(0)} ms after the receiver came back`,
    );
    expect(await get(fixture.state.https.port, host, '/after')).toMatchObject({ status: 200 });
    await until('a request after the restart', () => received().some((r) => r.path === '/after'));
    expect(await requestsCounted('acme', 'prod', '2xx')).toBe(before + 21);
    expect(receiver.counts()).toMatchObject({ malformed: 0, lost: 0, brokenStreams: 0 });
  });

  it('keeps HAProxy serving while Steward hangs without reading, and resumes with a new receiver', async () => {
    await receiver.stop();
    // A Steward that accepts HAProxy's connection and never reads from it (stopped, or stuck).
    const held: Socket[] = [];
    const hung = createServer((socket) => {
      socket.pause();
      held.push(socket);
    });
    await new Promise<void>((resolve) => hung.listen(receiver.socketPath, resolve));
    chmodSync(receiver.socketPath, 0o666);
    // 2,000 records (some 500 kB) are more than the socket buffers hold: HAProxy's writes meet a full socket.
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 2_000 }, (_, n) => get(fixture.state.https.port, host, `/hung/${n}`, agent)),
    );
    const elapsedMs = performance.now() - started;
    agent.destroy();
    console.log(`2,000 requests with a hung log reader: ${elapsedMs.toFixed(0)} ms`);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(2_000);
    expect(elapsedMs).toBeLessThan(15_000);
    expect(held.length).toBeGreaterThan(0);
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => hung.close(() => resolve()));
    receiver = newReceiver();
    await receiver.start();
    await get(fixture.state.https.port, host, '/resumed');
    await until('a record after the hang', () => received().some((r) => r.path === '/resumed'), 15_000);
  });

  it('counts a connection that never sent a request apart from the records', async () => {
    const before = receiver.counts();
    await new Promise<void>((resolve, reject) => {
      const socket = createConnection(fixture.state.https.port, '127.0.0.1', () =>
        socket.end('not TLS\r\n\r\n'),
      );
      socket.on('close', () => resolve());
      // HAProxy may reset rather than close a connection that sent no TLS: either way it is gone.
      socket.on('error', (error: NodeJS.ErrnoException) =>
        error.code === 'ECONNRESET' ? resolve() : reject(error),
      );
    });
    await until('the connection error', () => receiver.counts().connectionErrors > before.connectionErrors);
    expect(receiver.counts()).toMatchObject({ received: before.received, malformed: 0 });
    const text = await metrics.render();
    expect(text).toMatch(/steward_dataplane_access_log_messages_total\{outcome="connection_error"\} [1-9]/);
    expect(text).toMatch(/steward_dataplane_access_log_messages_total\{outcome="record"\} [1-9]/);
    expect(text).toContain('steward_dataplane_access_log_messages_total{outcome="lost"} 0');
  });
});

describe('the receiver on its own', () => {
  it('closes a connection whose framing breaks, counts it, and takes the next one', async () => {
    const socketPath = join(socketDir, 'framing.sock');
    const got: AccessLogRecord[] = [];
    const own = new AccessLogReceiver({ socketPath, onRecord: (r) => got.push(r) });
    await own.start();
    const send = (data: string) =>
      new Promise<void>((resolve) => {
        const socket = createConnection(socketPath, () => socket.end(data));
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    await send('garbage without a length');
    await send(`99999999 ${'x'.repeat(10)}`);
    const text = JSON.stringify({ ...record, path: '/framed' });
    await send(`${Buffer.byteLength(text)} ${text}`);
    await until('the framed record', () => got.length === 1);
    expect(own.counts()).toMatchObject({ brokenStreams: 2, received: 1 });
    await own.stop();
    expect(existsSync(socketPath)).toBe(false);
  });

  it('refuses to take over a path that is not a socket, or a socket someone still listens on', async () => {
    const file = join(socketDir, 'not-a-socket');
    writeFileSync(file, 'mine');
    await expect(
      new AccessLogReceiver({ socketPath: file, onRecord: () => undefined }).start(),
    ).rejects.toThrow(/exists and is not a socket/);
    expect(readFileSync(file, 'utf8')).toBe('mine');
    await expect(
      new AccessLogReceiver({ socketPath: receiver.socketPath, onRecord: () => undefined }).start(),
    ).rejects.toThrow(/another process receives the access log/);
  });
});

describe('an app instance added at runtime', () => {
  /** Connections HAProxy opened to the app so far (`show stat`'s connect column). */
  async function connectsToApp(): Promise<number> {
    const row = (await haproxy.api.showStat('servers', backend)).find((server) => server.name === 'web1');
    return Number(row?.fields.connect);
  }

  // Found by bench/gateway: HAProxy 2.6 kept no idle connection to a dynamic server (a third of the throughput).
  it('keeps its connections to the app for the next requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await connectsToApp();
    for (let n = 0; n < 20; n += 1)
      expect((await get(fixture.state.https.port, host, '/again', agent)).status).toBe(200);
    agent.destroy();
    expect((await connectsToApp()) - before).toBeLessThanOrEqual(2);
  });
});

describe("HAProxy's Prometheus exporter through Steward's /metrics guard", () => {
  let api: FastifyInstance;
  const auth: Authenticator = (token) =>
    token === 'stw_good' ? Promise.resolve(systemPrincipal) : Promise.reject(new UnauthorizedError('no'));

  beforeAll(async () => {
    api = Fastify();
    metricsRoutes(api, auth, metrics, [], new HaproxyExporter(fixture.state.stats));
    await api.ready();
  });
  afterAll(() => api?.close());

  it("serves HAProxy's own series, per stage backend, with a token", async () => {
    await get(fixture.state.https.port, host, '/exported');
    const res = await api.inject({
      method: 'GET',
      url: '/metrics/haproxy',
      headers: { authorization: 'Bearer stw_good' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toMatch(
      new RegExp(`haproxy_backend_http_responses_total\\{proxy="${backend}",code="2xx"\\} [1-9]`),
    );
    expect(res.body).toContain('haproxy_frontend_http_requests_total{proxy="fe_https"}');
    // Every HAProxy series the Grafana dashboard plots.
    for (const name of haproxyDashboardSeries) expect(res.body).toMatch(new RegExp(`^${name}\\{`, 'm'));
  });

  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer stw_bad' }],
  ])('refuses a scrape with %s', async (_name, headers) => {
    const res = await api.inject({ method: 'GET', url: '/metrics/haproxy', headers });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.body).not.toContain('haproxy_');
  });

  it('answers 503 naming the exporter when HAProxy does not answer', async () => {
    const down = Fastify();
    const port = await freePort();
    metricsRoutes(down, auth, metrics, [], new HaproxyExporter({ address: '127.0.0.1', port }));
    down.setErrorHandler((error: { status?: number; message: string }, _request, reply) =>
      reply.code(error.status ?? 500).send({ message: error.message }),
    );
    const res = await down.inject({
      method: 'GET',
      url: '/metrics/haproxy',
      headers: { authorization: 'Bearer stw_good' },
    });
    await down.close();
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toMatch(`HAProxy's Prometheus exporter at 127.0.0.1:${port} does not answer`);
  });
});

describe('10,000 routes', () => {
  it('replace the map in one commit, in batches, and route', async () => {
    const { files, https } = fixture.state;
    const entries = Array.from({ length: 10_000 }, (_, n) => ({
      key: n === 0 ? host : `s${n}.t${n % 97}.example.test`,
      value: backend,
    }));
    const started = performance.now();
    await haproxy.api.replaceMap(files.routesMap, entries);
    const applyMs = performance.now() - started;
    console.log(`10,000 routes applied in ${applyMs.toFixed(0)} ms`);
    const shown = await haproxy.api.showMap(files.routesMap);
    expect(shown).toHaveLength(10_000);
    expect(shown.at(-1)).toEqual(entries.at(-1));
    expect((await get(https.port, host, '/many')).status).toBe(200);
    // One command per entry took 1.6 s here (3 s under load); batches take some 50-250 ms.
    expect(applyMs).toBeLessThan(1_000);
  });
});
