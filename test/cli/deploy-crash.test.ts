import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentView } from '../../src/runtime/deployments.ts';
import type { StagePsView } from '../../src/runtime/read-model.ts';
import {
  cleanUp,
  cli,
  cliJson,
  eventually,
  makeDataDir,
  startUpJson,
  superuser,
  type UpProcess,
} from './process.ts';

/**
 * A kill -9 of `steward up` in the middle of a deploy: during the migration,
 * then while the new release starts. The deployments row keeps the phase,
 * the deploy job stays queued; each restarted Steward asks the deploy
 * planner again and carries on from what it finds (the new release's
 * processes adopted, not started twice) until the new release serves.
 */
const ledger = resolve(import.meta.dirname, '..', '..', 'examples', 'ledger');
// The release build runs `npm ci --prefer-offline`: with the real HOME it finds the machine's npm cache.
const upEnv = { HOME: homedir() };

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((done) => {
    const req = request(url, { timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', () => done({ status: -1, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => done({ status: -1, body: error.message }));
    req.end();
  });
}

/** Pids of the live process-group leaders Steward started for this data dir and release. */
async function releasePids(dataDir: string, release: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    const vars = new Map(
      env.split('\0').map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
    if (
      !vars.get('STEWARD_FILES_DIR')?.startsWith(`${dataDir}/`) ||
      vars.get('STEWARD_RELEASE') !== release
    ) {
      continue;
    }
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || Number(fields[2]) !== Number(pid)) continue;
    const name = vars.get('STEWARD_PROCESS') ?? '';
    if (found.has(name))
      throw new Error(`two ${name} processes of ${release}: ${found.get(name)} and ${pid}`);
    found.set(name, Number(pid));
  }
  return found;
}

describe('kill -9 of steward up during a deploy', () => {
  let dataDir: string;
  let slow: string;
  const ups: UpProcess[] = [];

  async function status(id: string): Promise<{ status: string; jobs: number }> {
    const db = await superuser(dataDir, 'steward');
    try {
      const { rows } = await db.query<{ status: string; jobs: number }>(
        `select status, (select count(*)::int from jobs where kind = 'deploy' and key = $1::text) as jobs
           from deployments where id = $1::bigint`,
        [id],
      );
      return rows[0] ?? { status: 'missing', jobs: 0 };
    } finally {
      await db.end();
    }
  }

  async function killUp(): Promise<void> {
    const up = ups.at(-1);
    up?.child.kill('SIGKILL');
    expect(await up?.exited).toEqual({ code: null, signal: 'SIGKILL' });
  }

  beforeAll(async () => {
    dataDir = await makeDataDir();
    ups.push((await startUpJson(dataDir, upEnv)).up);
    // 1.1.0: a migration that takes 3 s, and a web process that takes 4 s to listen.
    slow = await mkdtemp(join(tmpdir(), 'ledger-slow-'));
    await cp(ledger, slow, { recursive: true, filter: (src) => !src.includes('node_modules') });
    await writeFile(join(slow, 'migrations', '002_slow.sql'), 'select pg_sleep(3);\n');
    const yaml = await readFile(join(slow, 'steward.yaml'), 'utf8');
    await writeFile(
      join(slow, 'steward.yaml'),
      yaml.replace('command: node src/server.ts', 'command: sleep 4 && exec node src/server.ts'),
    );
    for (const [dir, version] of [
      [ledger, '1.0.0'],
      [slow, '1.1.0'],
    ] as const) {
      const added = await cli(dataDir, ['release', 'add', dir, '--version', version]);
      expect(added.code, added.stderr).toBe(0);
    }
    expect((await cli(dataDir, ['tenant', 'create', 'shop', '--stages', 'dev'])).code).toBe(0);
    const first = await cli(dataDir, ['deploy', 'shop', 'dev', '1.0.0']);
    expect(first.code, first.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await cleanUp(dataDir, ...ups);
    if (slow) await rm(slow, { recursive: true, force: true });
  }, 180_000);

  it('resumes from the migration and from the start of the new release, and the new release serves', async () => {
    const [before] = await cliJson<StagePsView[]>(dataDir, ['ps', 'shop']);
    const url = before?.url ?? '';
    expect(JSON.parse((await get(`${url}/healthz`)).body)).toMatchObject({ release: '1.0.0' });
    const deployment = await cliJson<DeploymentView>(dataDir, [
      'deploy',
      'shop',
      'dev',
      '1.1.0',
      '--no-wait',
    ]);

    // Killed while migrating: the row says so and the job is still queued.
    await eventually(
      'the deploy migrating',
      async () => ((await status(deployment.id)).status === 'migrating' ? true : undefined),
      50_000,
      20,
    );
    await killUp();
    expect(await status(deployment.id)).toEqual({ status: 'migrating', jobs: 1 });

    // The next Steward migrates again (the file is applied once: the app's migrate keeps a table of them)
    // and starts the new release; killed again once its processes run, before they listen.
    ups.push((await startUpJson(dataDir, upEnv)).up);
    const started = await eventually(
      'the new release started',
      async () => {
        const pids = await releasePids(dataDir, '1.1.0');
        return (await status(deployment.id)).status === 'starting' && pids.size === 2 ? pids : undefined;
      },
      60_000,
      20,
    );
    await killUp();
    expect((await status(deployment.id)).status).toBe('starting');

    // The third adopts those very processes, waits for them to be healthy, hands over and stops 1.0.0.
    ups.push((await startUpJson(dataDir, upEnv)).up);
    await eventually(
      'the deployment active',
      async () => ((await status(deployment.id)).status === 'active' ? true : undefined),
      60_000,
      100,
    );
    expect(JSON.parse((await get(`${url}/healthz`)).body)).toMatchObject({ release: '1.1.0' });
    expect(await releasePids(dataDir, '1.1.0')).toEqual(started);
    await eventually(
      '1.0.0 stopped and the job done',
      async () =>
        (await releasePids(dataDir, '1.0.0')).size === 0 && (await status(deployment.id)).jobs === 0
          ? true
          : undefined,
      60_000,
      100,
    );
    const [after] = await cliJson<StagePsView[]>(dataDir, ['ps', 'shop']);
    expect(after).toMatchObject({ release: '1.1.0', phase: 'running', url });
    const db = await superuser(dataDir, 'steward');
    try {
      const { rows } = await db.query<{ n: number }>(
        `select count(*)::int as n from deployments where status = 'active'`,
      );
      expect(rows[0]?.n).toBe(1);
    } finally {
      await db.end();
    }
  }, 300_000);

  it('steward rollback --to: back to a release the stage ran, and a clear error for one it never ran', async () => {
    const refused = await cli(dataDir, ['rollback', 'shop', 'dev', '--to', '9.9.9']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /--to "9\.9\.9": stage dev of shop never ran that release; it ran 1\.0\.0/,
    );
    const back = await cli(dataDir, ['rollback', 'shop', 'dev', '--to', '1.0.0']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toMatch(/^ {2}active: healthy and serving/m);
    const [view] = await cliJson<StagePsView[]>(dataDir, ['ps', 'shop']);
    expect(JSON.parse((await get(`${view?.url ?? ''}/healthz`)).body)).toMatchObject({ release: '1.0.0' });
  }, 120_000);
});
