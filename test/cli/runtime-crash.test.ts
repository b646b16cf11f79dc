import { cp, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantView } from '../../src/tenants/service.ts';
import type { DeploymentView } from '../../src/runtime/deployments.ts';
import type { LogLine, StagePsView } from '../../src/runtime/read-model.ts';
import {
  cleanUp,
  cli,
  cliJson,
  eventually,
  makeDataDir,
  pgIsRunning,
  sleep,
  spawnCli,
  startUpJson,
  type UpProcess,
} from './process.ts';

/**
 * Item 6 of the runtime: kill -9 of `steward up` while 10 stages run the
 * sample app. The app processes and HAProxy outlive it, every stage serving
 * on its URL; the next `up` adopts them (same pids, never a second copy), and
 * restarts an adopted process that dies. A SIGTERM leaves nothing behind.
 */
const ledger = resolve(import.meta.dirname, '..', '..', 'examples', 'ledger');
const tenants = ['r1', 'r2', 'r3', 'r4', 'r5'] as const;
const stageNames = ['dev', 'prod'] as const;
const stages = tenants.flatMap((tenant) => stageNames.map((stage) => ({ tenant, stage })));
// The release build runs `npm ci --prefer-offline`: with the real HOME it finds the machine's npm cache.
const upEnv = { HOME: homedir() };

interface AppProcess {
  readonly pid: number;
  readonly tenant: string;
  readonly stage: string;
  readonly process: string;
}

