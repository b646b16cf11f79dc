import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { precompress } from '../../src/console/build.ts';
import { consoleCookie, csrfTokenOf } from '../../src/console/session.ts';
import { consoleCsp } from '../../src/console/site.ts';
import { ensureCa } from '../../src/tls/ca.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * The built console, served by the API at `/` and by the data plane at
 * https://console.<base>/ (HAProxy to the API, /api included): its headers
 * (CSP, caching), precompressed files, the single-page app's fallback that
 * never covers /api, and the browser's address as the API sees it through
 * HAProxy. A small fixture build stands in for web/dist.
 */
let t: TestSteward;
let dist: string;
let ca: string;
let port: number;
const script = `console.log(${JSON.stringify('steward console '.repeat(300))});\n`;
const page =
  '<!doctype html><html lang="en"><head><title>Steward</title><script type="module" src="/assets/app-3f2a1c.js"></script></head><body><div id="root"></div></body></html>\n';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request to the data plane's console host, from `localAddress` (another loopback address is another client). */
function edge(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; localAddress?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        servername: 'console.localhost',
        ca,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        headers: {
          host: `console.localhost:${port}`,
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

beforeAll(async () => {
  dist = await mkdtemp(join(tmpdir(), 'console-dist-'));
  await mkdir(join(dist, 'assets'));
  await writeFile(join(dist, 'index.html'), page);
  await writeFile(join(dist, 'assets', 'app-3f2a1c.js'), script);
  await writeFile(join(dist, 'robots.txt'), 'User-agent: *\nDisallow: /\n');
  expect(await precompress(dist)).toBe(1);
  t = await startTestSteward({
    gateway: true,
    workers: false,
    consoleDist: dist,
    // Keepalives often enough to see several pass HAProxy one by one.
    config: { events: { keepaliveSeconds: 0.4 } },
  });
  ca = (await ensureCa(t.dataDir)).certPem;
  const address = t.steward.gatewayAddress;
  if (!address) throw new Error('no data plane');
  port = address.port;
}, 90_000);
afterAll(async () => {
  await t?.close();
  if (dist) await rm(dist, { recursive: true, force: true });
});

describe('the console from the API server', () => {
  it('serves the page (no-cache, CSP) and hashed assets (immutable, precompressed)', async () => {
    const root = await t.api.inject({ method: 'GET', url: '/' });
    expect(root.statusCode).toBe(200);
    expect(root.body).toBe(page);
    expect(root.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-cache',
      'content-security-policy': consoleCsp,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
    expect(consoleCsp).toMatch(/script-src 'self';/);
    expect(consoleCsp).not.toMatch(/script-src[^;]*unsafe/);

    const asset = '/assets/app-3f2a1c.js';
    const br = await t.api.inject({
      method: 'GET',
      url: asset,
      headers: { 'accept-encoding': 'gzip, deflate, br' },
    });
    expect(br.headers).toMatchObject({
      'content-type': 'text/javascript; charset=utf-8',
      'content-encoding': 'br',
      'cache-control': 'public, max-age=31536000, immutable',
      vary: 'accept-encoding',
    });
    expect(brotliDecompressSync(br.rawPayload).toString()).toBe(script);
    expect(br.rawPayload.length).toBeLessThan(script.length / 10);
    const gz = await t.api.inject({
      method: 'GET',
      url: asset,
      headers: { 'accept-encoding': 'gzip, br;q=0' },
    });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(script);
    const plain = await t.api.inject({ method: 'GET', url: asset });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(script);
    const again = await t.api.inject({
      method: 'GET',
      url: asset,
      headers: { 'if-none-match': String(plain.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const head = await t.api.inject({ method: 'HEAD', url: '/robots.txt' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it("falls back to the page for the app's routes, never for /api or a missing asset", async () => {
    for (const url of ['/tenants/acme?tab=stages', '/alerts', '/.well-known/x']) {
      const deep = await t.api.inject({ method: 'GET', url });
      expect(deep.statusCode, url).toBe(200);
      expect(deep.body, url).toBe(page);
      expect(deep.headers['cache-control'], url).toBe('no-cache');
    }
    const api = await t.api.inject({ method: 'GET', url: '/api/v1/no-such-thing' });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toEqual({ code: 'not_found', message: 'no API route GET /api/v1/no-such-thing' });
    expect((await t.api.inject({ method: 'GET', url: '/api' })).headers['content-type']).toMatch(/json/);
    const missing = await t.api.inject({ method: 'GET', url: '/assets/gone-123.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toBe('text/plain; charset=utf-8');
    // No way out of the build directory: paths are looked up, never opened.
    for (const url of ['/../package.json', '/assets/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd']) {
      const outside = await t.api.inject({ method: 'GET', url });
      expect([200, 404], url).toContain(outside.statusCode);
      if (outside.statusCode === 200) expect(outside.body, url).toBe(page);
    }
    expect((await t.api.inject({ method: 'POST', url: '/' })).json().code).toBe('not_found');
  });
});

/**
 * GET /api/v1/events through the console host with the session cookie: the
 * chunks as they arrive, with the time each came.
 */
function openStream(cookie: string): Promise<{
  status: number;
  type: string | undefined;
  chunks: { at: number; text: string }[];
  close(): void;
}> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/api/v1/events',
        servername: 'console.localhost',
        ca,
        agent: false,
        headers: { host: `console.localhost:${port}`, cookie, accept: 'text/event-stream' },
      },
      (res) => {
        const chunks: { at: number; text: string }[] = [];
        res.setEncoding('utf8');
        res.on('data', (text: string) => chunks.push({ at: performance.now(), text }));
        res.on('error', () => undefined);
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'],
          chunks,
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function until(what: string, ok: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the console through the data plane', () => {
  it('serves https://console.<base>/ and its /api with the same headers, over HSTS', async () => {
    const root = await edge('GET', '/', { headers: { 'accept-encoding': 'br' } });
    expect(root.status).toBe(200);
    expect(root.body.toString()).toBe(page);
    expect(root.headers['content-security-policy']).toBe(consoleCsp);
    expect(root.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    const asset = await edge('GET', '/assets/app-3f2a1c.js', { headers: { 'accept-encoding': 'br' } });
    expect(asset.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(asset.body).toString()).toBe(script);
    const health = await edge('GET', '/api/v1/console/session');
    expect(health.status).toBe(401);
    expect(JSON.parse(health.body.toString()).message).toMatch(/console\/login/);
  });

  it("signs in through HAProxy: the cookie works there, and the API records the browser's address, which no other client can claim", async () => {
    const username = `edge-${Math.random().toString(36).slice(2, 7)}`;
    const password = `${username}-password-123`;
    expect(
      (await t.request('POST', '/api/v1/operators', { username, role: 'operator', password })).status,
    ).toBe(201);
    const login = await edge('POST', '/api/v1/console/login', {
      body: { username, password },
      localAddress: '127.0.0.2',
      // Whatever a client sends, HAProxy sets these itself.
      headers: { 'x-forwarded-for': '10.9.9.9', 'x-steward-edge': 'guess' },
    });
    expect(login.status, login.body.toString()).toBe(200);
    const token = /^__Host-steward=(stw_[^;]+);/.exec(String(login.headers['set-cookie']))?.[1];
    if (!token) throw new Error('no cookie');
    const cookie = `${consoleCookie}=${token}`;
    const session = await edge('GET', '/api/v1/console/session', { headers: { cookie } });
    expect(session.status).toBe(200);
    const csrf = JSON.parse(session.body.toString()).csrfToken as string;
    expect(csrf).toBe(csrfTokenOf(token));
    const origin = `https://console.localhost:${port}`;
    const refused = await edge('POST', '/api/v1/console/logout', {
      headers: { cookie, origin: 'https://evil.example', 'x-csrf-token': csrf },
    });
    expect(refused.status).toBe(403);
    const out = await edge('POST', '/api/v1/console/logout', {
      headers: { cookie, origin, 'x-csrf-token': csrf },
    });
    expect(out.status, out.body.toString()).toBe(200);

    // Direct to the API, a forged forwarded address without the key is not taken.
    const direct = await t.api.inject({
      method: 'POST',
      url: '/api/v1/console/login',
      remoteAddress: '127.0.0.3',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': '10.8.8.8',
        'x-steward-edge': 'a'.repeat(43),
      },
      payload: JSON.stringify({ username, password: 'wrong-password-1' }),
    });
    expect(direct.statusCode).toBe(401);
    const logins = await t.query<{ address: string; outcome: string }>(
      "select address, outcome from audit_events where action = 'operator.login' and target = $1 order by seq",
      [`operator/${username}`],
      t.controlDatabase,
    );
    expect(logins).toEqual([
      { address: '127.0.0.2', outcome: 'success' },
      { address: '127.0.0.3', outcome: 'failure' },
    ]);
  });

  it('streams server-sent events through HAProxy as they happen: keepalives one by one, a change within a second', async () => {
    const username = `sse-${Math.random().toString(36).slice(2, 7)}`;
    const password = `${username}-password-123`;
    expect(
      (await t.request('POST', '/api/v1/operators', { username, role: 'auditor', password })).status,
    ).toBe(201);
    const login = await edge('POST', '/api/v1/console/login', { body: { username, password } });
    const token = /^__Host-steward=(stw_[^;]+);/.exec(String(login.headers['set-cookie']))?.[1];
    if (!token) throw new Error('no cookie');
    const stream = await openStream(`${consoleCookie}=${token}`);
    try {
      expect(stream.status).toBe(200);
      expect(stream.type).toMatch(/^text\/event-stream/);
      const text = () => stream.chunks.map((c) => c.text).join('');
      // Keepalives every 0.4 s arrive as they are sent, not held back in a buffer.
      await until('three keepalives', () => (text().match(/: keepalive/g) ?? []).length >= 3);
      const keepalives = stream.chunks.filter((c) => c.text.includes(': keepalive'));
      const gaps = keepalives.slice(1).map((c, i) => c.at - (keepalives[i]?.at ?? 0));
      expect(Math.min(...gaps), JSON.stringify(gaps)).toBeGreaterThan(150);
      // A change (a tenant created by someone else, with a bearer token) reaches the open stream at once.
      const slug = `sse${Math.random().toString(36).slice(2, 7)}`;
      const started = performance.now();
      expect((await t.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] })).status).toBe(201);
      await until('the change event', () => text().includes(`"tenant":"${slug}"`), 3_000);
      const arrived = stream.chunks.find((c) => c.text.includes(`"tenant":"${slug}"`))?.at ?? 0;
      expect(arrived - started).toBeLessThan(1_000);
      expect(text()).toMatch(/event: change\ndata: \{"topic":"tenants"/);
    } finally {
      stream.close();
    }
  });
});
