import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OctetCountDecoder } from '../../src/dataplane/access-log-stream.ts';
import { accessLogKeys, allowListFile, type AccessLogRecord } from '../../src/dataplane/index.ts';
import { strippedRequestHeaders } from '../../src/gateway/headers.ts';
import { resolveGatewayLimits } from '../../src/gateway/limits.ts';
import {
  backend,
  badChunkCases,
  expectBadChunkCut,
  expectKeptAliveMisdirected,
  expectNormalisedRoute,
  expectOwnedHeadersStripped,
  expectSlowClientsCut,
  get,
  normalisedCases,
  refusedCases,
  seenBy,
  type Backend,
  type HostileEdge,
  type Reply,
} from '../gateway/hostile-cases.ts';
import { sendTo, startEdge, stopEdge, type Edge } from './edge-support.ts';
import { plainGet, until } from './support.ts';

/**
 * The hostile-input suite (test/gateway/hostile-cases.ts) against the data
 * plane: a real HAProxy from the rendered config in front of acme and
 * globex (edge-support.ts); the limits' own tests are limits.test.ts. Where
 * HAProxy answers a case differently from the Node gateway, equally safely,
 * the case says so (`haproxy`), and this suite checks that answer.
 */

let acme: Backend;
let globex: Backend;
let activator: Backend;
let main: Edge;
let logDir: string;
let logReceiver: NetServer | undefined;
const logLines: string[] = [];

function send(
  chunks: string | readonly (string | number)[],
  options: { sni?: string | null; waitMs?: number; edge?: Edge } = {},
): Promise<Reply> {
  return sendTo(options.edge ?? main, chunks, options);
}

/** The main edge (or another) as the shared scenarios see it. */
function shared(options: { edge?: Edge } = {}): HostileEdge {
  return { send: (chunks, more = {}) => send(chunks, { ...options, ...more }), acme, globex };
}

beforeAll(async () => {
  acme = await backend('acme');
  globex = await backend('globex');
  activator = await backend('activator');
  // The access log's receiving end, as raw as HAProxy's ring sends it (Steward's receiver redacts paths again).
  logDir = mkdtempSync('/tmp/st-dp-log-');
  // HAProxy's workers run as the haproxy user.
  chmodSync(logDir, 0o755);
  const socket = join(logDir, 'access.sock');
  logReceiver = createNetServer((connection) => {
    const decoder = new OctetCountDecoder();
    connection.on('data', (chunk: Buffer) => logLines.push(...decoder.push(chunk)));
  });
  await new Promise<void>((resolve) => logReceiver?.listen(socket, resolve));
  chmodSync(socket, 0o666);
  // Short timeouts for slow heads and bodies, so they are cut within the test's time; request rates high enough
  // that the file's hundreds of requests from one address never meet them (the flood tests have their own).
  main = await startEdge(
    { acme, globex },
    resolveGatewayLimits({
      headersTimeoutMs: 3_000,
      bodyIdleTimeoutMs: 2_000,
      addressRatePerSecond: 10_000,
      addressBurst: 10_000,
      tenantRatePerSecond: 10_000,
      tenantBurst: 10_000,
    }),
    { accessLog: socket, activator: { address: '127.0.0.1', port: activator.port } },
  );
}, 60_000);

afterAll(async () => {
  if (main) await stopEdge(main);
  await new Promise((resolve) => logReceiver?.close(resolve));
  if (logDir) rmSync(logDir, { recursive: true, force: true });
  for (const b of [acme, globex, activator]) await new Promise((r) => b?.server.close(r));
});

