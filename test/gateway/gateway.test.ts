import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import { freePort } from '../../src/system/ports.ts';
import { createCa, ensureCa, issueServerCertificate, type CertificateAuthority } from '../../src/tls/ca.ts';
import { stopLeftHaproxy } from '../harness/haproxy.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { serveStageFrom } from '../dataplane/serve.ts';
import {
  handshake,
  httpFetch,
  httpsFetch,
  startEchoBackend,
  webSocketEcho,
  within,
  type RequestOptions,
} from './support.ts';

const ledger = join(import.meta.dirname, '..', '..', 'examples', 'ledger');
const stewardBin = resolve(import.meta.dirname, '../../bin/steward');

/**
 * The edge in a real Steward: HAProxy, driven by the data plane's controller
 * from desired state, in front of real deployed apps (the sample ledger) and
 * of test servers served through the stage endpoints as the runtime serves
 * an app's instances.
 */
describe('gateway: TLS edge, routing from desired state, proxying, scale out', () => {
  let t: TestSteward;
  let ca: CertificateAuthority;
  let address: { port: number; httpPort: number };
  let echo: Awaited<ReturnType<typeof startEchoBackend>>;
  const children: ChildProcess[] = [];
  const gatewayDirs: string[] = [];

  const get = (host: string, path = '/', extra: Partial<RequestOptions> = {}) =>
    httpsFetch({ port: address.port, host, path, ca: ca.certPem, ...extra });

  async function deploy(tenant: string, stage: string, version = '1.0.0'): Promise<void> {
    const started = await t.request('POST', `/api/v1/tenants/${tenant}/stages/${stage}/deployments`, {
      version,
    });
    expect(started.status, started.text).toBe(202);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const res = await t.request('GET', `/api/v1/deployments/${started.body.id}`);
      if (res.body.status === 'active') return;
      if (res.body.status === 'failed') throw new Error(`deploy ${tenant}/${stage} failed: ${res.text}`);
      if (Date.now() > deadline) throw new Error(`deploy ${tenant}/${stage} stuck: ${res.text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function control(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
    return t.query(sql, params, t.controlDatabase);
  }

  const serveFrom = (tenant: string, stage: string, instance: number): Promise<void> =>
    serveStageFrom(t, tenant, stage, instance);

  beforeAll(async () => {
    t = await startTestSteward({ runtimeTickMs: 500, gateway: true });
    for (const [slug, stages] of [
      ['acme', ['dev', 'prod']],
      ['globex', ['dev']],
      ['echo', ['dev', 'test']],
    ] as const) {
      const created = await t.request('POST', '/api/v1/tenants', { slug, stages });
      expect(created.status, created.text).toBe(201);
    }
    for (const slug of ['acme', 'globex', 'echo']) await t.waitForStages(slug, 'ready', 60_000);
    const upload = await t.api.inject({
      method: 'POST',
      url: '/api/v1/releases?version=1.0.0',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/gzip' },
      payload: execFileSync('tar', ['-czf', '-', '--exclude=node_modules', '-C', ledger, '.'], {
        maxBuffer: 64 * 1024 * 1024,
      }),
    });
    expect(upload.statusCode, upload.body).toBe(201);
    await Promise.all([deploy('acme', 'dev'), deploy('acme', 'prod'), deploy('globex', 'dev')]);

    // Stage echo/dev is a test server of ours (no app).
    echo = await startEchoBackend();
    await serveFrom('echo', 'dev', echo.port);
    // echo/test's instance is a port where nothing listens: the stage is down.
    await serveFrom('echo', 'test', await freePort(0));

    ca = await ensureCa(t.dataDir);
    const running = t.steward.gatewayAddress;
    if (!running) throw new Error('no data plane');
    address = running;
  }, 300_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(
      children.map((c) =>
        c.exitCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve(undefined),
      ),
    );
    for (const dir of gatewayDirs) {
      await stopLeftHaproxy(dir);
      await rm(dir, { recursive: true, force: true });
    }
    await echo?.close();
    await t?.close();
  }, 60_000);

  it('routes each host to its tenant and stage over verified TLS, with the prod alias and HSTS', async () => {
    const cases = [
      ['dev.acme.localhost', 'acme', 'dev'],
      ['prod.acme.localhost', 'acme', 'prod'],
      ['acme.localhost', 'acme', 'prod'],
      ['dev.globex.localhost', 'globex', 'dev'],
    ] as const;
    for (const [host, tenant, stage] of cases) {
      const reply = await get(host, '/api/me');
      expect(reply.status, `${host}: ${reply.body}`).toBe(200);
      expect(JSON.parse(reply.body)).toMatchObject({ tenant, stage, authenticated: false });
      expect(reply.issuer).toBe('Steward CA');
      expect(reply.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
      expect(reply.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Host matching ignores case, the port and one trailing dot (SNI stays the plain name).
    const odd = await get('dev.acme.localhost', '/api/me', {
      headers: { host: `DEV.Acme.LOCALHOST.:${address.port}` },
      servername: 'dev.acme.localhost',
    });
    expect(JSON.parse(odd.body)).toMatchObject({ tenant: 'acme', stage: 'dev' });

    // Bodies go both ways; each stage has its own data.
    const created = await get('dev.acme.localhost', '/api/customers', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Acme Corp only' }),
    });
    expect(created.status, created.body).toBe(201);
    const acme = await get('dev.acme.localhost', '/api/customers');
    const globex = await get('dev.globex.localhost', '/api/customers');
    expect(acme.body).toContain('Acme Corp only');
    expect(globex.body).not.toContain('Acme Corp only');

    const routes = await t.request('GET', '/api/v1/routes');
    expect(routes.status).toBe(200);
    expect(routes.body.routes.map((r: { host: string }) => r.host)).toEqual(
      expect.arrayContaining([
        'acme.localhost',
        'dev.acme.localhost',
        'prod.acme.localhost',
        'dev.globex.localhost',
      ]),
    );
    expect(routes.body.routes.find((r: { host: string }) => r.host === 'acme.localhost')).toMatchObject({
      kind: 'prod',
      tenant: 'acme',
      stage: 'prod',
      allowFrom: null,
      maintenance: false,
    });
  });

  it('answers an unknown host with a branded 404 that names no tenant', async () => {
    for (const host of [
      'nope.localhost',
      'test.acme.localhost',
      'dev.acme.localhost.evil.example',
      'localhost',
    ]) {
      const reply = await get(host, '/', { rejectUnauthorized: false });
      expect(reply.status, host).toBe(404);
      // HAProxy answers with the branded page (an errorfile), the same for every unknown host.
      expect(reply.headers['content-type']).toMatch(/^text\/html/);
      expect(reply.body).toBe((await get('nope.localhost', '/', { rejectUnauthorized: false })).body);
      expect(reply.body).toContain('Steward');
      expect(reply.body).not.toMatch(/acme|globex|echo/);
      // No certificate is issued for a host the gateway does not route.
      expect(reply.issuer).toBe('Steward CA');
    }
    const unknown = await get('nope.localhost', '/', { rejectUnauthorized: false });
    expect(unknown.headers['strict-transport-security']).toBeDefined();
  });

  it('sets X-Forwarded-* and X-Request-Id itself and drops what the client sent, X-Steward-* included', async () => {
    const spoofed = {
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'http',
      'x-forwarded-port': '1',
      forwarded: 'for=6.6.6.6',
      'x-real-ip': '6.6.6.6',
      'x-request-id': 'chosen-by-client',
      'x-steward-user-id': 'admin',
      'x-steward-user-email': 'admin@example.com',
      'X-Steward-Groups': 'owners',
      'x-kept': 'yes',
    };
    const reply = await get('dev.echo.localhost', '/path?q=1', { headers: spoofed });
    expect(reply.status, reply.body).toBe(200);
    const seen = JSON.parse(reply.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/path?q=1');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-forwarded-host']).toBe('dev.echo.localhost');
    expect(seen.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.headers['x-request-id']).toBe(reply.headers['x-request-id']);
    expect(seen.headers['x-kept']).toBe('yes');
    for (const dropped of [
      'x-forwarded-port',
      'forwarded',
      'x-real-ip',
      'x-steward-user-id',
      'x-steward-user-email',
      'x-steward-groups',
    ]) {
      expect(seen.headers[dropped], dropped).toBeUndefined();
    }
    // The sample app trusts X-Steward-User-*: through the gateway a client is still anonymous.
    const me = await get('dev.acme.localhost', '/api/me', { headers: spoofed });
    expect(JSON.parse(me.body)).toMatchObject({ authenticated: false, tenant: 'acme' });
  });

  it('streams large bodies to the stage', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024, 'x');
    const reply = await get('dev.echo.localhost', '/upload', { method: 'POST', body });
    expect(JSON.parse(reply.body)).toMatchObject({ method: 'POST', bodyBytes: body.length });
  });

  it('passes WebSocket upgrades through to the stage', async () => {
    const result = await webSocketEcho(address.port, 'dev.echo.localhost', ca.certPem, 'hello');
    expect(result.status).toBe('HTTP/1.1 101 Switching Protocols');
    expect(result.reply).toBe('echo: hello');
    // HAProxy passes header names in lower case (HTTP/1 names are case-insensitive).
    expect(result.headers.toLowerCase()).toContain('x-seen-forwarded-for: 127.0.0.1');
    const unknown = await webSocketEcho(address.port, 'dev.acme.localhost', ca.certPem, 'x').catch(
      (e: Error) => ({ status: e.message, headers: '', reply: '' }),
    );
    // The ledger does not speak WebSocket: whatever it answers, it is not a 101 from somewhere else.
    expect(unknown.status).not.toBe('HTTP/1.1 101 Switching Protocols');
  });

  it('refuses TLS 1.0 and 1.1 and weak ciphers; speaks TLS 1.3 and 1.2 with AEAD suites', async () => {
    const weakClient = { ciphers: 'DEFAULT@SECLEVEL=0' };
    // Control: these client settings do connect to a server that allows them, so a refusal below is the gateway's.
    const permissiveCert = await issueServerCertificate(ca, ['dev.acme.localhost']);
    const permissive = createTlsServer(
      {
        key: permissiveCert.keyPem,
        cert: permissiveCert.chainPem,
        minVersion: 'TLSv1',
        ciphers: 'ALL@SECLEVEL=0',
      },
      (socket) => socket.end(),
    );
    await new Promise<void>((r) => permissive.listen(0, '127.0.0.1', r));
    const permissivePort = (permissive.address() as { port: number }).port;
    try {
      for (const settings of [
        { ...weakClient, minVersion: 'TLSv1', maxVersion: 'TLSv1' },
        { ...weakClient, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' },
        { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA@SECLEVEL=0' },
      ] as const) {
        expect((await handshake(permissivePort, settings, ca.certPem, 'dev.acme.localhost')).ok).toBe(true);
      }
    } finally {
      permissive.close();
    }

    const host = 'dev.acme.localhost';
    expect(
      (
        await handshake(
          address.port,
          { ...weakClient, minVersion: 'TLSv1', maxVersion: 'TLSv1' },
          ca.certPem,
          host,
        )
      ).ok,
    ).toBe(false);
    expect(
      (
        await handshake(
          address.port,
          { ...weakClient, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' },
          ca.certPem,
          host,
        )
      ).ok,
    ).toBe(false);
    for (const cipher of [
      'AES128-SHA',
      'AES256-GCM-SHA384',
      'ECDHE-ECDSA-AES128-SHA',
      'ECDHE-ECDSA-AES256-SHA384',
    ]) {
      const result = await handshake(
        address.port,
        { maxVersion: 'TLSv1.2', ciphers: `${cipher}@SECLEVEL=0` },
        ca.certPem,
        host,
      );
      expect(result.ok, cipher).toBe(false);
    }
    const modern = await handshake(address.port, {}, ca.certPem, host);
    expect(modern).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
    const tls12 = await handshake(
      address.port,
      { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
      ca.certPem,
      host,
    );
    expect(tls12).toMatchObject({ ok: true, protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
  });

  it('answers plain HTTP only with a redirect to HTTPS', async () => {
    const reply = await httpFetch(address.httpPort, 'dev.acme.localhost', '/api/me?x=1');
    // The Node gateway answered 308; HAProxy's config (dp-edge) says 301. Either is a redirect only.
    expect([301, 308]).toContain(reply.status);
    expect(reply.headers.location).toBe(`https://dev.acme.localhost:${address.port}/api/me?x=1`);
    const post = await httpFetch(address.httpPort, 'DEV.ACME.LOCALHOST:80', '/');
    // The same host (names are case-insensitive; the Node gateway lower-cased it, HAProxy keeps it).
    expect(post.headers.location?.toLowerCase()).toBe(`https://dev.acme.localhost:${address.port}/`);
  });

  it('shows a branded page with a request id when the stage is down', async () => {
    const reply = await get('test.echo.localhost', '/anything');
    // HAProxy answers a refused connection to every instance with 503 (the Node gateway said 502).
    expect([502, 503]).toContain(reply.status);
    expect(reply.headers['content-type']).toMatch(/^text\/html/);
    expect(String(reply.headers['x-request-id'])).toMatch(/\S{8,}/);
    expect(reply.body).toContain('Steward');
    expect(reply.body).not.toContain('echo');
  });

  it('shows the maintenance page and applies allow lists, within a second of the change', async () => {
    const url = '/api/v1/tenants/acme/stages/dev/gateway';
    let res = await t.request('PATCH', url, { maintenance: true });
    expect(res.status, res.text).toBe(200);
    await within(
      1000,
      async () => (await get('dev.acme.localhost', '/api/me')).status === 503,
      'maintenance on',
    );
    const page = await get('dev.acme.localhost', '/api/me');
    expect(page.body).toContain('maintenance');
    expect(page.headers['retry-after']).toBeDefined();
    expect((await get('prod.acme.localhost', '/api/me')).status).toBe(200);
    res = await t.request('PATCH', url, { maintenance: false });
    await within(
      1000,
      async () => (await get('dev.acme.localhost', '/api/me')).status === 200,
      'maintenance off',
    );

    res = await t.request('PATCH', url, { allowFrom: ['10.0.0.0/8', '2001:db8::/32'] });
    expect(res.body).toMatchObject({ allowFrom: ['10.0.0.0/8', '2001:db8::/32'], maintenance: false });
    await within(1000, async () => (await get('dev.acme.localhost', '/api/me')).status === 403, 'allow list');
    res = await t.request('PATCH', url, { allowFrom: ['10.0.0.0/8', '127.0.0.1'] });
    await within(1000, async () => (await get('dev.acme.localhost', '/api/me')).status === 200, 'allowed');
    res = await t.request('PATCH', url, { allowFrom: null });
    expect(res.body.allowFrom).toBeNull();

    const bad = await t.request('PATCH', url, { allowFrom: ['10.0.0.0/33'] });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('10.0.0.0/33');
    expect((await t.request('PATCH', url, { allowFrom: [] })).status).toBe(400);
    expect(
      (await t.request('PATCH', '/api/v1/tenants/acme/stages/nope/gateway', { maintenance: true })).status,
    ).toBe(404);
    const audit = await t.request('GET', '/api/v1/audit?action=stage.gateway.configure');
    expect(audit.text).toContain('stage.gateway.configure');
  });

  it('serves custom domains, with a certificate from the CA for a routed domain', async () => {
    const res = await t.request('PUT', '/api/v1/tenants/acme/stages/prod/domains/Ledger.Acme-Corp.test');
    expect(res.status, res.text).toBe(200);
    expect(res.body.domains).toEqual(['ledger.acme-corp.test']);
    await within(
      1000,
      async () => (await get('ledger.acme-corp.test', '/api/me')).status === 200,
      'custom domain',
    );
    expect(JSON.parse((await get('ledger.acme-corp.test', '/api/me')).body)).toMatchObject({
      tenant: 'acme',
      stage: 'prod',
    });
    // Another stage cannot take it, and names under the base domain are Steward's.
    expect(
      (await t.request('PUT', '/api/v1/tenants/globex/stages/dev/domains/ledger.acme-corp.test')).status,
    ).toBe(409);
    expect(
      (await t.request('PUT', '/api/v1/tenants/globex/stages/dev/domains/dev.acme.localhost')).status,
    ).toBe(400);
  });

  it("installs an operator's certificate (exact and wildcard), checks it, and hot-reloads it", async () => {
    const operatorCa = await createCa('Operator CA');
    const exact = await issueServerCertificate(operatorCa, ['ledger.acme-corp.test']);
    const res = await t.request('PUT', '/api/v1/certificates/ledger.acme-corp.test', {
      cert: exact.chainPem,
      key: exact.keyPem,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ domain: 'ledger.acme-corp.test', names: ['ledger.acme-corp.test'] });
    const served = async (host: string, issuer: string): Promise<boolean> => {
      const reply = await get(host, '/api/me', { ca: [operatorCa.certPem, ca.certPem] });
      return reply.status === 200 && reply.issuer === issuer;
    };
    await within(1000, () => served('ledger.acme-corp.test', 'Operator CA'), 'operator certificate');

    // The key is kept sealed in the secrets store, never in the certificates table.
    const rows = await control('select key_secret, cert_pem from tls_certificates');
    expect(JSON.stringify(rows)).not.toContain('PRIVATE KEY');
    const secrets = await control('select ciphertext from secrets where name = $1', [
      'tls-key/ledger.acme-corp.test',
    ]);
    expect(secrets).toHaveLength(1);

    // A wildcard covers one label.
    expect((await t.request('PUT', '/api/v1/tenants/acme/stages/dev/domains/app.example.org')).status).toBe(
      200,
    );
    const wildcard = await issueServerCertificate(operatorCa, ['*.example.org']);
    expect(
      (
        await t.request('PUT', '/api/v1/certificates/*.example.org', {
          cert: wildcard.chainPem,
          key: wildcard.keyPem,
        })
      ).status,
    ).toBe(200);
    await within(1000, () => served('app.example.org', 'Operator CA'), 'wildcard certificate');

    // Replacing a certificate takes effect at once (a new CA proves it is the new one).
    const otherCa = await createCa('Renewed CA');
    const renewed = await issueServerCertificate(otherCa, ['ledger.acme-corp.test']);
    await t.request('PUT', '/api/v1/certificates/ledger.acme-corp.test', {
      cert: renewed.chainPem,
      key: renewed.keyPem,
    });
    await within(
      1000,
      async () =>
        (await get('ledger.acme-corp.test', '/api/me', { ca: [otherCa.certPem] })).issuer === 'Renewed CA',
      'renewed certificate',
    );

    // Checked before it is stored: the key must match, the domain must be named.
    const mismatch = await t.request('PUT', '/api/v1/certificates/ledger.acme-corp.test', {
      cert: exact.chainPem,
      key: wildcard.keyPem,
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.message).toContain('key does not belong');
    const wrongName = await t.request('PUT', '/api/v1/certificates/shop.example.com', {
      cert: exact.chainPem,
      key: exact.keyPem,
    });
    expect(wrongName.status).toBe(400);
    expect(wrongName.body.message).toContain('not for');
    const list = await t.request('GET', '/api/v1/certificates');
    expect(list.body.certificates.map((c: { domain: string }) => c.domain)).toEqual([
      '*.example.org',
      'ledger.acme-corp.test',
    ]);
  });

  it('applies route changes within a second: a new tenant deployed, a stage removed', async () => {
    expect((await t.request('POST', '/api/v1/tenants', { slug: 'initech', stages: ['dev'] })).status).toBe(
      201,
    );
    await t.waitForStages('initech', 'ready', 60_000);
    await deploy('initech', 'dev');
    // A second is the aim; a busy CI machine gets three (the measured values are printed).
    const appeared = await within(
      3000,
      async () => (await get('dev.initech.localhost', '/api/me')).status === 200,
      'new tenant',
    );
    console.log(`deployed tenant to its first routed request: ${appeared} ms`);
    expect(appeared).toBeLessThan(3000);

    const removed = await t.request('DELETE', '/api/v1/tenants/globex/stages/dev');
    expect(removed.status, removed.text).toBe(202);
    const gone = await within(
      3000,
      async () => (await get('dev.globex.localhost', '/', { rejectUnauthorized: false })).status === 404,
      'removed stage',
    );
    console.log(`stage removal to 404: ${gone} ms`);
    expect(gone).toBeLessThan(3000);
  }, 180_000);

  it('listens again when its notification session dies, and catches up on what it missed', async () => {
    const killed = await t.query<{ pid: number }>(
      `select pg_terminate_backend(pid), pid from pg_stat_activity
        where datname = $1 and query = 'listen steward_routes'`,
      [t.controlDatabase],
    );
    expect(killed.length).toBe(1);
    const url = '/api/v1/tenants/acme/stages/prod/gateway';
    expect((await t.request('PATCH', url, { maintenance: true })).status).toBe(200);
    await within(3000, async () => (await get('acme.localhost', '/api/me')).status === 503, 'after relisten');
    await within(
      3000,
      async () =>
        (
          await t.query(
            `select 1 from pg_stat_activity where datname = $1 and query = 'listen steward_routes'`,
            [t.controlDatabase],
          )
        ).length === 1,
      'listening again',
    );
    await t.request('PATCH', url, { maintenance: false });
    await within(1000, async () => (await get('acme.localhost', '/api/me')).status === 200, 'notified again');
  });

  it('runs as several `steward up --role gateway` processes on the same control database, each routing the console host to the API', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STEWARD_DATABASE_URL: t.controlUrl,
      STEWARD_DATABASE_ADMIN_URL: replaceDatabase(t.superuserUrl, t.controlDatabase),
      STEWARD_SHARED_CLUSTER_URL: t.superuserUrl,
      HOME: t.dataDir,
    };
    // Each gateway is a node of its own: its own data dir (its HAProxy's files), the same master key.
    const dirs = await Promise.all([0, 1].map(() => mkdtemp(join(tmpdir(), 'st-gw-'))));
    gatewayDirs.push(...dirs);
    for (const dir of dirs) await copyFile(join(t.dataDir, 'master.key'), join(dir, 'master.key'));
    const consoleUrls: string[] = [];
    const ports = await Promise.all(
      dirs.map(
        (dir) =>
          new Promise<number>((resolvePort, reject) => {
            const child = spawn(
              stewardBin,
              [
                '--data-dir',
                dir,
                '-o',
                'json',
                'up',
                '--role',
                'gateway',
                '--gateway-port',
                '0',
                '--gateway-http-port',
                '0',
              ],
              { env, stdio: ['ignore', 'pipe', 'pipe'] },
            );
            children.push(child);
            let out = '';
            let err = '';
            child.stdout?.on('data', (c: Buffer) => {
              out += c.toString();
              const match = /"gatewayUrl": "https:\/\/[^:]+:(\d+)",\s+"consoleUrl": "([^"]*)"/.exec(out);
              if (match) {
                consoleUrls.push(match[2] ?? '');
                resolvePort(Number(match[1]));
              }
            });
            child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
            child.on('exit', (code) => reject(new Error(`gateway exited ${code}: ${out}\n${err}`)));
          }),
      ),
    );
    // Its console is its own data plane's console host.
    expect(consoleUrls.sort()).toEqual(ports.map((port) => `https://console.localhost:${port}/`).sort());
    for (const port of ports) {
      const reply = await httpsFetch({ port, host: 'dev.acme.localhost', path: '/api/me', ca: ca.certPem });
      expect(JSON.parse(reply.body)).toMatchObject({ tenant: 'acme', stage: 'dev' });
      // No API runs on a gateway: its console host goes to the API node's, found in the nodes table.
      // Within a pass of its follower (every 2 s) at worst.
      await within(
        5000,
        async () =>
          JSON.parse(
            (await httpsFetch({ port, host: 'console.localhost', path: '/api/v1/health', ca: ca.certPem }))
              .body,
          ).status === 'ok',
        `the console host through the gateway on ${port}`,
      );
      const session = await httpsFetch({
        port,
        host: 'console.localhost',
        path: '/api/v1/console/session',
        ca: ca.certPem,
      });
      expect(session.status).toBe(401);
    }
    // With the API node's edge key (published in the secrets store), so the API takes the browser's address from them.
    const key = (await readFile(join(t.dataDir, 'console-edge.key'), 'utf8')).trim();
    for (const dir of dirs) {
      const config = await readFile(join(dir, 'dataplane-gateway', 'haproxy.cfg'), 'utf8');
      expect(config).toContain(`X-Steward-Edge ${key}`);
    }
    expect(
      (await t.request('PUT', '/api/v1/tenants/initech/stages/dev/domains/books.initech.test')).status,
    ).toBe(200);
    for (const port of ports) {
      await within(
        1000,
        async () =>
          JSON.parse(
            (await httpsFetch({ port, host: 'books.initech.test', path: '/api/me', ca: ca.certPem })).body,
          ).tenant === 'initech',
        `gateway on ${port}`,
      );
    }
  }, 120_000);
});
