import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/system/exec.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { deployLedger, until, withDescendants } from '../harness/stage-app.ts';

/**
 * Checks against a real Steward and the sample app: built-in checks appear
 * with the stage, a stopped web process is down and then up again, operators
 * add HTTP checks, and a restart of Steward is recorded as unknown.
 */
// Probes every second; a probe more than 5 s late (a loaded machine) counts as Steward not probing.
const monitoring = { intervalSeconds: 1, tickMs: 200, timeoutMs: 800, lateIntervals: 5 };

interface CheckView {
  id: string;
  stage: string;
  kind: string;
  origin: string;
  builtin: string | null;
  target: string;
  intervalSeconds: number;
  state: string;
  since: string;
  lastResult: { outcome: string; detail: string; at: string } | null;
}

interface StateRow {
  state: string;
  started_at: Date;
  ended_at: Date | null;
  cause: { kind: string; results?: { outcome: string; detail: string }[]; reason?: string };
}

describe('checks of a running stage', () => {
  let t: TestSteward;
  let restarted: TestSteward | undefined;

  const checks = async (s: TestSteward = t): Promise<CheckView[]> => {
    const res = await s.request('GET', '/api/v1/tenants/acme/checks');
    expect(res.status, res.text).toBe(200);
    return res.body.checks as CheckView[];
  };
  const builtin = async (name: string, s: TestSteward = t): Promise<CheckView | undefined> =>
    (await checks(s)).find((c) => c.builtin === name);
  const states = (s: TestSteward, id: string): Promise<StateRow[]> =>
    s.query<StateRow>(
      'select state, started_at, ended_at, cause from check_states where check_id = $1 order by started_at, id',
      [id],
      s.controlDatabase,
    );

  beforeAll(async () => {
    t = await startTestSteward({ runtimeTickMs: 500, gateway: true, config: { monitoring } });
    await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
    await t.waitForStages('acme');
    await deployLedger(t, 'acme', 'prod');
  }, 180_000);

  afterAll(async () => {
    if (restarted) await restarted.close();
    else await t?.close();
  });

  it('gives a ready stage its built-in checks, and they go up', async () => {
    const all = await until('built-in checks up', async () => {
      const list = await checks();
      const wanted = ['gateway', 'processes', 'process', 'database', 'disk', 'certificate'];
      return wanted.every((b) => list.find((c) => c.builtin === b)?.state === 'up') ? list : undefined;
    });
    expect(all.map((c) => [c.builtin, c.kind, c.origin]).sort()).toEqual([
      ['certificate', 'certificate', 'builtin'],
      ['database', 'database', 'builtin'],
      ['disk', 'disk', 'builtin'],
      ['gateway', 'http', 'builtin'],
      ['process', 'process', 'builtin'],
      ['processes', 'http', 'builtin'],
    ]);
    expect(all.find((c) => c.builtin === 'process')?.lastResult?.detail).toBe('2 of 2 processes running');
    // Served by the gateway for the stage's name and the prod alias, from Steward's CA.
    expect(all.find((c) => c.builtin === 'certificate')?.lastResult?.detail).toMatch(
      /^prod\.acme\.localhost: \d+ days left; acme\.localhost: \d+ days left$/,
    );
    expect(all.find((c) => c.builtin === 'disk')?.lastResult?.detail).toMatch(
      /^data: \d+ % free .*; files: \d+ % free/,
    );
    const database = all.find((c) => c.builtin === 'database');
    expect(database?.lastResult?.detail).toContain('as the stage role');
    // The first interval is unknown from the check's creation until its first probe; then up.
    const history = await states(t, database?.id ?? '');
    expect(history.map((s) => s.state).slice(0, 2)).toEqual(['unknown', 'up']);
    expect(history[0]?.ended_at).toEqual(history[1]?.started_at);
    // The gateway check takes the users' path: TLS to the gateway, the stage's host name.
    const viaGateway = t
      .logs()
      .split('\n')
      .filter((l) => l.includes('"component":"gateway-access"') && l.includes('steward-check'));
    expect(
      viaGateway.some((l) => l.includes('"host":"prod.acme.localhost"') && l.includes('"status":200')),
    ).toBe(true);
  });

  it('removes built-in checks with their stage, keeps their history, and prunes it past retention', async () => {
    await t.request('POST', '/api/v1/tenants', { slug: 'beta', stages: ['prod'] });
    await t.waitForStages('beta');
    const database = await until('the database check of beta', async () => {
      const res = await t.request('GET', '/api/v1/tenants/beta/checks');
      const found = (res.body.checks as CheckView[]).find((c) => c.builtin === 'database');
      return found?.state === 'up' ? found : undefined;
    });
    // Only what the stage runs is watched: no release, no HTTP checks.
    expect(
      ((await t.request('GET', '/api/v1/tenants/beta/checks')).body.checks as CheckView[]).map(
        (c) => c.builtin,
      ),
    ).toEqual(['database', 'disk']);
    // An operator's check goes with its stage too.
    const added = await t.request('POST', '/api/v1/tenants/beta/stages/prod/checks', { path: '/' });
    expect(added.status, added.text).toBe(201);
    const removed = await t.request('DELETE', '/api/v1/tenants/beta');
    expect(removed.status, removed.text).toBeLessThan(300);
    const closed = await until('the check of the removed stage closed', async () => {
      const rows = await states(t, database.id);
      return rows.at(-1)?.ended_at ? rows : undefined;
    });
    expect(closed.map((r) => r.state).slice(0, 2)).toEqual(['unknown', 'up']);
    const operators = await t.query<{ removed_at: Date | null }>(
      "select removed_at from checks where tenant_slug = 'beta' and origin = 'operator'",
      [],
      t.controlDatabase,
    );
    expect(operators).toHaveLength(1);
    expect(operators[0]?.removed_at).not.toBeNull();
    const [check] = await t.query<{ removed_at: Date | null }>(
      'select removed_at from checks where id = $1',
      [database.id],
      t.controlDatabase,
    );
    expect(check?.removed_at).not.toBeNull();

    // 401 days later its history is past the default retention of 400 days; acme's recent history stays.
    const old = `now() - interval '401 days'`;
    await t.query(
      `update check_states set started_at = ${old} - interval '1 hour', ended_at = ${old} where check_id = $1`,
      [database.id],
      t.controlDatabase,
    );
    await t.query(
      `update check_rollups set minute = ${old} where check_id = $1`,
      [database.id],
      t.controlDatabase,
    );
    await t.query(`update checks set removed_at = ${old} where id = $1`, [database.id], t.controlDatabase);
    const pruned = await t.services.checkRunner.prune();
    expect(pruned.states).toBe(2);
    expect(pruned.checks).toBe(1);
    expect(pruned.rollups).toBeGreaterThan(0);
    expect(await t.query('select 1 from checks where id = $1', [database.id], t.controlDatabase)).toEqual([]);
    expect((await checks()).length).toBe(6);
  }, 60_000);

  it('adds an operator HTTP check, and refuses bad input naming the field, the value and what is accepted', async () => {
    const bad: [unknown, string, RegExp][] = [
      [{ path: '/healthz', interval: '2s' }, 'interval', /"2s".*5s to 1h/],
      [{ path: '/healthz', interval: '2h' }, 'interval', /"2h".*5s to 1h/],
      [{ path: '/healthz', interval: 'often' }, 'interval', /"often" is not a duration/],
      [{ path: 'healthz' }, 'path', /must be a URL path/],
      [{ path: '/healthz', expectStatus: 99 }, 'expectStatus', /at least 100/],
      [{ path: '/healthz', method: 'FETCH' }, 'method', /GET, HEAD/],
      [{ path: '/healthz', headers: { Host: 'evil.example' } }, 'headers.Host', /set by Steward/],
      [{ path: '/healthz', headers: { 'X-A': 'line\nbreak' } }, 'headers.X-A', /printable ASCII on one line/],
      [{ path: '/healthz', every: '10s' }, 'every', /accepted fields are/],
    ];
    for (const [body, field, message] of bad) {
      const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/checks', body);
      expect(res.status, res.text).toBe(400);
      expect(res.body.field).toBe(field);
      expect(res.body.message).toMatch(message);
    }
    const missing = await t.request('POST', '/api/v1/tenants/acme/stages/nope/checks', { path: '/healthz' });
    expect(missing.status).toBe(404);
    expect((await checks()).filter((c) => c.origin === 'operator')).toEqual([]);

    const added = await t.request('POST', '/api/v1/tenants/acme/stages/prod/checks', {
      path: '/healthz',
      expectStatus: 200,
      expectBody: '"status":"ok"',
      interval: '5s',
    });
    expect(added.status, added.text).toBe(201);
    expect(added.body).toMatchObject({
      kind: 'http',
      origin: 'operator',
      intervalSeconds: 5,
      state: 'unknown',
    });
    expect(added.body.target).toContain('GET /healthz via gateway expect 200');
    const up = await until('the operator check up', async () => {
      const c = (await checks()).find((x) => x.id === added.body.id);
      return c?.state === 'up' ? c : undefined;
    });
    expect(up.lastResult?.detail).toBe('GET /healthz answered 200');
  });

  it('adds and lists checks from the CLI', async () => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: t.dataDir,
      STEWARD_API_URL: await t.steward.start(),
      STEWARD_TOKEN: t.token,
    };
    const cli = (...args: string[]) => run(resolve(import.meta.dirname, '../../bin/steward'), args, { env });
    const added = await cli(
      'check',
      'add',
      'acme',
      'prod',
      '--http',
      '/healthz',
      '--expect-status',
      '200',
      '--expect-body',
      'ok',
      '--interval',
      '10s',
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(
      /check \d+ added to acme\/prod: GET \/healthz via gateway expect 200 body ~ "ok" every 10s/,
    );
    const bad = await cli('check', 'add', 'acme', 'prod', '--http', '/healthz', '--interval', '2s');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('field "interval": "2s" is not accepted; use whole seconds from 5s to 1h');
    const listed = await cli('-o', 'json', 'check', 'list', 'acme');
    expect(listed.code, listed.stderr).toBe(0);
    const views = JSON.parse(listed.stdout) as CheckView[];
    expect(views.filter((c) => c.intervalSeconds === 10)).toHaveLength(1);
    for (const view of views) {
      expect(Object.keys(view)).toEqual(
        expect.arrayContaining(['kind', 'target', 'intervalSeconds', 'state', 'since', 'lastResult']),
      );
    }
  });

  it('a stopped web process is down after 2 failed probes, and up again when it serves', async () => {
    const ps = await t.request('GET', '/api/v1/tenants/acme/ps');
    const web = ps.body.stages[0].processes.find((p: { process: string }) => p.process === 'web');
    const processes = await builtin('processes');
    expect(processes?.state).toBe('up');
    const stopped = await withDescendants(web.pid as number);
    for (const pid of stopped) process.kill(pid, 'SIGSTOP');
    try {
      await until('the processes check down', async () =>
        (await builtin('processes'))?.state === 'down' ? true : undefined,
      );
    } finally {
      for (const pid of stopped) process.kill(pid, 'SIGCONT');
    }
    await until('the processes check up again', async () =>
      (await builtin('processes'))?.state === 'up' ? true : undefined,
    );
    const history = await states(t, processes?.id ?? '');
    const known = history.filter((s) => s.state !== 'unknown');
    expect(known.map((s) => s.state).slice(-3)).toEqual(['up', 'down', 'up']);
    const down = known.at(-2);
    expect(down?.cause.kind).toBe('probes');
    expect(down?.cause.results?.map((r) => r.outcome)).toEqual(['fail', 'fail']);
    expect(down?.cause.results?.[0]?.detail).toMatch(/GET \/healthz failed|answered/);
    // Intervals tile: each ends where the next starts, only the last is open.
    for (let i = 0; i + 1 < history.length; i++)
      expect(history[i]?.ended_at).toEqual(history[i + 1]?.started_at);
    expect(history.at(-1)?.ended_at).toBeNull();
    const rollups = await t.query<{ count: number; failures: number; latency_max_ms: number }>(
      'select count, failures, latency_max_ms from check_rollups where check_id = $1',
      [processes?.id],
      t.controlDatabase,
    );
    expect(rollups.reduce((n, r) => n + r.failures, 0)).toBeGreaterThanOrEqual(2);
    expect(rollups.reduce((n, r) => n + r.count, 0)).toBeGreaterThan(
      rollups.reduce((n, r) => n + r.failures, 0),
    );
  }, 60_000);

  it('keeps probing during maintenance: the gateway check sees what users see', async () => {
    const set = (maintenance: boolean) =>
      t.request('PATCH', '/api/v1/tenants/acme/stages/prod/gateway', { maintenance });
    expect((await set(true)).status).toBe(200);
    try {
      const down = await until('the gateway check down in maintenance', async () => {
        const c = await builtin('gateway');
        return c?.state === 'down' ? c : undefined;
      });
      expect(down.lastResult?.detail).toMatch(/answered 503/);
      // The web processes themselves still answer.
      expect((await builtin('processes'))?.state).toBe('up');
    } finally {
      await set(false);
    }
    await until('the gateway check up after maintenance', async () =>
      (await builtin('gateway'))?.state === 'up' ? true : undefined,
    );
  });

  it('records the time Steward was stopped as unknown, never up', async () => {
    const database = await builtin('database');
    const before = await states(t, database?.id ?? '');
    expect(before.at(-1)?.state).toBe('up');
    await t.steward.stop();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    restarted = await startTestSteward({
      reuse: t,
      runtimeTickMs: 500,
      gateway: true,
      config: { monitoring },
    });
    const after = await until('the database check up after the restart', async () => {
      const rows = await states(restarted as TestSteward, database?.id ?? '');
      return rows.length >= before.length + 2 && rows.at(-1)?.state === 'up' ? rows : undefined;
    });
    const gap = after[before.length];
    expect(gap?.state).toBe('unknown');
    expect(gap?.cause.kind).toBe('not-probing');
    // From the last probe before the stop to the first after the restart: at least the 3 s it was stopped.
    expect(gap?.started_at.getTime()).toBeLessThanOrEqual(stoppedAt);
    expect((gap?.ended_at?.getTime() ?? 0) - (gap?.started_at.getTime() ?? 0)).toBeGreaterThanOrEqual(3000);
    expect(after[before.length - 1]?.ended_at).toEqual(gap?.started_at);
  }, 60_000);
});
