import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import { Gateway, type GatewayAddress } from '../../src/gateway/index.ts';
import { createGatewayGuard } from '../../src/gateway/guard.ts';
import { resolveGatewayLimits, type GatewayLimits } from '../../src/gateway/limits.ts';
import { createGatewayMetrics, type GatewayMetrics } from '../../src/gateway/metrics.ts';
import pino from 'pino';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { createCa, type CertificateAuthority } from '../../src/tls/ca.ts';
import { silentLogger, startTestSteward, type TestSteward } from '../harness/steward.ts';
import {
  backend,
  badChunkCases,
  get,
  normalisedCases,
  refusedCases,
  sendRaw,
  type Backend,
  type Reply,
  chunk,
  chunkedHead,
  expectBadChunkCut,
  expectChunkedBodyUpToLimit,
  expectKeptAliveMisdirected,
  expectNormalisedRoute,
  expectOwnedHeadersStripped,
  expectSlowClientsCut,
  seenBy,
  type HostileEdge,
} from './hostile-cases.ts';

/**
 * Hostile requests over raw TLS sockets against a real gateway routing two
 * tenants, acme and globex, each to a tiny backend that records every
 * request it receives (the cases: hostile-cases.ts, shared with the suite
 * against HAProxy). Each request must be refused or normalised, nothing may
 * reach the other tenant's stage, and the gateway must keep serving.
 */
let t: TestSteward;
let store: ControlStore;
let ca: CertificateAuthority;
let gateway: Gateway;
let address: GatewayAddress;
let acme: Backend;
/** The main gateway's access log lines and metrics. */
const accessLines: Record<string, unknown>[] = [];
let metrics: GatewayMetrics;
let globex: Backend;

/** Raw bytes to the main gateway unless another port is given. */
function send(
  chunks: string | readonly (string | number)[],
  options: { sni?: string | null; waitMs?: number; port?: number } = {},
): Promise<Reply> {
  return sendRaw(chunks, { ...options, port: options.port ?? address.port, ca: ca.certPem });
}

/** The main gateway (or another on `port`) as the shared scenarios see it. */
function shared(options: { port?: number } = {}): HostileEdge {
  return { send: (chunks, more = {}) => send(chunks, { ...options, ...more }), acme, globex };
}

beforeAll(async () => {
  t = await startTestSteward({ workers: false });
  for (const slug of ['acme', 'globex']) {
    const created = await t.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
  }
  acme = await backend('acme');
  globex = await backend('globex');
  for (const [slug, b] of [
    ['acme', acme],
    ['globex', globex],
  ] as const) {
    await t.query(
      `update stages set published_port = $1
        where name = 'prod' and tenant_id = (select id from tenants where slug = $2)`,
      [b.port, slug],
      t.controlDatabase,
    );
  }
  store = openControlStore(t.controlUrl, { max: 4 });
  ca = await createCa();
  // Short timeouts for slow heads and bodies, so they are cut within the test's time; request rates high enough
  // that the file's hundreds of requests from one address never meet them (the flood tests below have their own);
  // every other limit is the default.
  metrics = createGatewayMetrics();
  const accessLog = pino(
    { level: 'info' },
    { write: (line: string) => void accessLines.push(JSON.parse(line)) },
  );
  ({ gateway, address } = await startGateway(
    resolveGatewayLimits({
      headersTimeoutMs: 3_000,
      bodyIdleTimeoutMs: 2_000,
      addressRatePerSecond: 10_000,
      addressBurst: 10_000,
      tenantRatePerSecond: 10_000,
      tenantBurst: 10_000,
    }),
    { observe: { metrics, accessLog } },
  ));
}, 120_000);

async function startGateway(
  limits: GatewayLimits,
  options: {
    hooks?: boolean;
    observe?: { metrics: GatewayMetrics; accessLog: pino.Logger };
  } = {},
): Promise<{ gateway: Gateway; address: GatewayAddress }> {
  const started = new Gateway({
    settings: parseConfig({ dataDir: t.dataDir, gateway: { port: 0, httpPort: 0 } }).gateway,
    db: store.db,
    pool: store.pool,
    secrets: t.services.secrets,
    ca,
    logger: silentLogger,
    limits,
    ...(options.hooks === false ? {} : { hooks: createGatewayGuard({ limits, ...options.observe }) }),
  });
  const startedAddress = await started.start();
  const deadline = Date.now() + 10_000;
  while (!(started.routes.has('prod.acme.localhost') && started.routes.has('prod.globex.localhost'))) {
    if (Date.now() > deadline) throw new Error('routes did not load');
    await started.refresh();
    await new Promise((r) => setTimeout(r, 50));
  }
  return { gateway: started, address: startedAddress };
}

afterAll(async () => {
  await gateway?.stop();
  await store?.close();
  for (const b of [acme, globex]) await new Promise((r) => b?.server.close(r));
  await t?.close();
});

