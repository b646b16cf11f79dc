import { readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { ledgerDir, ledgerVariant, packRelease } from '../harness/ledger.ts';

const ledger = ledgerDir;
const pack = packRelease;
const variant = ledgerVariant;

const agent = new Agent({ keepAlive: true, maxSockets: 16 });
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', () => resolve({ status: -1, body: '' }));
    });
    req.on('error', (error) => resolve({ status: -1, body: error.message }));
    req.end();
  });
}

/** Steady requests from `workers` loops until stopped; returns the statuses seen. */
function load(url: string, workers = 6): { stop(): Promise<number[]> } {
  let running = true;
  const statuses: number[] = [];
  const loops = Array.from({ length: workers }, async () => {
    while (running) statuses.push((await get(url)).status);
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return statuses;
    },
  };
}

describe('deploy, promote and rollback with zero downtime', () => {
  let t: TestSteward;
  let url: string;

  async function deploy(stage: string, version: string): Promise<any> {
    const started = await t.request('POST', `/api/v1/tenants/acme/stages/${stage}/deployments`, { version });
    expect(started.status, started.text).toBe(202);
    return waitDeployment(started.body.id);
  }

  async function waitDeployment(id: string): Promise<any> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const res = await t.request('GET', `/api/v1/deployments/${id}`);
      if (['active', 'failed'].includes(res.body.status)) return res.body;
      if (Date.now() > deadline) throw new Error(`deployment ${id} stuck: ${res.text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function upload(dir: string, version: string): Promise<void> {
    const response = await t.api.inject({
      method: 'POST',
      url: `/api/v1/releases?version=${version}`,
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/gzip' },
      payload: pack(dir),
    });
    expect(response.statusCode, response.body).toBe(201);
  }

  beforeAll(async () => {
    t = await startTestSteward({ runtimeTickMs: 500 });
    await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['dev', 'test'] });
    await t.waitForStages('acme');
    await upload(ledger, '1.0.0');
    const v101 = await variant((y) => y.replace('LEDGER_CURRENCY: EUR', 'LEDGER_CURRENCY: CHF'));
    await upload(v101, '1.0.1');
    const broken = await variant((y) =>
      y.replace('command: node src/migrate.ts', 'command: node -e "process.exit(3)"'),
    );
    await upload(broken, '1.0.2');
    await rm(v101, { recursive: true });
    await rm(broken, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await t?.close();
  });

  it('deploys a release: migrated, started under the stage user, healthy, published', async () => {
    const deployment = await deploy('dev', '1.0.0');
    expect(deployment.status, deployment.reason).toBe('active');
    const ps = await t.request('GET', '/api/v1/tenants/acme/ps');
    const dev = ps.body.stages.find((s: any) => s.stage === 'dev');
    expect(dev.release).toBe('1.0.0');
    expect(dev.processes.map((p: any) => p.process).sort()).toEqual(['web', 'worker']);
    url = dev.url;
    const health = await get(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body).release).toBe('1.0.0');
    const web = dev.processes.find((p: any) => p.process === 'web');
    const status = await readFile(`/proc/${web.pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
    if (process.getuid?.() === 0) expect(uid).toBeGreaterThanOrEqual(200_000);
    const migrated = await t.query(
      'select count(*)::int as n from ledger_migrations',
      [],
      await t.database('acme', 'dev'),
    );
    expect(migrated[0]?.n).toBeGreaterThan(0);
  }, 120_000);

  it('hands over to a new release under steady load without one failed request', async () => {
    const traffic = load(`${url}/api/invoices`);
    await new Promise((r) => setTimeout(r, 300));
    const deployment = await deploy('dev', '1.0.1');
    await new Promise((r) => setTimeout(r, 300));
    const statuses = await traffic.stop();
    expect(deployment.status).toBe('active');
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(JSON.parse((await get(`${url}/healthz`)).body).release).toBe('1.0.1');
    const ps = await t.request('GET', '/api/v1/tenants/acme/ps');
    const dev = ps.body.stages.find((s: any) => s.stage === 'dev');
    expect(new Set(dev.processes.map((p: any) => p.release))).toEqual(new Set(['1.0.1']));
  }, 120_000);

  it('rolls back to the previous release, also without failed requests', async () => {
    const traffic = load(`${url}/api/invoices`);
    const started = await t.request('POST', '/api/v1/tenants/acme/stages/dev/rollback');
    expect(started.status, started.text).toBe(202);
    const deployment = await waitDeployment(started.body.id);
    const statuses = await traffic.stop();
    expect(deployment.status).toBe('active');
    expect(deployment.version).toBe('1.0.0');
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  }, 120_000);

  it('promotes what runs in dev to test', async () => {
    const started = await t.request('POST', '/api/v1/tenants/acme/promote', { from: 'dev', to: 'test' });
    expect(started.status, started.text).toBe(202);
    const deployment = await waitDeployment(started.body.id);
    expect(deployment).toMatchObject({ status: 'active', stage: 'test', version: '1.0.0' });
  }, 120_000);

  it('aborts a deploy whose migration fails and keeps the old release serving', async () => {
    const deployment = await deploy('dev', '1.0.2');
    expect(deployment.status).toBe('failed');
    expect(deployment.reason).toMatch(/migration failed: exit 3/);
    const health = await get(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body).release).toBe('1.0.0');
    const audit = await t.request('GET', '/api/v1/audit?action=stage.deploy.failed');
    expect(audit.body.events).toHaveLength(1);
  }, 120_000);

  it('restarts a killed web process and serves again', async () => {
    const ps = await t.request('GET', '/api/v1/tenants/acme/ps');
    const web = ps.body.stages
      .find((s: any) => s.stage === 'dev')
      .processes.find((p: any) => p.process === 'web');
    process.kill(web.pid, 'SIGKILL');
    // The pid is the sandbox's first process: its group (the app) is killed with it, and then restarted.
    const deadline = Date.now() + 20_000;
    let ok = false;
    let again: any;
    while (!ok && Date.now() < deadline) {
      const after = await t.request('GET', '/api/v1/tenants/acme/ps');
      again = after.body.stages
        .find((s: any) => s.stage === 'dev')
        .processes.find((p: any) => p.process === 'web');
      ok = again.restarts >= 1 && again.pid !== null && (await get(`${url}/healthz`)).status === 200;
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ok).toBe(true);
    expect(again.pid).not.toBe(web.pid);
    expect(again.restarts).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('treats deploying the release that already runs as done, without restarting anything', async () => {
    const before = await t.request('GET', '/api/v1/tenants/acme/ps');
    const pids = before.body.stages.find((s: any) => s.stage === 'dev').processes.map((p: any) => p.pid);
    const active = (await t.request('GET', '/api/v1/tenants/acme/deployments')).body.deployments.find(
      (d: any) => d.stage === 'dev' && d.status === 'active',
    );
    const again = await t.request('POST', '/api/v1/tenants/acme/stages/dev/deployments', {
      version: active.version,
    });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(active.id);
    const after = await t.request('GET', '/api/v1/tenants/acme/ps');
    expect(after.body.stages.find((s: any) => s.stage === 'dev').processes.map((p: any) => p.pid)).toEqual(
      pids,
    );
  });

  it('shows the processes logs', async () => {
    const logs = await t.request('GET', '/api/v1/tenants/acme/stages/dev/logs?process=web&lines=50');
    expect(logs.status).toBe(200);
    const lines = logs.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l: any) => l.process === 'web')).toBe(true);
    expect(logs.text).not.toContain(`${await t.database('acme', 'dev')}:`); // no DATABASE_URL with its password
  });
});