afterEach(async () => {
  // Whatever happened, the edge still serves each tenant its own stage.
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

/** A stage's upgrade handler: accepts the WebSocket handshake, then echoes each chunk as `echo:<chunk>`. */
function echoUpgrade(upgraded: Duplex[]): (req: IncomingMessage, socket: Duplex) => void {
  return (req, socket) => {
    upgraded.push(socket);
    const accept = createHash('sha1')
      .update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    socket.on('data', (data: Buffer) => socket.write(`echo:${data.toString()}`));
  };
}

describe('HAProxy under hostile input', () => {
  it('routes each tenant to its own stage (the control case)', async () => {
    const a = await send(get('acme.localhost', '/x'));
    const g = await send(get('globex.localhost', '/y'), { sni: 'globex.localhost' });
    expect(a.statuses).toEqual([200]);
    expect(g.statuses).toEqual([200]);
    expect(seenBy(acme)).toEqual(['GET /x']);
    expect(seenBy(globex)).toEqual(['GET /y']);
    expect(acme.seen[0]?.headers['x-forwarded-proto']).toBe('https');
    expect(acme.seen[0]?.headers['x-steward-stage']).toBe('st_acme');
  });

  it.each(refusedCases)('refuses $name with $status', async ({ raw, status, sni, haproxy }) => {
    const reply = await send(raw, sni ? { sni } : {});
    if (haproxy) {
      expect(reply.statuses, reply.text.slice(0, 300)).toEqual(haproxy.statuses);
      expect(seenBy(acme)).toEqual(haproxy.seen);
    } else {
      expect(reply.statuses[0], reply.text.slice(0, 300)).toBe(status);
      // Nothing after the refusal was read as a request (a smuggled one would show as a second status).
      expect(reply.statuses.length).toBe(1);
      expect(seenBy(acme)).toEqual([]);
      // The edge refused it, not a stage's parser (which would refuse some of these too): with a branded page
      // from a rule, or with HAProxy's own page from its parser (2.6 sends its built-in one there, errorfile or not).
      expect(reply.text).toMatch(/<div class="brand">Steward<\/div>|Your browser sent an invalid request/);
    }
    expect(seenBy(globex)).toEqual([]);
  });

  it.each(badChunkCases)('cuts a chunked body with a %s, and nothing completes', (_name, body) =>
    expectBadChunkCut(shared(), body),
  );

  it.each(normalisedCases)('normalises %s and routes to the right tenant', (_name, host, sni, expected) =>
    expectNormalisedRoute(shared(), host, sni, expected),
  );

  it('logs each request as one JSON record with exactly the agreed keys, no cookie, authorization or secret query value', async () => {
    logLines.length = 0;
    const reply = await send(
      get(
        'acme.localhost',
        '/login?next=%2Fhome&token=SECRET1&Client_Secret=SECRET4&SECRET6eyJhbGciOiJIUzI1NiJ9xyz&debug',
        'Cookie: sid=SECRET2\r\nAuthorization: Bearer SECRET3\r\nUser-Agent: hostile-suite/1 "quoted"\r\n',
      ),
    );
    expect(reply.statuses).toEqual([200]);
    const id = /\r\nx-request-id: ([^\r]+)\r\n/i.exec(reply.text)?.[1];
    await until('the access log line', () => logLines.some((line) => line.includes('/login')));
    const records = logLines.map((line) => JSON.parse(line) as AccessLogRecord);
    const record = records.find((r) => r.path.startsWith('/login'));
    expect(Object.keys(record ?? {})).toEqual([...accessLogKeys]);
    expect(record).toMatchObject({
      id,
      client: '127.0.0.1',
      method: 'GET',
      host: 'acme.localhost',
      path: '/login?next=%2Fhome&token=[redacted]&Client_Secret=[redacted]&[redacted]&debug',
      status: 200,
      backend: 'st_acme',
      ua: 'hostile-suite/1 "quoted"',
    });
    expect(record?.ts).toBeGreaterThan(Date.now() - 60_000);
    expect(record?.ms).toBeGreaterThanOrEqual(0);
    expect(record?.bytes).toBeGreaterThan(0);
    expect(acme.seen[0]?.headers['x-request-id']).toBe(id);
    // The plain HTTP redirect is logged too.
    expect(
      (await plainGet(main.fixture.state.http.port, 'acme.localhost', '/r?password=SECRET5')).status,
    ).toBe(301);
    await until('the redirect in the access log', () => logLines.some((line) => line.includes('r?password')));
    expect(
      logLines.map((line) => JSON.parse(line) as AccessLogRecord).find((r) => r.path.startsWith('/r?')),
    ).toMatchObject({
      path: '/r?password=[redacted]',
      status: 301,
      host: 'acme.localhost',
      backend: 'fe_http',
    });
    expect(logLines.join('\n')).not.toMatch(/SECRET\d|sid=|bearer/i);
  });

  it('never lets a client set forwarding or identity headers', async () => {
    const reply = await send(
      get(
        'acme.localhost',
        '/who',
        'X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Host: globex.localhost\r\nX-Real-IP: 10.9.9.9\r\n' +
          'X-Steward-User-Id: admin\r\nX-Steward-Stage: st_globex\r\nX-Request-Id: forged\r\nForwarded: for=10.9.9.9\r\n',
      ),
    );
    expect(reply.statuses).toEqual([200]);
    const headers = acme.seen[0]?.headers ?? {};
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-host']).toBe('acme.localhost');
    expect(headers['x-real-ip']).toBeUndefined();
    expect(headers['x-steward-user-id']).toBeUndefined();
    expect(headers['x-steward-stage']).toBe('st_acme');
    expect(headers['forwarded']).toBeUndefined();
    expect(headers['x-request-id']).not.toBe('forged');
  });

  it("sends the client's own headers on, and answers with the edge's HSTS and request id over the stage's", async () => {
    const reply = await send(
      get(
        'acme.localhost',
        '/stage-sets-headers',
        'Accept: text/html\r\nKeep-Alive: timeout=5\r\nCookie: a=1\r\nCookie: b=2\r\nX-Forwarded-Proto: http\r\n',
      ),
    );
    expect(reply.statuses).toEqual([200]);
    const seen = acme.seen[0]?.headers ?? {};
    expect(seen['accept']).toBe('text/html');
    expect(seen['cookie']).toBe('a=1; b=2');
    // HAProxy passes a client's Keep-Alive header on (the Node gateway dropped it); it frames nothing either way.
    expect(seen['x-forwarded-proto']).toBe('https');
    const sentId = String(seen['x-request-id']);
    expect(sentId).toMatch(/^[0-9a-f-]{36}$/);
    // The response: the stage's HSTS and request id are replaced by the edge's. (HAProxy passes a stage's
    // Keep-Alive header on, where the Node gateway dropped it: it frames nothing.)
    const head = reply.text.slice(0, reply.text.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toContain('strict-transport-security: max-age=31536000');
    expect(head).not.toContain('max-age=0');
    expect(head).toContain(`x-request-id: ${sentId}`);
    expect(head).not.toContain('stage-id');
  });

  it.each([
    ['HTTP/1.0 without Host', 'GET /old HTTP/1.0\r\n\r\n', 400],
    ['CONNECT', 'CONNECT globex.localhost:443 HTTP/1.1\r\nHost: globex.localhost:443\r\n\r\n', 405],
    ['asterisk-form', 'OPTIONS * HTTP/1.1\r\nHost: acme.localhost\r\n\r\n', 400],
  ])('refuses %s, as the Node gateway did', async (_name, raw, status) => {
    const reply = await send(raw);
    expect(reply.statuses, reply.text.slice(0, 300)).toEqual([status]);
    expect(seenBy(acme)).toEqual([]);
    expect(seenBy(globex)).toEqual([]);
  });

  it('sends an absolute-form target for the same host as origin-form', async () => {
    // Its authority must equal Host byte for byte (HAProxy's parser answers 400 to `acme.localhost:8443` here,
    // where the Node gateway compared hosts without ports): refused either way, never routed elsewhere.
    expect((await send(get('acme.localhost', 'https://acme.localhost:8443/abs'))).statuses).toEqual([400]);
    const reply = await send(get('acme.localhost', 'https://acme.localhost/abs?q=1'));
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

describe('stage rules changed at runtime', () => {
  it('answers 403 with the branded page to an address off the allow list, and serves again when it is back', async () => {
    const file = allowListFile(main.fixture.state.files, 'st_acme');
    await main.haproxy.api.replaceAcl(file, ['10.0.0.0/8']);
    const refused = await send(get('acme.localhost', '/private'));
    expect(refused.statuses).toEqual([403]);
    expect(refused.text).toContain('Your network address may not reach this application.');
    expect(seenBy(acme)).toEqual([]);
    await main.haproxy.api.replaceAcl(file, ['127.0.0.0/8']);
    expect((await send(get('acme.localhost', '/private'))).statuses).toEqual([200]);
    await main.haproxy.api.replaceAcl(file, ['0.0.0.0/0', '::/0']);
    await expect(main.haproxy.api.replaceAcl(file, ['10.0.0.0/33'])).rejects.toThrow(/ranges\[0\]/);
    expect(await main.haproxy.api.showAcl(file)).toEqual(['0.0.0.0/0', '::/0']);
  });

  it('answers 503 with the maintenance page and Retry-After while the stage is in maintenance', async () => {
    const map = main.fixture.state.files.maintenanceMap;
    await main.haproxy.api.setMaintenance(map, 'st_acme', true);
    const reply = await send(get('acme.localhost', '/during'));
    expect(reply.statuses).toEqual([503]);
    expect(reply.text).toMatch(/\r\nretry-after: 300\r\n/i);
    expect(reply.text).toContain('Down for maintenance');
    expect(reply.text).not.toContain('acme');
    const other = await send(get('globex.localhost', '/during'), { sni: 'globex.localhost' });
    expect(other.statuses).toEqual([200]);
    await main.haproxy.api.setMaintenance(map, 'st_acme', false);
    expect((await send(get('acme.localhost', '/after'))).statuses).toEqual([200]);
  });

  it("answers 429 with Retry-After past the tenant's rate from the tenant map, for that tenant only", async () => {
    const map = main.fixture.state.files.tenantLimits;
    // 2 requests/s over the tenant window of 1 s here: the third at once is one too many.
    await main.haproxy.api.setTenantRate(map, 'acme', 2);
    // The window (and the one before, which HAProxy weighs in) forgets the requests of the tests before.
    await new Promise((r) => setTimeout(r, 2_000));
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push(...(await send(get('acme.localhost', `/t${i}`))).statuses);
      const other = await send(get('globex.localhost', '/t'), { sni: 'globex.localhost' });
      expect(statuses).toEqual([200, 200, 429]);
      expect(other.statuses).toEqual([200]);
      expect((await send(get('acme.localhost', '/t3'))).text).toMatch(/\r\nretry-after: 1\r\n/i);
      expect(seenBy(acme)).toEqual(['GET /t0', 'GET /t1']);
    } finally {
      await main.haproxy.api.setTenantRate(map, 'acme', undefined);
    }
    await new Promise((r) => setTimeout(r, 2_000));
    await expect(main.haproxy.api.setTenantRate(map, 'acme', 0.5)).rejects.toThrow(
      /ratePerSecond "0\.5" is not accepted: use a whole number/,
    );
  });

  it('sends the requests of a stage with no instance up to the activator, naming the stage', async () => {
    const reply = await send(get('sleepy.localhost', '/wake'), { sni: 'sleepy.localhost' });
    expect(reply.statuses).toEqual([200]);
    expect(seenBy(activator)).toEqual(['GET /wake']);
    expect(activator.seen[0]?.headers['x-steward-stage']).toBe('st_sleepy');
    activator.seen.length = 0;
  });

  it("serves each stage on its published loopback port by port, without the edge's rules", async () => {
    const backends = main.fixture.state.backends;
    const port = (name: string) => backends.find((b) => b.name === name)?.publishedPort ?? 0;
    await main.haproxy.api.setMaintenance(main.fixture.state.files.maintenanceMap, 'st_acme', true);
    try {
      // Any Host, no SNI, maintenance on: Steward's probe reaches the app.
      expect((await plainGet(port('st_acme'), 'probe.invalid', '/healthz')).status).toBe(200);
      expect((await plainGet(port('st_globex'), 'probe.invalid', '/healthz')).status).toBe(200);
    } finally {
      await main.haproxy.api.setMaintenance(main.fixture.state.files.maintenanceMap, 'st_acme', false);
    }
    expect(seenBy(acme)).toEqual(['GET /healthz']);
    expect(seenBy(globex)).toEqual(['GET /healthz']);
    expect(acme.seen[0]?.headers['x-steward-stage']).toBe('st_acme');
  });

  it('answers an unrouted host with a branded 404 that names no tenant', async () => {
    const reply = await send(get('nobody.localhost', '/'), { sni: 'nobody.localhost' });
    expect(reply.statuses).toEqual([404]);
    expect(reply.text).toContain('No application is served at this address.');
    expect(reply.text).not.toMatch(/acme|globex/);
  });
});

describe('protocols', () => {
  it('routes an HTTP/2 client (ALPN h2) to its stage, with HSTS', async () => {
    const session = http2Connect(`https://127.0.0.1:${main.port}`, {
      servername: 'acme.localhost',
      ca: main.fixture.ca.certPem,
      checkServerIdentity: () => undefined,
    });
    try {
      const answer = await new Promise<{ status: number; body: string; hsts: unknown; alpn: unknown }>(
        (resolve, reject) => {
          const stream = session.request({ ':path': '/h2?x=1', ':authority': 'acme.localhost' });
          let body = '';
          let status = 0;
          let hsts: unknown;
          stream.setEncoding('utf8');
          stream.on('response', (headers) => {
            status = Number(headers[':status']);
            hsts = headers['strict-transport-security'];
          });
          stream.on('data', (chunk: string) => (body += chunk));
          stream.on('end', () => resolve({ status, body, hsts, alpn: session.alpnProtocol }));
          stream.on('error', reject);
          stream.end();
        },
      );
      expect(answer).toEqual({
        status: 200,
        body: 'acme GET /h2?x=1',
        hsts: 'max-age=31536000',
        alpn: 'h2',
      });
      expect(seenBy(acme)).toEqual(['GET /h2?x=1']);
    } finally {
      session.close();
    }
  });

  it.each([
    ['an :authority of globex on an acme connection', { ':authority': 'globex.localhost' }],
    [
      'a host header of globex beside an :authority of acme',
      { ':authority': 'acme.localhost', host: 'globex.localhost' },
    ],
  ])('never routes HTTP/2 with %s to globex', async (_name, headers) => {
    const session = http2Connect(`https://127.0.0.1:${main.port}`, {
      servername: 'acme.localhost',
      ca: main.fixture.ca.certPem,
      checkServerIdentity: () => undefined,
    });
    try {
      const status = await new Promise<number>((resolve) => {
        const stream = session.request({ ':path': '/h2-steal', ...headers });
        stream.on('response', (answer) => resolve(Number(answer[':status'])));
        stream.on('error', () => resolve(0));
        stream.resume();
        stream.end();
      });
      // Refused, or (RFC 9113 8.3.1: :authority wins over host) served by acme as acme's.
      expect(status === 0 || status >= 400 || status === 200, `status ${status}`).toBe(true);
      if (status === 200) expect(acme.seen.map((seen) => seen.headers.host)).toEqual(['acme.localhost']);
      expect(seenBy(globex)).toEqual([]);
    } finally {
      session.destroy();
    }
  });

  it('passes a WebSocket over HTTP/2 (extended CONNECT, RFC 8441) to the stage as an upgrade', async () => {
    const upgraded: Duplex[] = [];
    const onUpgrade = echoUpgrade(upgraded);
    acme.server.on('upgrade', onUpgrade);
    const session = http2Connect(`https://127.0.0.1:${main.port}`, {
      servername: 'acme.localhost',
      ca: main.fixture.ca.certPem,
      checkServerIdentity: () => undefined,
    });
    try {
      await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
      expect(session.remoteSettings.enableConnectProtocol).toBe(true);
      const echoed = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const stream = session.request({
          ':method': 'CONNECT',
          ':protocol': 'websocket',
          ':path': '/h2-socket',
          ':scheme': 'https',
          ':authority': 'acme.localhost',
          'sec-websocket-version': '13',
        });
        let status = 0;
        let text = '';
        stream.setEncoding('utf8');
        stream.on('response', (headers) => {
          status = Number(headers[':status']);
          stream.write('ping');
        });
        stream.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('echo:ping')) resolve({ status, text });
        });
        stream.on('error', reject);
        setTimeout(() => resolve({ status, text }), 2_000);
      });
      expect(echoed).toEqual({ status: 200, text: 'echo:ping' });
    } finally {
      acme.server.off('upgrade', onUpgrade);
      for (const socket of upgraded) socket.destroy();
      session.destroy();
    }
  });

  it('strips every header on the one list from a WebSocket upgrade too', async () => {
    const seen: IncomingMessage['headers'][] = [];
    const onUpgrade = (req: IncomingMessage, socket: Duplex): void => {
      seen.push(req.headers);
      socket.destroy();
    };
    acme.server.on('upgrade', onUpgrade);
    try {
      const forged = [
        ...strippedRequestHeaders.names,
        ...strippedRequestHeaders.prefixes.map((p) => `${p}anything`),
      ];
      const extra = forged.map((name, i) => `${i % 2 ? name.toUpperCase() : name}: forged-${i}\r\n`).join('');
      await send(
        `GET /socket HTTP/1.1\r\nHost: acme.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}X-Kept: yes\r\n\r\n`,
        { waitMs: 1_500 },
      );
      expect(seen).toHaveLength(1);
      expect(seen[0]?.['x-kept']).toBe('yes');
      expect(seen[0]?.['upgrade']).toBe('websocket');
      expect(Object.entries(seen[0] ?? {}).filter(([, v]) => String(v).includes('forged-'))).toEqual([]);
    } finally {
      acme.server.off('upgrade', onUpgrade);
    }
  });

  it('passes a WebSocket upgrade through to the stage, both ways', async () => {
    const upgraded: Duplex[] = [];
    const onUpgrade = echoUpgrade(upgraded);
    acme.server.on('upgrade', onUpgrade);
    try {
      const reply = await send(
        [
          `GET /socket HTTP/1.1\r\nHost: acme.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
          300,
          'ping',
        ],
        { waitMs: 1_500 },
      );
      expect(reply.statuses).toEqual([101]);
      expect(reply.text).toContain('echo:ping');
    } finally {
      acme.server.off('upgrade', onUpgrade);
      for (const socket of upgraded) socket.destroy();
    }
  });
});
