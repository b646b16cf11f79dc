import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreTestView, RestoreView } from '../../src/backups/restore-service.ts';
import { RestoreService } from '../../src/backups/restore-service.ts';
import type { BackupRequestView } from '../../src/backups/service.ts';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { packRelease } from '../harness/ledger.ts';
import { silentLogger, startTestSteward, type TestSteward } from '../harness/steward.ts';
import { ManualClock } from '../identity/helpers.ts';
import { backupNow, eventually, turnOnFullPageWrites } from './support.ts';
import { withClient } from '../../src/databases/client.ts';

/**
 * Restores and restore tests as a user runs them, over real PostgreSQL and
 * pgBackRest: Steward's own shared cluster with two tenants, a full backup
 * through the backup service (which fingerprints the prod databases), then
 * point-in-time restores into a new stage and in place, restore tests with
 * evidence, crash recovery, and a damaged repository file.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('restores and restore tests of a stage on the shared cluster', () => {
  let t: TestSteward;
  let store: ControlStore;
  let acmeDb: string;
  let betaDb: string;
  /** acme/prod's database's oid and its ledger's file node at backup time: what the integrity test damages. */
  let acmeOid: number;
  let ledgerNode: number;
  let fullLabel: string;
  let target: Date;
  let filesDir: string;
  const admin = (database = 'postgres'): pg.ClientConfig => ({
    connectionString: replaceDatabase(t.sharedClusterUrl, database),
  });
  const notes = (database: string): Promise<string[]> =>
    withClient(admin(database), async (c) =>
      (
        await c.query<{ note: string }>(`select note from ledger where note like '%target' order by id`)
      ).rows.map((r) => r.note),
    );

  async function finishedRestore(id: string, timeoutMs = 120_000): Promise<RestoreView> {
    return eventually(
      `restore ${id} to end`,
      async () => {
        const res = await t.request('GET', `/api/v1/restores/${id}`);
        expect(res.status, res.text).toBe(200);
        const view = res.body as RestoreView;
        return view.status === 'running' ? undefined : view;
      },
      timeoutMs,
    );
  }

  async function finishedTest(id: string, timeoutMs = 120_000): Promise<RestoreTestView> {
    return eventually(
      `restore test ${id} to end`,
      async () => {
        const res = await t.request('GET', `/api/v1/restore-tests/${id}`);
        expect(res.status, res.text).toBe(200);
        const view = res.body as RestoreTestView;
        return view.status === 'running' ? undefined : view;
      },
      timeoutMs,
    );
  }

  async function exportNow(stage = 'prod'): Promise<string> {
    const made = await t.request('POST', `/api/v1/tenants/acme/stages/${stage}/exports`);
    expect(made.status, made.text).toBe(202);
    const done = await eventually('the export to end', async () => {
      const res = await t.request('GET', `/api/v1/exports/${made.body.id as string}`);
      return res.body.status === 'running' ? undefined : res.body;
    });
    expect(done.status, done.reason).toBe('succeeded');
    return made.body.id as string;
  }

  beforeAll(async () => {
    t = await startTestSteward({
      sharedBackups: true,
      runtimeTickMs: 500,
      config: { backups: { backupTimeoutMinutes: 10 } },
    });
    store = openControlStore(t.controlUrl, { max: 2 });
    await turnOnFullPageWrites(admin());
    for (const slug of ['acme', 'beta']) {
      const created = await t.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
      expect(created.status, created.text).toBe(201);
    }
    await Promise.all([t.waitForStages('acme', 'ready', 60_000), t.waitForStages('beta', 'ready', 60_000)]);
    acmeDb = await t.database('acme', 'prod');
    betaDb = await t.database('beta', 'prod');
    for (const database of [acmeDb, betaDb]) {
      await withClient(admin(database), async (c) => {
        // Created by the stage's role, as its app would.
        await c.query(`set role ${database}`);
        await c.query(
          'create table ledger (id bigserial primary key, note text not null, at timestamptz not null default now())',
        );
        await c.query(`insert into ledger (note) select 'row ' || g from generate_series(1, 2000) g`);
      });
    }
    acmeOid = await withClient(admin(), async (c) =>
      Number(
        (
          await c.query<{ oid: string }>('select oid::text as oid from pg_database where datname = $1', [
            acmeDb,
          ])
        ).rows[0]!.oid,
      ),
    );
    ledgerNode = await withClient(admin(acmeDb), async (c) =>
      Number((await c.query<{ n: string }>(`select pg_relation_filenode('ledger')::text as n`)).rows[0]!.n),
    );

    // The app, with a verify command, runs in acme/prod.
    const upload = await t.api.inject({
      method: 'POST',
      url: '/api/v1/releases?version=1.0.0',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/gzip' },
      payload: packRelease(join(import.meta.dirname, 'fixtures', 'verify-app')),
    });
    expect(upload.statusCode, upload.body).toBe(201);
    const deploy = await t.request('POST', '/api/v1/tenants/acme/stages/prod/deployments', {
      version: '1.0.0',
    });
    expect(deploy.status, deploy.text).toBe(202);
    const deployed = await eventually(
      'the deployment',
      async () => {
        const res = await t.request('GET', `/api/v1/deployments/${deploy.body.id as string}`);
        return ['active', 'failed'].includes(res.body.status as string) ? res.body : undefined;
      },
      60_000,
    );
    expect(deployed.status, deployed.reason).toBe('active');

    // Files, and an export of them with a passphrase key (Steward can open it) before the target time.
    const key = await t.request('PUT', '/api/v1/tenants/acme/export-key', { generate: 'passphrase' });
    expect(key.status, key.text).toBe(200);
    filesDir = join(t.dataDir, 'files', 'acme', 'prod');
    await mkdir(join(filesDir, 'reports'), { recursive: true });
    await writeFile(join(filesDir, 'reports', 'q3.txt'), 'version one\n');
    await exportNow();

    fullLabel = (await backupNow(t, 'acme', 'prod')).repos[0]!.run!.label!;

    await sleep(1100); // past the backup's consistent point
    await withClient(admin(acmeDb), (c) => c.query(`insert into ledger (note) values ('before the target')`));
    await sleep(500);
    target = new Date();
    await sleep(500);
    for (const database of [acmeDb, betaDb]) {
      await withClient(admin(database), (c) =>
        c.query(`insert into ledger (note) values ('after the target')`),
      );
    }
    // A later export with other files: not the one a restore to the target takes.
    await writeFile(join(filesDir, 'reports', 'q3.txt'), 'version two\n');
    await exportNow();
  }, 180_000);

  afterAll(async () => {
    await store?.close();
    await t?.close();
  }, 60_000);

  it('fingerprinted the prod databases right after the backup, at a restore point', async () => {
    const rows = await store.db
      .selectFrom('backup_fingerprints')
      .selectAll()
      .where('backup_label', '=', fullLabel)
      .orderBy('database_name')
      .execute();
    // Opaque names: the order of the two databases by name is anyone's.
    const expected: [string, number, boolean][] = [
      [acmeDb, 1, true],
      [betaDb, 1, true],
    ];
    expect(rows.map((r) => [r.database_name, r.repo, r.exact])).toEqual(
      expected.sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    );
    const acme = rows.find((r) => r.database_name === acmeDb)!;
    expect(acme.restore_point).toBe(`steward-fp-${fullLabel}`);
    expect(acme.tables).toEqual([expect.objectContaining({ schema: 'public', table: 'ledger', rows: 2000 })]);
  });

  it('refuses a time outside the restorable range, a malformed one, and an unconfirmed in-place restore, changing nothing', async () => {
    const cases: [unknown, string, RegExp][] = [
      [
        { toTime: new Date(Date.now() - 86_400_000).toISOString(), into: 'copy' },
        'toTime',
        /^field "toTime": to-time \S+ is before the oldest backup; restorable range for acme\/prod in repo1: \S+ … now \(\S+\); newest archived WAL [0-9A-F]{24}$/,
      ],
      [
        { toTime: new Date(Date.now() + 3_600_000).toISOString(), into: 'copy' },
        'toTime',
        /is in the future; restorable range for acme\/prod in repo1: /,
      ],
      [
        { toTime: '2026-11-23 10:15:00', into: 'copy' },
        'toTime',
        /not a point in time; use a date, a time and a UTC offset/,
      ],
      [
        { toTime: target.toISOString(), inPlace: true },
        'confirm',
        /field "confirm": is missing; .* send "confirm": "prod"/,
      ],
      [
        { toTime: target.toISOString(), inPlace: true, confirm: 'dev' },
        'confirm',
        /"dev" is not the stage's name/,
      ],
      [{ toTime: target.toISOString() }, 'into', /either "into" .* or "inPlace"/],
      [
        { toTime: target.toISOString(), into: 'prod_restored' },
        'into',
        /stage name "prod_restored" is not accepted/,
      ],
    ];
    for (const [body, field, message] of cases) {
      const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restores', body);
      expect(res.status, res.text).toBe(400);
      expect(res.body.field, res.text).toBe(field);
      expect(res.body.message).toMatch(message);
    }
    const exists = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restores', {
      toTime: target.toISOString(),
      into: 'prod',
    });
    expect(exists.status).toBe(409);
    const tenant = await t.request('GET', '/api/v1/tenants/acme');
    expect(tenant.body.stages.map((s: { name: string }) => s.name)).toEqual(['prod']);
    expect((await t.request('GET', '/api/v1/tenants/acme/restores')).body.restores).toEqual([]);
    // An auditor reads restores but starts none.
    const auditor = await t.request('POST', '/api/v1/tokens', { name: 'audit', role: 'auditor' });
    const token = auditor.body.token as string;
    expect((await t.request('GET', '/api/v1/tenants/acme/restores', undefined, token)).status).toBe(200);
    expect((await t.request('GET', '/api/v1/restore-tests?tenant=acme', undefined, token)).status).toBe(200);
    const refused = await t.request(
      'POST',
      '/api/v1/tenants/acme/stages/prod/restores',
      { toTime: target.toISOString(), into: 'copy' },
      token,
    );
    expect(refused.status).toBe(403);
  });

  it('restores acme/prod to a point in time into a new stage: its data then, its files from the nearest export, the other tenant untouched', async () => {
    const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restores', {
      toTime: target.toISOString(),
      into: 'prod-restored',
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({
      mode: 'into',
      targetStage: 'prod-restored',
      backupLabel: fullLabel,
      status: 'running',
    });
    const phases = new Set<string>();
    const done = await eventually(
      'the restore to end',
      async () => {
        const view = (await t.request('GET', `/api/v1/restores/${res.body.id as string}`))
          .body as RestoreView;
        phases.add(view.phase);
        return view.status === 'running' ? undefined : view;
      },
      120_000,
    );
    expect(done.status, done.error ?? '').toBe('succeeded');
    console.log(`restore into a new stage: ${JSON.stringify(done.timings)}`);
    expect([...phases].some((p) => ['restoring', 'copying', 'verifying', 'creating-stage'].includes(p))).toBe(
      true,
    );
    expect(done.keptDatabase).toBeNull();
    expect(done.files.restored).toBe(true);
    expect(done.files.note).toMatch(/^1 files \(\d+ bytes\) restored from export /);

    const restoredDb = await t.database('acme', 'prod-restored');
    expect(await notes(restoredDb)).toEqual(['before the target']);
    expect(await notes(acmeDb)).toEqual(['before the target', 'after the target']);
    expect(await notes(betaDb)).toEqual(['after the target']);
    // The new stage's role owns what was restored and reads it with its own credentials.
    const credentials = await t.request('GET', '/api/v1/tenants/acme/stages/prod-restored/credentials');
    const count = await withClient(
      { connectionString: credentials.body.databaseUrl as string },
      async (c) => {
        const owner = await c.query<{ owner: string }>(
          `select tableowner as owner from pg_tables where tablename = 'ledger'`,
        );
        expect(owner.rows[0]!.owner).toBe(restoredDb);
        return (await c.query<{ n: number }>('select count(*)::int as n from ledger')).rows[0]!.n;
      },
    );
    expect(count).toBe(2001);
    // No replacement database is left behind.
    const leftovers = await withClient(
      admin(),
      async (c) =>
        (
          await c.query<{ datname: string }>(
            `select datname from pg_database where datname like '%\\_rst\\_%'`,
          )
        ).rows,
    );
    expect(leftovers).toEqual([]);
    expect(
      await readFile(join(t.dataDir, 'files', 'acme', 'prod-restored', 'reports', 'q3.txt'), 'utf8'),
    ).toBe('version one\n');

    const listed = await t.request('GET', '/api/v1/tenants/acme/restores');
    expect(listed.body.restores.map((r: RestoreView) => r.id)).toEqual([done.id]);
    const events = await t.services.audit.list({ tenant: 'acme' });
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['restore.request', 'restore.succeeded']),
    );
  });

  it('restores no files from an export whose links leave the stage through each other, and changes nothing outside the new stage', async () => {
    // Each link alone stays inside; unpacked as a stage's staging dir, "up" is the tenant's
    // directory and "sib" the prod stage's files dir: what a chown that follows links would hand over.
    const tenantDir = join(t.dataDir, 'files', 'acme');
    const links = { a: '.', up: 'a/..', sib: 'up/prod' };
    for (const [name, to] of Object.entries(links)) await symlink(to, join(filesDir, name));
    const owners = async (): Promise<string[]> =>
      Promise.all(
        [tenantDir, filesDir, join(filesDir, 'reports', 'q3.txt')].map(async (path) => {
          const info = await lstat(path);
          return `${path} ${info.uid}:${info.gid} ${(info.mode & 0o7777).toString(8)}`;
        }),
      );
    const before = await owners();
    try {
      const exportId = await exportNow();
      await sleep(1100);
      const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restores', {
        toTime: new Date().toISOString(),
        into: 'prod-links',
      });
      expect(res.status, res.text).toBe(202);
      const done = await finishedRestore(res.body.id as string);
      expect(done.status, done.error ?? '').toBe('succeeded');
      expect(await owners()).toEqual(before);
      expect(done.files.restored).toBe(false);
      expect(done.files.note).toContain(`export ${exportId}`);
      expect(done.files.note).toMatch(
        /symlink "files\/(sib|up)" leaves the files directory through other links/,
      );
      expect(await readdir(join(tenantDir, 'prod-links')).catch(() => [])).toEqual([]);
    } finally {
      for (const name of Object.keys(links)) await rm(join(filesDir, name), { force: true });
    }
  });

  it('restores in place only with the confirmation, keeps the old database until discarded, and restarts the app', async () => {
    const before = (await t.request('GET', '/api/v1/tenants/acme/ps')).body;
    const workerPid = before.stages
      .find((s: { stage: string }) => s.stage === 'prod')
      .processes.find((p: { process: string }) => p.process === 'worker').pid as number;
    const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restores', {
      toTime: target.toISOString(),
      inPlace: true,
      confirm: 'prod',
    });
    expect(res.status, res.text).toBe(202);
    const done = await finishedRestore(res.body.id as string);
    expect(done.status, done.error ?? '').toBe('succeeded');
    console.log(`restore in place: ${JSON.stringify(done.timings)}`);
    expect(done.keptDatabase).toMatch(new RegExp(`^${acmeDb}_pre_\\d{14}$`));
    expect(await notes(acmeDb)).toEqual(['before the target']);
    expect(await notes(done.keptDatabase!)).toEqual(['before the target', 'after the target']);
    expect(await readFile(join(filesDir, 'reports', 'q3.txt'), 'utf8')).toBe('version one\n');
    expect(await readFile(join(done.keptFilesDir!, 'reports', 'q3.txt'), 'utf8')).toBe('version two\n');
    // The stage's processes were started again.
    const worker = await eventually('the worker to run again', async () => {
      const ps = (await t.request('GET', '/api/v1/tenants/acme/ps')).body;
      const w = ps.stages
        .find((s: { stage: string }) => s.stage === 'prod')
        .processes.find((p: { process: string }) => p.process === 'worker');
      return w?.pid && w.phase === 'running' ? w : undefined;
    });
    expect(worker.pid).not.toBe(workerPid);

    const discarded = await t.request('POST', `/api/v1/restores/${done.id}/discard`);
    expect(discarded.status, discarded.text).toBe(200);
    expect(discarded.body).toMatchObject({ keptDatabase: null, discardedBy: 'operator:admin' });
    const kept = await withClient(
      admin(),
      async (c) =>
        (await c.query('select 1 from pg_database where datname = $1', [done.keptDatabase])).rowCount,
    );
    expect(kept).toBe(0);
    expect(existsSync(done.keptFilesDir!)).toBe(false);
    const again = await t.request('POST', `/api/v1/restores/${done.id}/discard`);
    expect(again.status).toBe(409);
    const events = await t.services.audit.list({ action: 'restore.discard' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'operator:admin', tenant: 'acme' });
  });

  it('runs a restore test: the newest fingerprinted backup restored into a scratch, tables and the app verified, evidence recorded', async () => {
    const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restore-tests');
    expect(res.status, res.text).toBe(202);
    const second = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restore-tests');
    expect(second.status).toBe(409);
    const done = await finishedTest(res.body.id as string);
    console.log(`restore test: rto ${done.rtoMs} ms, rpo ${done.rpoSeconds} s`);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(done).toMatchObject({
      trigger: 'manual',
      cluster: 'shared',
      repo: 1,
      backupLabel: fullLabel,
      restorePoint: `steward-fp-${fullLabel}`,
      error: null,
    });
    expect(done.rpoSeconds).toBeGreaterThanOrEqual(1);
    expect(done.rtoMs).toBeGreaterThan(0);
    expect(done.verification!.fingerprint).toMatchObject({ ok: true, exact: true, takenByTest: false });
    expect(done.verification!.fingerprint!.tables).toEqual([
      {
        table: 'public.ledger',
        ok: true,
        expected: expect.objectContaining({ rows: 2000 }),
        actual: expect.objectContaining({ rows: 2000 }),
      },
    ]);
    expect(done.verification!.app).toMatchObject({
      release: '1.0.0',
      exitCode: 0,
      output: 'ledger rows: 2000',
    });
    // Torn down: no scratch left.
    expect(await readdir(join(t.dataDir, 'backups', 'state', 'shared', 'scratch'))).toEqual([]);
    const listed = await t.request('GET', '/api/v1/restore-tests?tenant=acme');
    expect(listed.body.restoreTests.map((r: RestoreTestView) => r.id)).toEqual([done.id]);
    const events = await t.services.audit.list({ action: 'restore_test.succeeded' });
    expect(events.at(-1)).toMatchObject({ tenant: 'acme', outcome: 'success' });
  });

  it('restore-tests the off-site repository when asked (repo 2), and refuses a repository without a backup', async () => {
    const missing = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restore-tests', { repo: 3 });
    expect(missing.status, missing.text).toBe(400);
    expect(missing.body).toMatchObject({ field: 'repo' });
    expect(missing.body.message).toMatch(
      /repo3 holds no good backup of acme\/prod; repositories with one: 1/,
    );
    const requested = await t.request('POST', '/api/v1/tenants/acme/stages/prod/backups', {
      type: 'full',
      repo: 2,
    });
    expect(requested.status, requested.text).toBe(202);
    const backup = await eventually(
      'the repo2 backup',
      async () => {
        const res = await t.request('GET', `/api/v1/backup-requests/${requested.body.id as string}`);
        const view = res.body as BackupRequestView;
        return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
      },
      120_000,
    );
    expect(backup.status, backup.reason).toBe('succeeded');
    const repo2Label = backup.repos[0]!.run!.label!;
    const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restore-tests', { repo: 2 });
    expect(res.status, res.text).toBe(202);
    const done = await finishedTest(res.body.id as string);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(done).toMatchObject({ repo: 2, backupLabel: repo2Label });
    expect(done.verification!.fingerprint).toMatchObject({ ok: true });
  });

  it('schedules restore tests daily for prod stages, by an injected clock', async () => {
    const clock = new ManualClock();
    const scheduler = new RestoreService({
      db: store.db,
      audit: t.services.audit,
      clock,
      logger: silentLogger,
      tenants: t.services.tenants,
      backups: t.services.backups,
      exports: t.services.exports,
      runtime: t.services.runtime,
      dataDir: t.dataDir,
      sharedClusterUrl: t.sharedClusterUrl,
    });
    // acme/prod was tested a moment ago; beta/prod never: only it is due. prod-restored is no prod stage.
    const first = await scheduler.scheduledPass();
    expect(first.started.map((s) => `${s.tenant}/${s.stage}:${s.trigger}`)).toEqual(['beta/prod:schedule']);
    const betaTest = await finishedTest(first.started[0]!.id);
    expect(betaTest.status, betaTest.error ?? '').toBe('succeeded');
    expect(betaTest.verification!.app).toBeNull();
    expect((await scheduler.scheduledPass()).started).toEqual([]);
    clock.advance(24 * 3600 + 60);
    const later = await scheduler.scheduledPass();
    expect(later.started.map((s) => `${s.tenant}/${s.stage}`).sort()).toEqual(['acme/prod', 'beta/prod']);
    for (const started of later.started) {
      const view = await finishedTest(started.id);
      expect(view.status, view.error ?? '').toBe('succeeded');
    }
  });

  it('converges after a kill -9 mid-restore: the dead scratch is removed and the restore redone from the start', async () => {
    const stateDir = join(t.dataDir, 'backups', 'state', 'shared');
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, 'fixtures', 'restore-scratch-child.ts')],
      {
        env: {
          ...process.env,
          STEWARD_TEST_SCRATCH: JSON.stringify({
            configPath: join(stateDir, 'pgbackrest.conf'),
            stanza: 'shared',
            binDir: t.sharedCluster!.binDir,
            parentDir: join(stateDir, 'scratch'),
            set: fullLabel,
            database: betaDb,
          }),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const dir = await eventually(
      'the child to make its scratch',
      () => Promise.resolve(/^dir=(.+)$/m.exec(out)?.[1]),
      60_000,
    );
    child.kill('SIGKILL');
    await exited;
    const postmaster = Number((await readFile(join(dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    expect(() => process.kill(postmaster, 0)).not.toThrow();

    // What the killed Steward left of an in-place restore of beta/prod mid-copy: its record, its job, a partial copy.
    const id = randomUUID();
    const replacement = `${betaDb}_rst_${id.replaceAll('-', '').slice(0, 8)}`;
    const createdAt = new Date();
    const keptName = `${betaDb}_pre_${createdAt.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
    await store.db
      .insertInto('restores')
      .values({
        id,
        tenant_slug: 'beta',
        source_stage: 'prod',
        target_stage: 'prod',
        mode: 'in-place',
        target_time: target,
        cluster: 'shared',
        repo: 1,
        backup_label: fullLabel,
        source_database: betaDb,
        target_database: betaDb,
        replacement_database: replacement,
        kept_database: keptName,
        fingerprint: null,
        phase: 'copying',
        progress: 'copying',
        created_by: 'operator:admin',
        created_at: createdAt,
      })
      .execute();
    await withClient(admin(), (c) => c.query(`create database ${replacement} owner ${betaDb}`));
    await withClient(admin(replacement), (c) => c.query('create table half_copied (x int)'));
    // Steward starts again: the job is still queued and runs.
    await store.db.insertInto('jobs').values({ kind: 'restore', key: id, run_at: new Date() }).execute();
    const done = await finishedRestore(id);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(existsSync(dir)).toBe(false);
    await eventually('the orphaned scratch postmaster to end', async () => {
      try {
        process.kill(postmaster, 0);
        const stat = await readFile(`/proc/${postmaster}/stat`, 'utf8').catch(() => '');
        return stat.includes(') Z ') ? true : null;
      } catch {
        return true;
      }
    });
    expect(await notes(betaDb)).toEqual([]);
    expect(await notes(keptName)).toEqual(['after the target']);
    const tables = await withClient(
      admin(betaDb),
      async (c) =>
        (
          await c.query<{ t: string }>(
            `select tablename as t from pg_tables where schemaname = 'public' order by 1`,
          )
        ).rows,
    );
    expect(tables).toEqual([{ t: 'ledger' }]);
    expect(done.files.note).toMatch(
      /files not restored: beta\/prod has no succeeded export made at or before/,
    );
    expect((await t.request('POST', `/api/v1/restores/${id}/discard`)).status).toBe(200);
  });

  it('finishes a swap that a kill -9 left half done', async () => {
    const id = randomUUID();
    const replacement = `${acmeDb}_rst_${id.replaceAll('-', '').slice(0, 8)}`;
    const createdAt = new Date();
    const keptName = `${acmeDb}_pre_${createdAt.toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
    await store.db
      .insertInto('restores')
      .values({
        id,
        tenant_slug: 'acme',
        source_stage: 'prod',
        target_stage: 'prod',
        mode: 'in-place',
        target_time: target,
        cluster: 'shared',
        repo: 1,
        backup_label: fullLabel,
        source_database: acmeDb,
        target_database: acmeDb,
        replacement_database: replacement,
        kept_database: keptName,
        fingerprint: null,
        phase: 'swapping',
        progress: 'swapping',
        created_by: 'operator:admin',
        created_at: createdAt,
      })
      .execute();
    await withClient(admin(), (c) => c.query(`create database ${replacement} owner ${acmeDb}`));
    await withClient(admin(replacement), (c) =>
      c.query(`set role ${acmeDb}; create table swapped_in (x int)`),
    );
    // The reconciler must not make a new empty database meanwhile: the stage is paused while it is half-swapped.
    await store.db.updateTable('stages').set({ paused: true }).where('database_name', '=', acmeDb).execute();
    try {
      await withClient(admin(), async (c) => {
        await c.query(`alter database ${acmeDb} allow_connections false`);
        await c.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1`, [acmeDb]);
        await c.query(`alter database ${acmeDb} rename to ${keptName}`);
      });
      expect(await t.services.restores.runRestore(id)).toBe('done');
    } finally {
      await store.db
        .updateTable('stages')
        .set({ paused: false })
        .where('database_name', '=', acmeDb)
        .execute();
    }
    expect((await t.request('GET', `/api/v1/restores/${id}`)).body).toMatchObject({
      status: 'succeeded',
      keptDatabase: keptName,
    });
    const live = await withClient(
      admin(acmeDb),
      async (c) =>
        (await c.query<{ t: string }>(`select tablename as t from pg_tables where schemaname = 'public'`))
          .rows,
    );
    expect(live).toEqual([{ t: 'swapped_in' }]);
    expect(await notes(keptName)).toEqual(['before the target']);
    const allowed = await withClient(
      admin(),
      async (c) =>
        (
          await c.query<{ datname: string; datallowconn: boolean }>(
            'select datname, datallowconn from pg_database where datname = any($1::text[]) order by 1',
            [[acmeDb, keptName]],
          )
        ).rows,
    );
    expect(allowed.map((r) => r.datallowconn)).toEqual([true, true]);
    expect((await t.request('POST', `/api/v1/restores/${id}/discard`)).status).toBe(200);
  });

  it('a byte flipped in repo1 fails verify and the next restore test loudly', async () => {
    const base = join(
      t.dataDir,
      'backups',
      'repo1',
      'backup',
      'shared',
      fullLabel,
      'pg_data',
      'base',
      String(acmeOid),
    );
    const file = (await readdir(base)).find(
      (f) => f === String(ledgerNode) || f.startsWith(`${ledgerNode}.`),
    );
    expect(file, `the ledger's file in ${base}`).toBeDefined();
    const path = join(base, file!);
    const bytes = await readFile(path);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    await writeFile(path, bytes);

    const verified = await t.request('POST', '/api/v1/backup-clusters/shared/verify');
    expect(verified.status, verified.text).toBe(200);
    expect(verified.body.lastVerify.ok).toBe(false);

    const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restore-tests');
    expect(res.status, res.text).toBe(202);
    const done = await finishedTest(res.body.id as string);
    expect(done.status).toBe('failed');
    expect(done.backupLabel).toBe(fullLabel);
    expect(done.error).toMatch(
      new RegExp(
        `^the restore of backup ${fullLabel} from repo1 failed: pgbackrest restore of ${fullLabel} from repo1 failed \\(exit \\d+\\): .*ERROR`,
        's',
      ),
    );
    console.log(`restore test of a damaged backup: ${done.error}`);
    const events = await t.services.audit.list({ action: 'restore_test.failed' });
    expect(events.at(-1)).toMatchObject({
      tenant: 'acme',
      outcome: 'failure',
      target: `tenant/acme/stage/prod/restore-test/${done.id}`,
    });
    expect(await readdir(join(t.dataDir, 'backups', 'state', 'shared', 'scratch'))).toEqual([]);
    // Nothing secret in what Steward logged.
    const passphrase = await t.services.secrets
      .get('backups/shared/repo1/cipher-pass')
      .catch((): string => '');
    if (passphrase) expect(t.logs()).not.toContain(passphrase);
  });

  it('says why it cannot restore files from an export encrypted to a recipient (Steward keeps only its public half)', async () => {
    const key = await t.request('PUT', '/api/v1/tenants/acme/export-key', { generate: 'identity' });
    expect(key.status, key.text).toBe(200);
    const id = await exportNow();
    const into = join(t.dataDir, 'recipient-check');
    await mkdir(into);
    const unpacked = await t.services.exports.unpackFiles(id, into);
    expect(unpacked).toMatchObject({ restored: false });
    expect(unpacked.restored === false && unpacked.reason).toMatch(
      /is encrypted to the tenant's age recipient, and Steward keeps only its public half/,
    );
    expect(await readdir(into)).toEqual([]);
  });
});