afterEach(async () => {
  // Whatever happened, the gateway still serves each tenant its own stage.
  for (const [host, b] of [
    ['acme.localhost', acme],
    ['globex.localhost', globex],
  ] as const) {
    b.seen.length = 0;
    const reply = await send(get(host, '/still-up'), { sni: host });
    expect(reply.statuses, `${host} after the test: ${reply.text}`).toEqual([200]);
    expect(reply.text).toContain(`${host.split('.')[0]} GET /still-up`);
    b.seen.length = 0;
  }
});

describe('the gateway under hostile input', () => {
  it('routes each tenant to its own stage (the control case)', async () => {
    const a = await send(get('acme.localhost', '/x'));
    const g = await send(get('globex.localhost', '/y'), { sni: 'globex.localhost' });
    expect(a.statuses).toEqual([200]);
    expect(g.statuses).toEqual([200]);
    expect(seenBy(acme)).toEqual(['GET /x']);
    expect(seenBy(globex)).toEqual(['GET /y']);
    expect(acme.seen[0]?.headers['x-forwarded-proto']).toBe('https');
  });

  it.each(refusedCases)('refuses $name with $status', async ({ raw, status, sni }) => {
    const reply = await send(raw, sni ? { sni } : {});
    expect(reply.statuses[0], reply.text.slice(0, 300)).toBe(status);
    // Nothing after the refusal was read as a request (a smuggled one would show as a second status).
    expect(reply.statuses.length).toBe(1);
    expect(seenBy(globex)).toEqual([]);
    expect(seenBy(acme)).toEqual([]);
  });

  it.each(badChunkCases)('cuts a chunked body with a %s, and nothing completes', (_name, body) =>
    expectBadChunkCut(shared(), body),
  );

  it.each(normalisedCases)('normalises %s and routes to the right tenant', (_name, host, sni, expected) =>
    expectNormalisedRoute(shared(), host, sni, expected),
  );

  it('logs each request as JSON without cookies, authorization or secret query values, and counts it per stage', async () => {
    accessLines.length = 0;
    const reply = await send(
      get(
        'acme.localhost',
        '/login?next=%2Fhome&token=SECRET1',
        'Cookie: sid=SECRET2\r\nAuthorization: Bearer SECRET3\r\nUser-Agent: hostile-suite/1\r\n',
      ),
    );
    expect(reply.statuses).toEqual([200]);
    await new Promise((r) => setTimeout(r, 50));
    const line = accessLines.find((l) => l.path !== '/still-up');
    expect(line).toMatchObject({
      msg: 'request',
      path: '/login?next=%2Fhome&token=[redacted]',
      host: 'acme.localhost',
      status: 200,
      tenant: 'acme',
      stage: 'prod',
      userAgent: 'hostile-suite/1',
      clientAddress: '127.0.0.1',
    });
    expect(JSON.stringify(accessLines)).not.toMatch(/SECRET|cookie|authorization/i);
    const text = await metrics.render();
    expect(text).toMatch(
      /steward_gateway_requests_total\{tenant="acme",stage="prod",status_class="2xx"\} [1-9]/,
    );
    // Requests refused before routing count under no tenant.
    expect(text).toMatch(
      /steward_gateway_requests_total\{tenant="none",stage="none",status_class="4xx"\} [1-9]/,
    );
    expect(text).not.toContain('localhost');
  });

  it('never lets a client set forwarding or identity headers', async () => {
    const reply = await send(
      get(
        'acme.localhost',
        '/who',
        'X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Host: globex.localhost\r\nX-Real-IP: 10.9.9.9\r\n' +
          'X-Steward-User-Id: admin\r\nX-Request-Id: forged\r\nForwarded: for=10.9.9.9\r\n',
      ),
    );
    expect(reply.statuses).toEqual([200]);
    const headers = acme.seen[0]?.headers ?? {};
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-host']).toBe('acme.localhost');
    expect(headers['x-real-ip']).toBeUndefined();
    expect(headers['x-steward-user-id']).toBeUndefined();
    expect(headers['forwarded']).toBeUndefined();
    expect(headers['x-request-id']).not.toBe('forged');
  });

  it('sends an absolute-form target for the same host as origin-form', async () => {
    const reply = await send(get('acme.localhost', 'https://acme.localhost:8443/abs?q=1'));
    expect(reply.statuses, reply.text.slice(0, 300)).toEqual([200]);
    expect(seenBy(acme)).toEqual(['GET /abs?q=1']);
  });

  it('strips every header on the one list, whatever its spelling', () =>
    expectOwnedHeadersStripped(shared()));

  it('answers a second request on a kept-alive acme connection that names globex with 421', () =>
    expectKeptAliveMisdirected(shared()));

  it(
    'closes connections that trickle their headers (slowloris) or their body',
    () => expectSlowClientsCut(shared()),
    30_000,
  );
});

