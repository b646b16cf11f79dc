import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantRateForTier } from '../../src/gateway/limits.ts';
import { createCa, issueServerCertificate, type CertificateAuthority } from '../../src/tls/ca.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { serveStageFrom } from './serve.ts';
import { loadLoop, until } from './support.ts';
import { httpsFetch, startEchoBackend, within, type RequestOptions } from '../gateway/support.ts';

/**
 * The data plane's controller in a real Steward, against the real HAProxy:
 * desired state (stages, hosts, custom domains, operators' certificates)
 * reaches HAProxy through the runtime API within a second, and only a new or
 * removed stage backend reloads it.
 */
let t: TestSteward;
let ca: CertificateAuthority;
let port: number;
const echoes: Awaited<ReturnType<typeof startEchoBackend>>[] = [];

const get = (host: string, path = '/', extra: Partial<RequestOptions> = {}) =>
  httpsFetch({ port, host, path, ca: ca.certPem, ...extra });

const publish = (tenant: string, stage: string, instance: number): Promise<void> =>
  serveStageFrom(t, tenant, stage, instance);

/** Reloads so far, once the pass in flight (if any) is done: a new worker serves just before its reload is counted. */
async function reloads(): Promise<number> {
  await t.steward.dataPlane?.refresh();
  return t.steward.dataPlane?.reloads ?? -1;
}

beforeAll(async () => {
  t = await startTestSteward({ gateway: true, workers: true });
  ca = { certPem: await readFile(join(t.dataDir, 'ca.pem'), 'utf8'), keyPem: '' };
  port = t.steward.gatewayAddress?.port ?? 0;
  for (let i = 0; i < 3; i++) echoes.push(await startEchoBackend());
  for (const [slug, stages] of [
    ['acme', ['dev', 'prod']],
    ['globex', ['dev']],
  ] as const) {
    const created = await t.request('POST', '/api/v1/tenants', { slug, stages });
    expect(created.status, created.text).toBe(201);
  }
  for (const slug of ['acme', 'globex']) await t.waitForStages(slug, 'ready', 60_000);
}, 120_000);

afterAll(async () => {
  await t?.close();
  for (const echo of echoes) await echo.close();
}, 60_000);

