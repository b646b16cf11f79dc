import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, lstat, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableName } from '../../src/runtime/sandbox/index.ts';
import type { Attempt, Outcome } from '../fixtures/hostile/app.ts';
import { packRelease } from '../harness/ledger.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * A hostile app in stage alpha/dev tries, as its stage's uid, everything a
 * stage must not do: other stages' ports, the API, other clusters, Steward's
 * data dir, logs, releases and files, other processes' /proc, writes outside
 * its files. Every attempt must fail; its own database and the gateway work.
 */
const hostileDir = join(import.meta.dirname, '..', 'fixtures', 'hostile');
const psql = '/usr/lib/postgresql/15/bin/psql';

/** This machine's own addresses besides loopback: connections to them are local too. */
function ownAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && !i.internal && i.family === 'IPv4')
    .map((i) => i?.address ?? '');
}

function post(port: number, body: unknown): Promise<{ uid: number; outcomes: Outcome[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/attempt', method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(JSON.parse(text) as { uid: number; outcomes: Outcome[] }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('the stage sandbox holds against a hostile app', () => {
  let t: TestSteward;
  let work: string;

  async function upload(dir: string, version: string): Promise<{ status: number; body: any }> {
    const response = await t.api.inject({
      method: 'POST',
      url: `/api/v1/releases?version=${version}`,
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/gzip' },
      payload: packRelease(dir),
    });
    return { status: response.statusCode, body: JSON.parse(response.body) };
  }

  async function deploy(tenant: string, stage: string): Promise<void> {
    const started = await t.request('POST', `/api/v1/tenants/${tenant}/stages/${stage}/deployments`, {
      version: '1.0.0',
    });
    expect(started.status, started.text).toBe(202);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const res = await t.request('GET', `/api/v1/deployments/${started.body.id}`);
      if (res.body.status === 'active') return;
      if (res.body.status === 'failed' || Date.now() > deadline) throw new Error(res.text);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function web(
    tenant: string,
    stage: string,
  ): Promise<{ pid: number; port: number; published: number }> {
    const ps = await t.request('GET', `/api/v1/tenants/${tenant}/ps`);
    const view = ps.body.stages.find((s: any) => s.stage === stage);
    const process = view.processes.find((p: any) => p.process === 'web');
    return { pid: process.pid, port: process.port, published: Number(new URL(view.url).port) };
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'sandbox-test-'));
    t = await startTestSteward({ gateway: true, runtimeTickMs: 500 });
    for (const [slug, stages, tier] of [
      ['alpha', ['dev', 'prod'], 'shared'],
      ['beta', ['prod'], 'dedicated'],
    ] as const) {
      const created = await t.request('POST', '/api/v1/tenants', { slug, stages, tier });
      expect(created.status, created.text).toBe(201);
    }
    await t.waitForStages('alpha', 'ready', 60_000);
    await t.waitForStages('beta', 'ready', 90_000);
    expect((await upload(hostileDir, '1.0.0')).status).toBe(201);
    // A release no stage runs: nobody may read it.
    expect((await upload(hostileDir, '1.0.1')).status).toBe(201);
    await Promise.all([deploy('alpha', 'dev'), deploy('alpha', 'prod'), deploy('beta', 'prod')]);
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await rm(work, { recursive: true, force: true });
  }, 60_000);

  it('reports full isolation, in the API, in tenant show and as evidence', async () => {
    const isolation = await t.request('GET', '/api/v1/system/isolation');
    expect(isolation.body).toEqual({
      level: 'full',
      users: true,
      mounts: 'bubblewrap',
      network: 'nftables',
      reasons: [],
    });
    expect((await t.request('GET', '/api/v1/tenants/alpha')).body.isolation.level).toBe('full');
    const events = await t.request('GET', '/api/v1/audit?action=system.isolation');
    expect(events.body.events).toHaveLength(1);
    expect(events.body.events[0].details.level).toBe('full');
  });

  it('lets every attempt of the hostile stage fail, and its own database and the gateway work', async () => {
    const dataDir = t.dataDir;
    // Every tenant's access log would be here; whatever its mode, a stage must not see it.
    await writeFile(join(dataDir, 'steward.log'), "every tenant's access log\n", { mode: 0o644 });
    const attacker = await web('alpha', 'dev');
    const sibling = await web('alpha', 'prod');
    const other = await web('beta', 'prod');
    const own = (await t.request('GET', '/api/v1/tenants/alpha/stages/dev/credentials')).body;
    const siblingDb = (await t.request('GET', '/api/v1/tenants/alpha/stages/prod/credentials')).body;
    const otherDb = (await t.request('GET', '/api/v1/tenants/beta/stages/prod/credentials')).body;
    const tenants = {
      alpha: (await t.request('GET', '/api/v1/tenants/alpha')).body,
      beta: (await t.request('GET', '/api/v1/tenants/beta')).body,
    };
    const apiPort = (t.api.server.address() as { port: number }).port;
    const gatewayPort = t.steward.gatewayAddress?.port ?? 0;
    const hostService = createServer((socket) => socket.end()).listen(0, '0.0.0.0');
    await once(hostService, 'listening');
    const hostServicePort = (hostService.address() as AddressInfo).port;
    const marker = `/tmp/hostile-${randomBytes(4).toString('hex')}`;
    const asOwnRoleElsewhere = new URL(own.databaseUrl);
    asOwnRoleElsewhere.pathname = `/${siblingDb.database}`;
    const asSiblingRole = new URL(siblingDb.databaseUrl);
    asSiblingRole.password = 'guessed';

    const denied: Record<string, Attempt> = {
      "another stage's app port": { kind: 'tcp', port: sibling.port },
      "another tenant's app port": { kind: 'tcp', port: other.port },
      "another tenant's app port with a forged X-Steward-User-Id": {
        kind: 'http',
        port: other.port,
        headers: { 'x-steward-user-id': 'admin', 'x-steward-user-email': 'boss@beta.example' },
      },
      "another stage's stage proxy": { kind: 'tcp', port: sibling.published },
      "another tenant's stage proxy": { kind: 'tcp', port: other.published },
      'the API': { kind: 'tcp', port: apiPort },
      'the API as 0.0.0.0': { kind: 'tcp', port: apiPort, host: '0.0.0.0' },
      // A service of the machine listening on every address, reached by each of them.
      ...Object.fromEntries(
        ['127.0.0.1', '0.0.0.0', ...ownAddresses()].map((host) => [
          `a service of the machine at ${host}`,
          { kind: 'tcp', port: hostServicePort, host },
        ]),
      ),
      "another tenant's dedicated cluster": { kind: 'tcp', port: Number(new URL(otherDb.databaseUrl).port) },
      'its own role in another database': { kind: 'psql', psql, url: asOwnRoleElsewhere.toString() },
      "another stage's role": { kind: 'psql', psql, url: asSiblingRole.toString() },
      'master.key': { kind: 'read', path: join(dataDir, 'master.key') },
      'steward.log': { kind: 'read', path: join(dataDir, 'steward.log') },
      "another stage's log": { kind: 'read', path: join(dataDir, 'logs', 'alpha', 'prod', 'web-0.log') },
      "another tenant's log": { kind: 'read', path: join(dataDir, 'logs', 'beta', 'prod', 'web-0.log') },
      'its own log (Steward keeps it)': {
        kind: 'read',
        path: join(dataDir, 'logs', 'alpha', 'dev', 'web-0.log'),
      },
      'a release it does not run': {
        kind: 'read',
        path: join(dataDir, 'releases', 'hostile', '1.0.1', 'app.ts'),
      },
      "another stage's files": { kind: 'list', path: tenants.alpha.stages[1].filesDir },
      "another tenant's files": { kind: 'list', path: tenants.beta.stages[0].filesDir },
      "another process's environment": { kind: 'read', path: `/proc/${other.pid}/environ` },
      "another process's command line": { kind: 'read', path: `/proc/${sibling.pid}/cmdline` },
      'its own release': { kind: 'write', path: join(dataDir, 'releases', 'hostile', '1.0.0', 'pwned') },
      'the system': { kind: 'write', path: '/usr/local/pwned' },
    };
    const allowed: Record<string, Attempt> = {
      'its own database': { kind: 'psql', psql, url: own.databaseUrl },
      'the gateway': { kind: 'tls', port: gatewayPort, servername: 'dev.alpha.localhost' },
      'its own files': { kind: 'write', path: join(tenants.alpha.stages[0].filesDir, 'mine') },
      'its private /tmp': { kind: 'write', path: marker },
      'its own release (read)': {
        kind: 'read',
        path: join(dataDir, 'releases', 'hostile', '1.0.0', 'app.ts'),
      },
    };
    const names = [...Object.keys(denied), ...Object.keys(allowed)];
    const result = await post(attacker.port, [...Object.values(denied), ...Object.values(allowed)]).finally(
      () => hostService.close(),
    );
    const outcomes = Object.fromEntries(names.map((name, i) => [name, result.outcomes[i]]));
    const leaks = Object.keys(denied).filter((name) => outcomes[name]?.ok !== false);
    expect(leaks, JSON.stringify(outcomes, null, 2)).toEqual([]);
    const failures = Object.keys(allowed).filter((name) => outcomes[name]?.ok !== true);
    expect(failures, JSON.stringify(outcomes, null, 2)).toEqual([]);
    expect(outcomes['its own database']?.detail).toBe(own.user);
    // The stage's uid, its private /tmp (not the machine's), no process of any other stage in /proc.
    expect(result.uid).toBe(t.config.runtime.uidBase + Number(await stageId('alpha', 'dev')));
    expect(existsSync(marker)).toBe(false);
    // Of the data dir it sees only the directories that lead to its own release and files.
    const [dataDirList, releasesList] = (
      await post(attacker.port, [
        { kind: 'list', path: dataDir },
        { kind: 'list', path: join(dataDir, 'releases') },
      ])
    ).outcomes;
    expect(dataDirList?.detail.split(',').sort()).toEqual(['files', 'releases']);
    expect(releasesList?.detail).toBe('hostile');
    const proc = await post(attacker.port, [{ kind: 'list', path: '/proc' }]);
    const pids = (proc.outcomes[0]?.detail ?? '').split(',').filter((name) => /^\d+$/.test(name));
    expect(pids.length).toBeLessThan(10);
    expect(pids).not.toContain(String(other.pid));
  }, 60_000);

  async function stageId(tenant: string, stage: string): Promise<string> {
    const rows = await t.query<{ id: string }>(
      'select s.id from stages s join tenants t on t.id = s.tenant_id where t.slug = $1 and s.name = $2',
      [tenant, stage],
      t.controlDatabase,
    );
    return rows[0]?.id ?? '';
  }

  async function buildApp(name: string, build: string): Promise<string> {
    const dir = join(work, name);
    await cp(hostileDir, dir, { recursive: true });
    const yaml = await readFile(join(dir, 'steward.yaml'), 'utf8');
    await writeFile(
      join(dir, 'steward.yaml'),
      `${yaml.replace('name: hostile', `name: ${name}`)}build:\n  command: ${JSON.stringify(build)}\n`,
    );
    return dir;
  }

  it('builds as an unprivileged uid that can write only the release tree, and re-checks its links', async () => {
    const dataDir = t.dataDir;
    const steal = await upload(
      await buildApp('steal', `cat ${join(dataDir, 'master.key')} > stolen`),
      '1.0.0',
    );
    expect(steal.status).toBe(400);
    expect(steal.body.field).toBe('build.command');
    // Under /tmp (where tests keep their data dirs) a write lands in the build's private /tmp; elsewhere it fails.
    const outside = `/var/tmp/pwned-${randomBytes(4).toString('hex')}`;
    const escape = await upload(
      await buildApp('escape', `touch ${join(dataDir, 'pwned')} && touch ${outside}`),
      '1.0.0',
    );
    expect(escape.status).toBe(400);
    expect(escape.body.message).toContain(`cannot touch '${outside}'`);
    expect(existsSync(join(dataDir, 'pwned'))).toBe(false);
    expect(existsSync(outside)).toBe(false);
    const link = await upload(await buildApp('link', 'ln -s /etc/passwd leak'), '1.0.0');
    expect(link.status).toBe(400);
    expect(link.body.message).toContain('points outside the release');

    const good = await upload(
      await buildApp('good', 'id -u > built-by && mkdir -p out && echo ok > out/file'),
      '1.0.0',
    );
    expect(good.status, JSON.stringify(good.body)).toBe(201);
    const tree = join(dataDir, 'releases', 'good', '1.0.0');
    expect((await readFile(join(tree, 'built-by'), 'utf8')).trim()).toBe(String(t.config.runtime.uidBase));
    // Root's again after the build: the build uid cannot change a release later.
    for (const path of [tree, join(tree, 'built-by'), join(tree, 'out', 'file')]) {
      expect((await lstat(path)).uid).toBe(0);
    }
    expect((await stat(join(dataDir, 'releases'))).mode & 0o777).toBe(0o711);
  }, 120_000);

  it('removes its nftables table when Steward stops cleanly', async () => {
    const table = tableName(t.dataDir);
    expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).toContain(table);
    await t.steward.stop();
    expect(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })).not.toContain(table);
  });
});
