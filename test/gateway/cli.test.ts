import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaproxyStageEndpoints } from '../../src/dataplane/endpoints.ts';
import { RuntimeApi } from '../../src/dataplane/runtime-api.ts';
import { freePort } from '../../src/system/ports.ts';
import { createCa, issueServerCertificate } from '../../src/tls/ca.ts';
import {
  cleanUp,
  cli,
  cliJson,
  makeDataDir,
  spawnUp,
  superuser,
  waitForOutput,
  type UpProcess,
} from '../cli/process.ts';
import { startEchoBackend, httpsFetch, within } from './support.ts';

/**
 * `steward up` runs the gateway by default and prints its URL; the gateway's
 * commands (route list, stage set --allow-from/--maintenance, cert set,
 * domain add) work through the real CLI process.
 */
describe('the gateway in steward up, and its CLI', () => {
  let dataDir: string;
  let up: UpProcess;
  let port: number;
  let caPem: string;
  let echo: Awaited<ReturnType<typeof startEchoBackend>>;

  beforeAll(async () => {
    dataDir = await makeDataDir();
    up = spawnUp(dataDir);
    const out = await waitForOutput(up, 'Press Ctrl-C to stop.');
    const match = /Gateway:\s+https:\/\/localhost:(\d+)/.exec(out);
    expect(match, out).not.toBeNull();
    port = Number(match?.[1]);
    caPem = await readFile(join(dataDir, 'ca.pem'), 'utf8');
    echo = await startEchoBackend();
  }, 180_000);

  afterAll(async () => {
    await echo?.close();
    await cleanUp(dataDir, up);
  }, 120_000);

  it('lists routes, sets allow lists and maintenance, installs a certificate and a domain', async () => {
    const created = await cli(dataDir, ['tenant', 'create', 'shop', '--stages', 'dev,prod']);
    expect(created.code, created.stderr).toBe(0);
    // No app is deployed: the stage is published, and a test server is its instance in HAProxy,
    // added through the running HAProxy's runtime API as the runtime adds an app's.
    const db = await superuser(dataDir, 'steward');
    let stageId: string;
    const publishedPort = await freePort(0);
    try {
      const updated = await db.query<{ id: string }>(
        `update stages set published_port = $1 where name = 'prod' and tenant_id = (select id from tenants where slug = 'shop') returning id`,
        [publishedPort],
      );
      stageId = String(updated.rows[0]?.id);
    } finally {
      await db.end();
    }
    const endpoints = new HaproxyStageEndpoints({
      api: new RuntimeApi(join(dataDir, 'dataplane', 'admin.sock')),
    });
    await within(
      5000,
      () =>
        endpoints
          .serve({ id: stageId, tenant: 'shop', name: 'prod', publishedPort }, [echo.port])
          .then(() => true),
      'the stage backend',
    );
    const get = (host: string) => httpsFetch({ port, host, path: '/hello', ca: caPem });
    await within(1000, async () => (await get('shop.localhost')).status === 200, 'prod alias');

    const listed = await cliJson<{ baseDomain: string; routes: { host: string; port: number }[] }>(dataDir, [
      'route',
      'list',
    ]);
    expect(listed.baseDomain).toBe('localhost');
    expect(listed.routes).toEqual([
      expect.objectContaining({
        host: 'prod.shop.localhost',
        kind: 'stage',
        tenant: 'shop',
        port: publishedPort,
      }),
      expect.objectContaining({ host: 'shop.localhost', kind: 'prod', stage: 'prod' }),
    ]);
    const table = await cli(dataDir, ['route', 'list']);
    expect(table.stdout).toMatch(/HOST\s+TENANT\s+STAGE\s+PORT/);

    const maintenance = await cli(dataDir, ['stage', 'set', 'shop', 'prod', '--maintenance', 'on']);
    expect(maintenance.code, maintenance.stderr).toBe(0);
    expect(maintenance.stdout).toContain('maintenance on');
    await within(1000, async () => (await get('shop.localhost')).status === 503, 'maintenance');
    await cli(dataDir, [
      'stage',
      'set',
      'shop',
      'prod',
      '--maintenance',
      'off',
      '--allow-from',
      '10.0.0.0/8',
    ]);
    await within(1000, async () => (await get('shop.localhost')).status === 403, 'allow list');
    const open = await cliJson<{ allowFrom: string[] | null }>(dataDir, [
      'stage',
      'set',
      'shop',
      'prod',
      '--allow-from',
      'any',
    ]);
    expect(open.allowFrom).toBeNull();
    await within(1000, async () => (await get('shop.localhost')).status === 200, 'open again');
    const bad = await cli(dataDir, ['stage', 'set', 'shop', 'prod', '--allow-from', '300.1.2.3/8']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('300.1.2.3/8');

    const domain = await cli(dataDir, ['domain', 'add', 'shop', 'prod', 'shop.example.com']);
    expect(domain.code, domain.stderr).toBe(0);
    const operatorCa = await createCa('Operator CA');
    const issued = await issueServerCertificate(operatorCa, ['shop.example.com']);
    await writeFile(join(dataDir, 'shop.pem'), issued.chainPem);
    await writeFile(join(dataDir, 'shop.key'), issued.keyPem, { mode: 0o600 });
    const installed = await cli(dataDir, [
      'cert',
      'set',
      'shop.example.com',
      '--cert',
      join(dataDir, 'shop.pem'),
      '--key',
      join(dataDir, 'shop.key'),
    ]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain('certificate for shop.example.com installed');
    await within(
      1000,
      async () =>
        (await httpsFetch({ port, host: 'shop.example.com', ca: operatorCa.certPem })).issuer ===
        'Operator CA',
      'operator certificate',
    );
    const wrongKey = await cli(dataDir, [
      'cert',
      'set',
      'other.example.com',
      '--cert',
      join(dataDir, 'shop.pem'),
      '--key',
      join(dataDir, 'shop.key'),
    ]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('not for "other.example.com"');
  }, 120_000);

  it('runs a second gateway with `up --role gateway` on the same data dir, beside the running Steward', async () => {
    // Its HAProxy reaches the stage through the first one's published port (fe_stages).
    // The default port is taken (by this holder, or by whoever has it already): the gateway moves to a free one.
    const holder = createNetServer();
    await new Promise<void>((resolveListen) => {
      holder.once('error', () => resolveListen());
      holder.listen(8443, '127.0.0.1', () => resolveListen());
    });
    const gatewayOnly = spawnUp(dataDir, ['-o', 'json'], {}, [
      '--role',
      'gateway',
      '--gateway-http-port',
      '0',
    ]);
    try {
      const out = await waitForOutput(gatewayOnly, '\n}\n', 60_000);
      const url = (JSON.parse(out) as { gatewayUrl: string }).gatewayUrl;
      const gatewayPort = Number(new URL(url).port);
      expect(gatewayPort).not.toBe(port);
      expect(gatewayPort).not.toBe(8443);
      const reply = await httpsFetch({
        port: gatewayPort,
        host: 'prod.shop.localhost',
        path: '/x',
        ca: caPem,
      });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toMatchObject({ url: '/x' });
    } finally {
      holder.close();
      gatewayOnly.child.kill('SIGTERM');
      await gatewayOnly.exited;
    }
  }, 120_000);

  it('a gateway elsewhere (its own data dir, STEWARD_DATABASE_URL) issues from the same CA, kept in the secrets store', async () => {
    const credentials = JSON.parse(await readFile(join(dataDir, 'pg-credentials.json'), 'utf8')) as {
      superuserPassword: string;
      appPassword: string;
    };
    const conf = await readFile(join(dataDir, 'pg', 'postgresql.auto.conf'), 'utf8');
    const pgPort = Number(/^port = (\d+)$/m.exec(conf)?.[1]);
    const superuserUrl = `postgres://postgres:${encodeURIComponent(credentials.superuserPassword)}@127.0.0.1:${pgPort}`;
    const elsewhere = await makeDataDir();
    const gatewayOnly = spawnUp(
      elsewhere,
      ['-o', 'json'],
      {
        STEWARD_DATABASE_URL: `postgres://steward_app:${encodeURIComponent(credentials.appPassword)}@127.0.0.1:${pgPort}/steward`,
        STEWARD_DATABASE_ADMIN_URL: `${superuserUrl}/steward`,
        STEWARD_SHARED_CLUSTER_URL: `${superuserUrl}/postgres`,
        STEWARD_MASTER_KEY: await readFile(join(dataDir, 'master.key'), 'utf8'),
      },
      ['--role', 'gateway', '--gateway-http-port', '0'],
    );
    try {
      const out = await waitForOutput(gatewayOnly, '\n}\n', 60_000);
      const gatewayPort = Number(new URL((JSON.parse(out) as { gatewayUrl: string }).gatewayUrl).port);
      expect(await readFile(join(elsewhere, 'ca.pem'), 'utf8')).not.toBe(caPem);
      // Verified against the first Steward's ca.pem, not the one this data dir made for itself.
      const reply = await httpsFetch({
        port: gatewayPort,
        host: 'prod.shop.localhost',
        path: '/y',
        ca: caPem,
      });
      expect(reply.status).toBe(200);
      expect(reply.issuer).toBe('Steward CA');
    } finally {
      await cleanUp(elsewhere, gatewayOnly);
    }
  }, 120_000);
});
