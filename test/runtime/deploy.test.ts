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

  it('rolls back to a named earlier release with --to, and refuses one the stage never ran', async () => {
    const traffic = load(`${url}/api/invoices`);
    const started = await t.request('POST', '/api/v1/tenants/acme/stages/dev/rollback', { to: '1.0.1' });
    expect(started.status, started.text).toBe(202);
    const deployment = await waitDeployment(started.body.id);
    const statuses = await traffic.stop();
    expect(deployment).toMatchObject({ status: 'active', version: '1.0.1' });
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const audit = await t.request('GET', '/api/v1/audit?action=stage.rollback');
    expect(audit.body.events.at(-1)?.details).toMatchObject({ version: '1.0.1' });

    // 1.0.2 failed there: never ran. 9.9.9 does not exist. Neither changes anything.
    for (const to of ['1.0.2', '9.9.9']) {
      const refused = await t.request('POST', '/api/v1/tenants/acme/stages/dev/rollback', { to });
      expect(refused.status, refused.text).toBe(400);
      expect(refused.body.message).toContain(`--to "${to}"`);
      expect(refused.body.message).toMatch(/it ran 1\.0\.0/);
    }
    const same = await t.request('POST', '/api/v1/tenants/acme/stages/dev/rollback', { to: '1.0.1' });
    expect(same.status, same.text).toBe(409);
    expect(
      (await t.request('GET', '/api/v1/tenants/acme/deployments?stage=dev')).body.deployments[0].id,
    ).toBe(deployment.id);
  }, 120_000);

  /**
   * What a Steward killed in the middle of a deploy leaves: the deployments
   * row at its recorded phase and the deploy job queued. The next run
   * resumes from the phase: a deploy recorded as `starting` (migrated) does
   * not migrate again, one recorded as `migrating` does.
   */
  it('resumes a deploy from the phase recorded when Steward died', async () => {
    const control = t.controlDatabase;
    const [stage] = await t.query<{ id: string }>(
      `select s.id from stages s join tenants t on t.id = s.tenant_id where t.slug = 'acme' and s.name = 'test'`,
      [],
      control,
    );
    async function leftBehind(version: string, status: string): Promise<string> {
      const [row] = await t.query<{ id: string }>(
        `insert into deployments (stage_id, release_id, status, actor)
           select $1, id, $3, 'test' from releases where version = $2 returning id::text`,
        [stage?.id, version, status],
        control,
      );
      await t.query(`insert into jobs (kind, key) values ('deploy', $1)`, [row?.id], control);
      return row?.id ?? '';
    }
    const test = async () =>
      (await t.request('GET', '/api/v1/tenants/acme/ps')).body.stages.find((s: any) => s.stage === 'test');
    const testUrl = (await test()).url;

    // 1.0.2's migration exits 3: recorded as migrating, it runs again, and fails.
    const migrating = await waitDeployment(await leftBehind('1.0.2', 'migrating'));
    expect(migrating.status).toBe('failed');
    expect(migrating.reason).toMatch(/migration failed: exit 3/);
    expect(JSON.parse((await get(`${testUrl}/healthz`)).body).release).toBe('1.0.0');

    // Recorded as starting, 1.0.2 counts as migrated: started, handed over, the old release stopped.
    const starting = await waitDeployment(await leftBehind('1.0.2', 'starting'));
    expect(starting.status, starting.reason).toBe('active');
    expect(JSON.parse((await get(`${testUrl}/healthz`)).body).release).toBe('1.0.2');
    const deadline = Date.now() + 30_000;
    while (new Set((await test()).processes.map((p: any) => p.release)).has('1.0.0')) {
      if (Date.now() > deadline) throw new Error('the old release still runs');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

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