describe('the gateway without any hooks', () => {
  // The target, Host and SNI checks are the server's own: no composition can leave them out.
  let bare: { gateway: Gateway; address: GatewayAddress };
  beforeAll(async () => {
    bare = await startGateway(resolveGatewayLimits({}), { hooks: false });
  });
  afterAll(async () => {
    await bare?.gateway.stop();
  });

  it.each<[string, string, string, number, string[]]>([
    ['SNI of acme, Host of globex', 'acme.localhost', get('globex.localhost', '/steal'), 421, []],
    [
      'an absolute-form target naming globex',
      'acme.localhost',
      get('acme.localhost', 'https://globex.localhost/steal'),
      421,
      [],
    ],
    ['an encoded slash', 'acme.localhost', get('acme.localhost', '/a%2F..%2Fb'), 400, []],
    ['HTTP/1.0 without Host', 'acme.localhost', `GET /old HTTP/1.0\r\n\r\n`, 400, []],
    [
      'two Host headers',
      'acme.localhost',
      `GET / HTTP/1.1\r\nHost: acme.localhost\r\nHost: globex.localhost\r\n\r\n`,
      400,
      [],
    ],
    [
      'an absolute-form authority over Host',
      'acme.localhost',
      get('globex.localhost', 'https://acme.localhost/abs'),
      200,
      ['GET /abs'],
    ],
  ])('%s', async (_name, sni, raw, status, seenByAcme) => {
    const reply = await send(raw, { port: bare.address.port, sni });
    expect(reply.statuses, reply.text.slice(0, 300)).toEqual([status]);
    expect(seenBy(acme)).toEqual(seenByAcme);
    expect(seenBy(globex)).toEqual([]);
    // A request that got through names acme everywhere the stage looks.
    for (const seen of acme.seen) {
      expect(seen.headers.host).toBe('acme.localhost');
      expect(seen.headers['x-forwarded-host']).toBe('acme.localhost');
    }
  });
});

describe('the gateway under a flood', () => {
  let limited: { gateway: Gateway; address: GatewayAddress };
  beforeAll(async () => {
    limited = await startGateway(
      resolveGatewayLimits({
        addressRatePerSecond: 0.1, // one token per 10 s: a slow machine cannot refill one mid-test
        addressBurst: 3,
        tenantRatePerSecond: 1,
        tenantBurst: 5,
        maxConnectionsPerAddress: 3,
      }),
    );
  });
  afterAll(async () => {
    await limited?.gateway.stop();
  });

  it('answers 429 once a client address has used its burst, for every tenant it asks', async () => {
    const port = limited.address.port;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push(...(await send(get('acme.localhost', `/n${i}`), { port })).statuses);
    const other = await send(get('globex.localhost', '/n'), { port, sni: 'globex.localhost' });
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(other.statuses).toEqual([429]);
    expect(other.text).toMatch(/\r\nretry-after: (?:9|10)\r\n/i);
    expect(seenBy(acme)).toEqual(['GET /n0', 'GET /n1', 'GET /n2']);
    expect(seenBy(globex)).toEqual([]);
  });

  it('closes connections past the cap per client address, and admits again when one closes', async () => {
    const port = limited.address.port;
    const open = (): Promise<TLSSocket> =>
      new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'acme.localhost', ca: ca.certPem });
        socket.once('secureConnect', () => resolve(socket));
        socket.once('error', reject);
        socket.once('close', () => reject(new Error('closed before the handshake')));
      });
    const held = [await open(), await open(), await open()];
    await expect(open()).rejects.toThrow();
    held[0]?.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const again = await open();
    expect(again.authorized).toBe(true);
    for (const socket of [...held, again]) socket.destroy();
  });
});

describe('the gateway and chunked bodies', () => {
  const maxBodyBytes = 4096;
  let small: { gateway: Gateway; address: GatewayAddress };
  beforeAll(async () => {
    small = await startGateway(resolveGatewayLimits({ maxBodyBytes, bodyIdleTimeoutMs: 2_000 }));
  });
  afterAll(async () => {
    await small?.gateway.stop();
  });

  it('passes a chunked body up to the limit', () =>
    expectChunkedBodyUpToLimit(shared({ port: small.address.port }), maxBodyBytes));

  it('answers 413 when a chunked body crosses the limit mid-stream; the stage never gets more than the limit', async () => {
    // Chunks with pauses: the first ones are forwarded before the one that crosses the limit arrives.
    const chunks: (string | number)[] = [chunkedHead];
    for (let i = 0; i < 12; i++) chunks.push(chunk(1000), 30);
    chunks.push('0\r\n\r\n');
    const reply = await send(chunks, { port: small.address.port });
    expect(reply.statuses, reply.text.slice(0, 300)).toEqual([413]);
    expect(reply.closed).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(acme.seen.map((s) => s.complete)).toEqual([false]);
    for (const seen of acme.seen) expect(seen.body.length).toBeLessThanOrEqual(maxBodyBytes);
  });
});
