import { readdir, readFile, readlink } from 'node:fs/promises';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantView } from '../../src/tenants/service.ts';
import type { StagePsView } from '../../src/runtime/stage-runtime.ts';
import {
  cleanUp,
  cli,
  cliJson,
  eventually,
  makeDataDir,
  pgIsRunning,
  sleep,
  startUpJson,
  type UpProcess,
} from './process.ts';

/**
 * Item 6 of the runtime: kill -9 of `steward up` while 10 stages run the
 * sample app. The app processes outlive it; the next `up` adopts them (same
 * pids, never a second copy), publishes every stage on its URL again, and
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

/** Live (not zombie) app processes of this data dir, told apart by the environment Steward gave them. */
async function appProcesses(dataDir: string): Promise<AppProcess[]> {
  const found: AppProcess[] = [];
  for (const pid of numericDirs(await readdir('/proc'))) {
    const env = await environ(pid);
    const filesDir = env?.get('STEWARD_FILES_DIR');
    const name = env?.get('STEWARD_PROCESS');
    if (!env || !filesDir?.startsWith(`${dataDir}/`) || !name || !(await isLive(Number(pid)))) continue;
    found.push({
      pid: Number(pid),
      tenant: env.get('STEWARD_TENANT') ?? '',
      stage: env.get('STEWARD_STAGE') ?? '',
      process: name,
    });
  }
  return found.sort((a, b) => a.pid - b.pid);
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
    // ...while the stages' published endpoints, which lived in steward, are gone.
    for (const url of urls.values()) expect((await get(`${url}/healthz`)).status).toBe(-1);

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