describe('the data plane controller', () => {
  it('keeps its files private under <dataDir>/dataplane and runs HAProxy detached', async () => {
    const dir = join(t.dataDir, 'dataplane');
    expect((await stat(dir)).mode & 0o777).toBe(0o711);
    expect((await stat(join(dir, 'certs'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'default.pem'))).mode & 0o777).toBe(0o600);
    const pid = Number((await readFile(join(dir, 'haproxy.pid'), 'utf8')).trim());
    expect(pid).toBe(t.steward.dataPlane?.haproxy.pid);
    // Its own session: a signal to Steward's process group does not reach it.
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
    expect(Number(fields[3])).toBe(pid);
  });

  it('routes a newly published stage, its prod alias, and a removed one, within a second and one reload each', async () => {
    const before = await reloads();
    const changed = Date.now();
    await publish('acme', 'dev', echoes[0]!.port);
    await publish('acme', 'prod', echoes[1]!.port);
    const first = await within(
      3000,
      async () =>
        (await get('dev.acme.localhost')).status === 200 && (await get('acme.localhost')).status === 200,
      'dev and prod',
    );
    console.log(`route change to first routed request (new backends, a reload): ${Date.now() - changed} ms`);
    expect(first).toBeLessThan(3000);
    for (const host of ['prod.acme.localhost', 'acme.localhost']) {
      const reply = await get(host, '/x?y=1');
      expect(reply.status, host).toBe(200);
      expect(JSON.parse(reply.body)).toMatchObject({ url: '/x?y=1' });
      // The certificate comes from Steward's CA, issued ahead for the tenant's hosts.
      expect(reply.issuer).toBe('Steward CA');
    }
    // Two new stage backends: a reload each at most (one when both land in one pass).
    expect((await reloads()) - before).toBeGreaterThanOrEqual(1);
    expect((await reloads()) - before).toBeLessThanOrEqual(2);
    // Each tenant's rate at the edge, by its tier, in the tenant map HAProxy reads.
    const dataPlane = t.steward.dataPlane;
    const rates = await dataPlane?.haproxy.api.showMap(dataPlane.files.tenantLimits);
    expect(rates).toContainEqual({
      key: 'acme',
      value: String(tenantRateForTier(t.config.gateway.limits, 'shared')),
    });
    const metrics = await t.request('GET', '/metrics');
    expect(metrics.text).toMatch(/steward_dataplane_reloads_total \d+/);

    // A stage that goes away: no route, one reload for its backend.
    await publish('globex', 'dev', echoes[2]!.port);
    await within(3000, async () => (await get('dev.globex.localhost')).status === 200, 'globex');
    const beforeRemoval = await reloads();
    const removed = await t.request('DELETE', '/api/v1/tenants/globex/stages/dev');
    expect(removed.status, removed.text).toBe(202);
    const gone = await within(
      3000,
      async () => (await get('dev.globex.localhost', '/', { rejectUnauthorized: false })).status === 404,
      'removed stage',
    );
    console.log(`stage removal to 404: ${gone} ms`);
    expect(await reloads()).toBe(beforeRemoval + 1);
  });

  it('routes a custom domain and hot-swaps operators certificates without a reload', async () => {
    const before = await reloads();
    const added = Date.now();
    const res = await t.request('PUT', '/api/v1/tenants/acme/stages/prod/domains/Ledger.Acme-Corp.test');
    expect(res.status, res.text).toBe(200);
    await within(
      3000,
      async () => (await get('ledger.acme-corp.test')).status === 200,
      'custom domain route',
    );
    console.log(`custom domain to first routed request (runtime API, no reload): ${Date.now() - added} ms`);
    expect((await get('ledger.acme-corp.test')).issuer).toBe('Steward CA');

    const operatorCa = await createCa('Operator CA');
    const exact = await issueServerCertificate(operatorCa, ['ledger.acme-corp.test']);
    const put = await t.request('PUT', '/api/v1/certificates/ledger.acme-corp.test', {
      cert: exact.chainPem,
      key: exact.keyPem,
    });
    expect(put.status, put.text).toBe(200);
    const served = async (host: string, issuer: string, trusted: string[]): Promise<boolean> => {
      const reply = await get(host, '/', { ca: trusted });
      return reply.status === 200 && reply.issuer === issuer;
    };
    await within(
      3000,
      () => served('ledger.acme-corp.test', 'Operator CA', [operatorCa.certPem]),
      'operator certificate',
    );

    // A wildcard covers the custom domains one label below it.
    expect((await t.request('PUT', '/api/v1/tenants/acme/stages/dev/domains/app.example.org')).status).toBe(
      200,
    );
    await within(3000, () => served('app.example.org', 'Steward CA', [ca.certPem]), 'issued for app');
    const wildcard = await issueServerCertificate(operatorCa, ['*.example.org']);
    const wildcardPut = await t.request('PUT', '/api/v1/certificates/*.example.org', {
      cert: wildcard.chainPem,
      key: wildcard.keyPem,
    });
    expect(wildcardPut.status, wildcardPut.text).toBe(200);
    await within(
      3000,
      () => served('app.example.org', 'Operator CA', [operatorCa.certPem]),
      'wildcard certificate',
    );

    // Replaced: served from the next handshake on.
    const renewedCa = await createCa('Renewed CA');
    const renewed = await issueServerCertificate(renewedCa, ['ledger.acme-corp.test']);
    await t.request('PUT', '/api/v1/certificates/ledger.acme-corp.test', {
      cert: renewed.chainPem,
      key: renewed.keyPem,
    });
    await within(
      3000,
      () => served('ledger.acme-corp.test', 'Renewed CA', [renewedCa.certPem]),
      'renewed certificate',
    );
    // Removed: Steward's CA serves the domain again.
    expect((await t.request('DELETE', '/api/v1/certificates/ledger.acme-corp.test')).status).toBe(200);
    await within(3000, () => served('ledger.acme-corp.test', 'Steward CA', [ca.certPem]), 'back to the CA');

    // A route that changes stage: the domain moves from acme/prod to acme/dev.
    const stageOf = async (host: string): Promise<string> =>
      String(
        (JSON.parse((await get(host)).body) as { headers: Record<string, string> }).headers[
          'x-steward-stage'
        ],
      );
    const dev = await stageOf('dev.acme.localhost');
    expect(await stageOf('ledger.acme-corp.test')).toBe(await stageOf('acme.localhost'));
    const moved = Date.now();
    await t.request('DELETE', '/api/v1/tenants/acme/stages/prod/domains/ledger.acme-corp.test');
    await t.request('PUT', '/api/v1/tenants/acme/stages/dev/domains/ledger.acme-corp.test');
    await within(3000, async () => (await stageOf('ledger.acme-corp.test')) === dev, 'moved to dev');
    console.log(`custom domain moved to another stage to its first request there: ${Date.now() - moved} ms`);
    expect(await reloads()).toBe(before);

    // The files behind them are root's alone.
    const certs = join(t.dataDir, 'dataplane', 'certs');
    expect((await stat(join(certs, 'op-_wildcard.example.org.pem'))).mode & 0o777).toBe(0o600);
    // Nothing secret went into HAProxy's log or Steward's.
    expect(t.logs()).not.toContain('PRIVATE KEY');
  });

  it('puts a stage in maintenance and applies its allow list through the runtime API, without a reload', async () => {
    const before = await reloads();
    const url = '/api/v1/tenants/acme/stages/dev/gateway';
    const status = async () => (await get('dev.acme.localhost')).status;
    const changed = Date.now();
    expect((await t.request('PATCH', url, { maintenance: true })).status).toBe(200);
    await within(3000, async () => (await status()) === 503, 'maintenance on');
    console.log(`maintenance on to the maintenance page: ${Date.now() - changed} ms`);
    const page = await get('dev.acme.localhost');
    expect(page.body).toContain('maintenance');
    expect(page.headers['retry-after']).toBeDefined();
    // The tenant's other stage is not in maintenance.
    expect((await get('acme.localhost')).status).toBe(200);
    expect((await t.request('PATCH', url, { maintenance: false })).status).toBe(200);
    await within(3000, async () => (await status()) === 200, 'maintenance off');

    expect((await t.request('PATCH', url, { allowFrom: ['10.0.0.0/8', '2001:db8::/32'] })).status).toBe(200);
    await within(3000, async () => (await status()) === 403, 'allow list without us');
    expect((await t.request('PATCH', url, { allowFrom: ['10.0.0.0/8', '127.0.0.1'] })).status).toBe(200);
    await within(3000, async () => (await status()) === 200, 'allow list with us');
    expect((await t.request('PATCH', url, { allowFrom: ['10.0.0.0/8'] })).status).toBe(200);
    await within(3000, async () => (await status()) === 403, 'allow list without us again');
    expect((await t.request('PATCH', url, { allowFrom: null })).status).toBe(200);
    await within(3000, async () => (await status()) === 200, 'everyone again');
    expect(await reloads()).toBe(before);
  });

  it('reloads for a new stage backend without failing a request of another stage (new and kept-alive connections)', async () => {
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'initech', stages: ['dev'] });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('initech', 'ready', 60_000);
    const before = await reloads();
    const load = loadLoop(port, 'dev.acme.localhost', { keepAlive: true });
    try {
      await until('load', () => load.total() > 20);
      await publish('initech', 'dev', echoes[2]!.port);
      await within(3000, async () => (await get('dev.initech.localhost')).status === 200, 'initech');
      const after = load.total();
      await until('more load', () => load.total() > after + 50);
    } finally {
      await load.stop();
    }
    console.log(`reload under load: ${load.total()} requests, ${load.failures.length} failed`);
    expect(await reloads()).toBe(before + 1);
    expect(load.failures).toEqual([]);
  });

  it("routes status.<base> and every host's /.steward/ to Steward's own pages", async () => {
    const status = await get('status.localhost', '/');
    expect(status.status, status.body).toBe(200);
    expect(status.headers['content-type']).toMatch(/^text\/html/);
    expect(status.issuer).toBe('Steward CA');
    const own = await get('acme.localhost', '/.steward/nothing-here');
    expect(own.status).toBe(404);
    expect(own.body).toBe('404 Not found\n');
  });

  it('starts HAProxy again when it is gone, with the stages it served', async () => {
    const dataPlane = t.steward.dataPlane;
    const pid = dataPlane?.haproxy.pid ?? 0;
    expect((await get('dev.acme.localhost')).status).toBe(200);
    const killed = Date.now();
    process.kill(pid, 'SIGKILL');
    await within(10_000, () => Promise.resolve(!existsSync(`/proc/${pid}`)), 'the master gone');
    await dataPlane?.refresh();
    await within(10_000, async () => (await get('dev.acme.localhost')).status === 200, 'serving again');
    console.log(`HAProxy killed (-9) to serving again: ${Date.now() - killed} ms`);
    expect(dataPlane?.haproxy.pid).not.toBe(pid);
    expect(dataPlane?.restarts).toBe(1);
    // The custom domain and its certificate came back with it.
    expect((await get('ledger.acme-corp.test')).issuer).toBe('Steward CA');
  });

  it('sends an unknown host nowhere and names no tenant', async () => {
    const reply = await get('nope.localhost', '/', { rejectUnauthorized: false });
    expect(reply.status).toBe(404);
    expect(reply.body).not.toMatch(/acme|globex/);
  });
});