async function environ(pid: string): Promise<Map<string, string> | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/environ`, 'utf8');
    return new Map(
      text
        .split('\0')
        .filter((e) => e.includes('='))
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const),
    );
  } catch {
    return undefined;
  }
}

function numericDirs(names: readonly string[]): string[] {
  return names.filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid);
}

/**
 * Live (not zombie) app processes of this data dir, told apart by the
 * environment Steward gave them: the leader of each process group, which is
 * what Steward supervises (the sandbox, with the app inside in its group).
 */
async function appProcesses(dataDir: string): Promise<AppProcess[]> {
  const found: AppProcess[] = [];
  for (const pid of numericDirs(await readdir('/proc'))) {
    const env = await environ(pid);
    const filesDir = env?.get('STEWARD_FILES_DIR');
    const name = env?.get('STEWARD_PROCESS');
    if (!env || !filesDir?.startsWith(`${dataDir}/`) || !name || !(await isLive(Number(pid)))) continue;
    if (!(await isGroupLeader(Number(pid)))) continue;
    found.push({
      pid: Number(pid),
      tenant: env.get('STEWARD_TENANT') ?? '',
      stage: env.get('STEWARD_STAGE') ?? '',
      process: name,
    });
  }
  return found.sort((a, b) => a.pid - b.pid);
}

async function isGroupLeader(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pid;
}

async function isLive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Every live process that belongs to the data dir: app processes, PostgreSQL (by its cwd), steward itself. */
async function leftovers(dataDir: string): Promise<{ pid: number; what: string }[]> {
  const found: { pid: number; what: string }[] = [];
  for (const pid of numericDirs(await readdir('/proc'))) {
    if (!(await isLive(Number(pid)))) continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    const filesDir = (await environ(pid))?.get('STEWARD_FILES_DIR') ?? '';
    if (cwd.startsWith(`${dataDir}/`) || cmdline.includes(dataDir) || filesDir.startsWith(`${dataDir}/`)) {
      found.push({ pid: Number(pid), what: `${cmdline.trim()} (cwd ${cwd})` });
    }
  }
  return found;
}

/** Last resort after a failed test: nothing of the data dir may outlive the test file. */
async function killLeftovers(dataDir: string | undefined): Promise<void> {
  if (!dataDir) return;
  for (const { pid } of await leftovers(dataDir)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

function get(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolveGet({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', () => resolveGet({ status: -1, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolveGet({ status: -1, body: error.message }));
    req.end();
  });
}

const key = (p: { tenant: string; stage: string; process: string }): string =>
  `${p.tenant}/${p.stage}/${p.process}`;

describe('kill -9 of steward up with 10 running stages', () => {
  let dataDir: string;
  const ups: UpProcess[] = [];
  /** tenant/stage → published URL */
  const urls = new Map<string, string>();
  /** tenant/stage/process → pid, as before the kill */
  let pidsBefore = new Map<string, number>();

  async function start(): Promise<void> {
    const { up } = await startUpJson(dataDir, upEnv);
    ups.push(up);
  }

  async function psAll(): Promise<StagePsView[]> {
    const views = await Promise.all(tenants.map((t) => cliJson<StagePsView[]>(dataDir, ['ps', t])));
    return views.flat();
  }

  async function allServing(): Promise<boolean> {
    const results = await Promise.all(
      [...urls.values()].map(async (url) => {
        const health = await get(`${url}/healthz`);
        return health.status === 200 && (JSON.parse(health.body) as { release: string }).release === '1.0.0';
      }),
    );
    return results.every(Boolean);
  }

  function byKey(processes: readonly AppProcess[]): Map<string, number[]> {
    const grouped = new Map<string, number[]>();
    for (const p of processes) grouped.set(key(p), [...(grouped.get(key(p)) ?? []), p.pid]);
    return grouped;
  }

  /** Exactly one web and one worker per stage, with these pids when given. */
  async function expectOneOfEach(pids?: ReadonlyMap<string, number>): Promise<Map<string, number>> {
    const grouped = byKey(await appProcesses(dataDir));
    const expectedKeys = stages.flatMap((s) => [
      key({ ...s, process: 'web' }),
      key({ ...s, process: 'worker' }),
    ]);
    expect([...grouped.keys()].sort()).toEqual(expectedKeys.sort());
    for (const [k, list] of grouped) expect(list, k).toHaveLength(1);
    const flat = new Map([...grouped].map(([k, list]) => [k, list[0] ?? -1]));
    if (pids) expect(flat).toEqual(pids);
    return flat;
  }

  beforeAll(async () => {
    dataDir = await makeDataDir();
    await start();
  }, 180_000);

  afterAll(async () => {
    await cleanUp(dataDir, ...ups).finally(() => killLeftovers(dataDir));
  }, 180_000);

  it('adds the sample app through the CLI and deploys it to 10 stages of 5 tenants', async () => {
    const added = await cli(dataDir, ['release', 'add', ledger, '--version', '1.0.0']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/release ledger 1\.0\.0 added/);
    const created = await Promise.all(
      tenants.map((t) =>
        cliJson<TenantView>(dataDir, ['tenant', 'create', t, '--stages', stageNames.join(',')]),
      ),
    );
    expect(created.flatMap((t) => t.stages.map((s) => s.phase))).toEqual(Array(10).fill('ready'));

    const began = Date.now();
    const deploys = await Promise.all(
      stages.map(({ tenant, stage }) => cli(dataDir, ['deploy', tenant, stage, '1.0.0'])),
    );
    for (const [i, result] of deploys.entries()) {
      expect(result.code, `${JSON.stringify(stages[i])}: ${result.stderr}`).toBe(0);
      expect(result.stderr).toMatch(/^ {2}active: healthy and serving/m);
    }
    console.info(`10 deploys through the CLI, 4 at a time: ${Date.now() - began} ms`);

    for (const view of await psAll()) {
      expect(view.release).toBe('1.0.0');
      expect(view.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      urls.set(`${view.tenant}/${view.stage}`, view.url ?? '');
    }
    expect(urls.size).toBe(10);
    expect(await allServing()).toBe(true);
    pidsBefore = await expectOneOfEach();
    const reported = new Map(
      (await psAll()).flatMap((v) => v.processes.map((p) => [key(p), p.pid ?? -1] as const)),
    );
    expect(reported).toEqual(pidsBefore);
  }, 400_000);

  it('keeps the app processes running through a kill -9, adopts them on restart, never twice', async () => {
    expect(pidsBefore.size).toBe(20);
    const up = ups.at(-1);
    if (!up) throw new Error('steward is not running');
    up.child.kill('SIGKILL');
    expect(await up.exited).toEqual({ code: null, signal: 'SIGKILL' });

    // Not children that die with it: the same 20 processes run on...
    await sleep(1000);
    await expectOneOfEach(pidsBefore);
    // ...and the stages' published endpoints, HAProxy's (the data plane outlives Steward), serve on.
    for (const url of urls.values()) expect((await get(`${url}/healthz`)).status).toBe(200);

    const restarted = Date.now();
    await start();
    const apiAt = Date.now();
    await eventually(
      'all 10 stages to serve again',
      async () => ((await allServing()) ? true : undefined),
      180_000,
      100,
    );
    const servingAt = Date.now();
    console.info(
      `restart after kill -9: API up in ${apiAt - restarted} ms, all 10 stages serving /healthz on their URLs ${servingAt - restarted} ms after the restart began`,
    );

    // The very same processes, one of each, and steward reports them.
    await expectOneOfEach(pidsBefore);
    const views = await psAll();
    expect(views.map((v) => v.url).sort()).toEqual([...urls.values()].sort());
    for (const view of views) {
      expect(view.release).toBe('1.0.0');
      expect(view.processes.map((p) => `${p.process}:${p.pid}`).sort()).toEqual(
        ['web', 'worker'].map((p) => `${p}:${pidsBefore.get(`${view.tenant}/${view.stage}/${p}`)}`).sort(),
      );
      expect(view.processes.find((p) => p.process === 'web')?.healthy).toBe(true);
    }
    // Still so after several runtime passes (one every 5 s): nothing started a second copy later.
    await sleep(12_000);
    await expectOneOfEach(pidsBefore);
    expect(await allServing()).toBe(true);
  }, 400_000);

  it('restarts an adopted web process that is killed, and the stage serves again', async () => {
    const victim = pidsBefore.get('r3/prod/web');
    if (victim === undefined) throw new Error('no web process of r3/prod');
    const url = urls.get('r3/prod') ?? '';
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    const replacement = await eventually(
      'a new r3/prod web process that serves',
      async () => {
        const [view] = await cliJson<StagePsView[]>(dataDir, ['ps', 'r3', '--stage', 'prod']);
        const web = view?.processes.find((p) => p.process === 'web');
        if (!web?.pid || web.pid === victim || web.healthy !== true) return undefined;
        return (await get(`${url}/healthz`)).status === 200 ? web : undefined;
      },
      60_000,
      100,
    );
    console.info(`adopted web process killed: serving again after ${Date.now() - killedAt} ms`);
    expect(replacement.restarts).toBeGreaterThanOrEqual(1);
    const expected = new Map(pidsBefore);
    expected.set('r3/prod/web', replacement.pid ?? -1);
    await expectOneOfEach(expected);
    expect(await allServing()).toBe(true);
  }, 120_000);

  it('leaves no app process and no PostgreSQL behind after a SIGTERM', async () => {
    const up = ups.at(-1);
    if (!up) throw new Error('steward is not running');
    const stopping = Date.now();
    up.child.kill('SIGTERM');
    expect(await up.exited).toEqual({ code: 0, signal: null });
    console.info(`SIGTERM with 10 running stages: steward exited after ${Date.now() - stopping} ms`);
    expect(await appProcesses(dataDir)).toEqual([]);
    expect(await pgIsRunning(dataDir)).toBe(false);
    expect(await leftovers(dataDir)).toEqual([]);
  }, 120_000);
});

describe('steward deploy, deployments, logs and ps through the CLI', () => {
  let dataDir: string;
  let broken: string;
  let url: string;
  const ups: UpProcess[] = [];
  const followers: UpProcess[] = [];

  beforeAll(async () => {
    dataDir = await makeDataDir();
    ups.push((await startUpJson(dataDir, upEnv)).up);
    // The sample app with one more migration, which fails after a while (the deploy is seen migrating).
    broken = await mkdtemp(join(tmpdir(), 'ledger-broken-'));
    await cp(ledger, broken, { recursive: true, filter: (src) => !src.includes('node_modules') });
    await writeFile(
      join(broken, 'migrations', '002_broken.sql'),
      'select pg_sleep(1.5);\nalter table no_such_table add column currency text;\n',
    );
    for (const [dir, version] of [
      [ledger, '1.0.0'],
      [broken, '1.1.0'],
    ] as const) {
      const added = await cli(dataDir, ['release', 'add', dir, '--version', version]);
      expect(added.code, added.stderr).toBe(0);
    }
    const created = await cli(dataDir, ['tenant', 'create', 'shop', '--stages', 'dev']);
    expect(created.code, created.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    for (const follower of followers) if (follower.child.exitCode === null) follower.child.kill('SIGKILL');
    await cleanUp(dataDir, ...ups).finally(() => killLeftovers(dataDir));
    if (broken) await rm(broken, { recursive: true, force: true });
  }, 180_000);

  it('deploys with progress lines and prints where the stage runs', async () => {
    const result = await cli(dataDir, ['deploy', 'shop', 'dev', '1.0.0']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^deploying ledger 1\.0\.0 to shop\/dev \(deployment \d+\)$/m);
    // One line per status seen (polled, so a short one may be skipped), in order, ending active.
    const progress = result.stderr.split('\n').filter((l) => l.startsWith('  '));
    expect(progress.at(-1)).toMatch(/^ {2}active: healthy and serving \(\d+\.\d s\)$/);
    const statuses = progress.slice(0, -1).map((l) => l.trim());
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses).toEqual(['pending', 'migrating', 'starting'].filter((st) => statuses.includes(st)));
    const printed = /^shop\/dev runs ledger 1\.0\.0 at (http:\/\/127\.0\.0\.1:\d+)$/m.exec(result.stdout);
    expect(printed, result.stdout).not.toBeNull();
    url = printed?.[1] ?? '';
    const health = await get(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ release: '1.0.0' });
  }, 120_000);

  it('shows a failed migration as it happens, exits non-zero with the reason, and the old release keeps serving', async () => {
    const result = await cli(dataDir, ['deploy', 'shop', 'dev', '1.1.0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ {2}migrating$/m);
    expect(result.stderr).not.toMatch(/^ {2}starting$/m);
    expect(result.stderr).toMatch(
      /^error: ledger 1\.1\.0 to shop\/dev \(deployment \d+\) failed: the migration failed: exit 1:/m,
    );
    expect(result.stderr).toContain('no_such_table');
    expect(result.stdout).toBe('');
    expect(JSON.parse((await get(`${url}/healthz`)).body)).toMatchObject({ release: '1.0.0' });

    // -o json: the failed deployment as JSON on stdout, still a non-zero exit.
    const json = await cli(dataDir, ['-o', 'json', 'deploy', 'shop', 'dev', '1.1.0']);
    expect(json.code).toBe(1);
    const failed = JSON.parse(json.stdout) as DeploymentView;
    expect(failed).toMatchObject({ tenant: 'shop', stage: 'dev', version: '1.1.0', status: 'failed' });
    expect(failed.reason).toMatch(/no_such_table/);
    expect(json.stderr).not.toMatch(/^ {2}migrating$/m);

    const listed = await cliJson<DeploymentView[]>(dataDir, ['deployments', 'shop']);
    expect(listed.map((d) => `${d.version} ${d.status}`)).toEqual([
      '1.1.0 failed',
      '1.1.0 failed',
      '1.0.0 active',
    ]);
    const table = await cli(dataDir, ['deployments', 'shop']);
    expect(table.stdout).toMatch(/^ID\s+STAGE\s+APP\s+VERSION\s+STATUS/);
    expect(table.stdout).toMatch(/\bdev\s+ledger\s+1\.1\.0\s+failed\s/);
  }, 120_000);

  it('does not wait with --no-wait, and refuses a version that does not exist', async () => {
    const missing = await cli(dataDir, ['deploy', 'shop', 'dev', '9.9.9']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/release "9\.9\.9" does not exist/);
    // 1.0.0 already runs in shop/dev: deploying it again is a no-op that returns the active deployment.
    const queued = await cliJson<DeploymentView>(dataDir, ['deploy', 'shop', 'dev', '1.0.0', '--no-wait']);
    expect(queued.status).toBe('active');
    const history = await cliJson<DeploymentView[]>(dataDir, ['deployments', 'shop']);
    expect(history.filter((d) => d.status === 'active').map((d) => d.id)).toEqual([queued.id]);
  }, 120_000);

  it('ps -o json: each process with its pid, phase, health, restarts, uptime and port; the table too', async () => {
    const [view, ...others] = await cliJson<StagePsView[]>(dataDir, ['ps', 'shop']);
    expect(others).toEqual([]);
    expect(view).toMatchObject({ tenant: 'shop', stage: 'dev', phase: 'running', release: '1.0.0', url });
    expect(view?.filesBytes).toBeTypeOf('number');
    const processes = view?.processes ?? [];
    expect(processes.map((p) => p.process).sort()).toEqual(['web', 'worker']);
    for (const p of processes) {
      expect(p).toMatchObject({ instance: 0, release: '1.0.0', phase: 'running', restarts: 0 });
      expect(p.uptimeSeconds).toBeGreaterThanOrEqual(0);
      // The pid is a live process that steward started for this very stage and process type.
      const env = await environ(String(p.pid));
      expect(env?.get('STEWARD_TENANT')).toBe('shop');
      expect(env?.get('STEWARD_STAGE')).toBe('dev');
      expect(env?.get('STEWARD_PROCESS')).toBe(p.process);
    }
    const web = processes.find((p) => p.process === 'web');
    expect(web?.healthy).toBe(true);
    expect(web?.port).toBeTypeOf('number');
    expect((await get(`http://127.0.0.1:${web?.port}/healthz`)).status).toBe(200);
    expect(processes.find((p) => p.process === 'worker')).toMatchObject({ healthy: null, port: null });

    const table = await cli(dataDir, ['ps', 'shop']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(`url     ${url}`);
    expect(table.stdout).toMatch(
      /^PROCESS\s+INSTANCE\s+RELEASE\s+PID\s+PHASE\s+HEALTHY\s+RESTARTS\s+UPTIME\s+PORT$/m,
    );
    expect(table.stdout).toMatch(
      new RegExp(`^web\\s+0\\s+1\\.0\\.0\\s+${web?.pid}\\s+running\\s+yes\\s+0\\s`, 'm'),
    );

    const set = await cliJson<StagePsView>(dataDir, ['stage', 'set', 'shop', 'dev', '--files-quota', '10MB']);
    expect(set.filesQuotaBytes).toBe(10_000_000);
    const cleared = await cliJson<StagePsView>(dataDir, [
      'stage',
      'set',
      'shop',
      'dev',
      '--files-quota',
      'off',
    ]);
    expect(cleared.filesQuotaBytes).toBeNull();
  }, 120_000);

  it('logs --follow receives a line the app writes after the command started; Ctrl-C ends it', async () => {
    const follower = spawnCli(dataDir, ['-o', 'json', 'logs', 'shop', 'dev', '--process', 'web', '--follow']);
    followers.push(follower);
    // It has started once it printed the lines that were there.
    await eventually(
      'the existing lines',
      () => Promise.resolve(follower.stdout().includes('\n') ? true : undefined),
      30_000,
      50,
    );
    const marker = `/marker-${Date.now()}`;
    expect(follower.stdout()).not.toContain(marker);
    expect((await get(`${url}${marker}`)).status).toBe(404);
    const line = await eventually(
      'the request line of the marker',
      () =>
        Promise.resolve(
          follower
            .stdout()
            .split('\n')
            .filter((l) => l.includes(marker))
            .map((l) => JSON.parse(l) as LogLine)[0],
        ),
      30_000,
      50,
    );
    expect(line).toMatchObject({ process: 'web', instance: 0 });
    expect(JSON.parse(line.line)).toMatchObject({ msg: 'request', path: marker, status: 404 });
    follower.child.kill('SIGINT');
    expect(await follower.exited).toEqual({ code: 0, signal: null });

    // --since: only lines with a time at or after it; the marker request is in the last minute.
    const recent = await cli(dataDir, ['logs', 'shop', 'dev', '--since', '1m']);
    expect(recent.code, recent.stderr).toBe(0);
    expect(recent.stdout).toContain(marker);
    expect(
      recent.stdout
        .trim()
        .split('\n')
        .every((l) => /^(web|worker)\.0 \| /.test(l)),
    ).toBe(true);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await cli(dataDir, ['logs', 'shop', 'dev', '--since', future]);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toBe('');
    const unknown = await cli(dataDir, ['logs', 'shop', 'qa']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: tenant shop has no stage "qa"/m);
    const badSince = await cli(dataDir, ['logs', 'shop', 'dev', '--since', 'yesterday']);
    expect(badSince.code).not.toBe(0);
    expect(badSince.stderr).toMatch(/neither an ISO time .* nor a duration/);
    const all = await cli(dataDir, ['logs', 'shop', 'dev', '--lines', '5']);
    expect(all.stdout.trim().split('\n').length).toBeGreaterThan(0);
    expect(all.stdout.trim().split('\n').length).toBeLessThanOrEqual(10);
  }, 120_000);
});
