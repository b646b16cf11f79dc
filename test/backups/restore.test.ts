import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareStanza, runBackup, type PgBackRestDriver } from '../../src/backups/index.ts';
import {
  archiveUpToNow,
  backupForTarget,
  checkRestoreTarget,
  cleanScratch,
  closeCopyTarget,
  compareFingerprints,
  copyDatabase,
  openCopyTarget,
  keptDatabaseName,
  restorableRange,
  restoreIntoScratch,
  ScratchRestoreError,
  swapDatabases,
  scratchStageConnection,
  takeFingerprint,
  type ConnectionTarget,
  type ScratchInstance,
} from '../../src/backups/restore/index.ts';
import { InputError } from '../../src/core/errors.ts';
import { postgresRunAs } from '../../src/system/exec.ts';
import { clusterPassword, eventually, startBackupLab, type BackupLab } from './support.ts';
import { withClient } from '../../src/databases/client.ts';

const stanza = 'main';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function historyFiles(repo: string): Promise<string[]> {
  const root = join(repo, 'archive', stanza);
  const out: string[] = [];
  for (const dir of await readdir(root).catch(() => [])) {
    for (const f of await readdir(join(root, dir)).catch(() => [])) if (f.includes('.history')) out.push(f);
  }
  return out.sort();
}

/**
 * A shared cluster with two tenants' databases and one other, backed up by
 * pgBackRest into two encrypted path repositories; one tenant's database is
 * restored to a point in time through a scratch instance and copied back.
 */
describe('point-in-time restore of one database out of a shared cluster', () => {
  let lab: BackupLab;
  let driver: PgBackRestDriver;
  let configPath: string;
  let repo1: string;
  let repo2: string;
  let parentDir: string;
  let fullLabel: string;
  let target: Date;
  let scratch: ScratchInstance | undefined;
  const user = postgresRunAs();
  const admin = (database = 'postgres'): pg.ClientConfig => ({
    connectionString: lab.cluster.superuserUrl(clusterPassword, database),
  });
  /** A stage role's own login on the lab cluster (pg_hba: samerole, by password). */
  const asRole = (role: string, database = role): ConnectionTarget => ({
    host: '127.0.0.1',
    port: lab.cluster.port,
    user: role,
    password: `${role}-password`,
    database,
  });

  beforeAll(async () => {
    lab = await startBackupLab();
    repo1 = join(lab.root, 'repo1');
    repo2 = join(lab.root, 'repo2');
    parentDir = join(lab.root, 'backup', 'scratch');
    for (const name of ['tenant_a', 'tenant_b', 'other']) {
      await lab.query(`create role ${name} login password '${name}-password'`);
      await lab.query(`create database ${name} owner ${name}`);
      await withClient(admin(name), async (c) => {
        await c.query(`set role ${name}`);
        await c.query(
          'create table ledger (id bigserial primary key, note text not null, at timestamptz default now())',
        );
        await c.query(`insert into ledger (note) select $1 || g from generate_series(1, 5000) g`, [name]);
        await c.query('create view recent as select * from ledger order by id desc limit 10');
        await c.query(
          "create function ledger_count() returns bigint language sql as 'select count(*) from ledger'",
        );
      });
    }
    // A variable, not a literal: the repository shape gains a kind while this is written.
    const repositories = [
      { kind: 'path' as const, path: repo1, retention: { kind: 'time' as const, days: 30 } },
      { kind: 'path' as const, path: repo2, retention: { kind: 'time' as const, days: 30 } },
    ];
    const prepared = await prepareStanza({
      db: lab.store.db,
      secrets: lab.secrets,
      cluster: lab.cluster,
      stanza,
      stateDir: join(lab.root, 'backup'),
      repositories,
    });
    driver = prepared.driver;
    configPath = prepared.configPath;
    const full = await runBackup({ db: lab.store.db, driver }, { type: 'full', repo: 1, timeoutMs: 120_000 });
    expect(full.status).toBe('succeeded');
    fullLabel = full.label!;
  }, 180_000);

  afterAll(async () => {
    await scratch?.remove().catch(() => undefined);
    await lab?.close();
  });

  it('refuses a time before the oldest backup or after now, naming the range', async () => {
    const range = restorableRange(await driver.info(), 1, 'acme/prod');
    const now = new Date();
    const before = new Date(range.earliest.getTime() - 3_600_000);
    expect(() => checkRestoreTarget(before, range, now)).toThrow(InputError);
    expect(() => checkRestoreTarget(before, range, now)).toThrow(
      new RegExp(
        `^to-time ${before.toISOString()} is before the oldest backup; restorable range for acme/prod in repo1: ${range.earliest.toISOString().replace('.000Z', 'Z')} … now \\(`,
      ),
    );
    expect(() => checkRestoreTarget(new Date(now.getTime() + 60_000), range, now)).toThrow(
      /is in the future/,
    );
    expect(range.newestWal).toMatch(/^[0-9A-F]{24}$/);
  });

  it('restores one database to a time between two inserts into a scratch that never archives, and copies it into a new stage', async () => {
    const historyBefore = [...(await historyFiles(repo1)), ...(await historyFiles(repo2))];
    await sleep(1100); // the target must be past the backup's consistent point
    await lab.query('select 1');
    await withClient(admin('tenant_a'), (c) =>
      c.query(`insert into ledger (note) values ('before the target')`),
    );
    await sleep(600);
    target = new Date();
    await sleep(600);
    await withClient(admin('tenant_a'), (c) =>
      c.query(`insert into ledger (note) values ('after the target')`),
    );
    await withClient(admin(), (c) => archiveUpToNow(c, () => driver.info(), 1, { timeoutMs: 60_000 }));

    // pgBackRest's restore empties the stanza's spool queues: it must be the scratch's, not the live cluster's.
    const liveQueue = join(lab.root, 'backup', 'spool', 'archive', stanza, 'out');
    await mkdir(liveQueue, { recursive: true });
    await writeFile(join(liveQueue, 'steward-test.marker'), '');
    const range = restorableRange(await driver.info(), 1, 'acme/prod');
    checkRestoreTarget(target, range, new Date());
    const backup = backupForTarget(range, target);
    expect(backup.label).toBe(fullLabel);

    scratch = await restoreIntoScratch({
      configPath,
      stanza,
      binDir: lab.cluster.binDir,
      user,
      parentDir,
      repo: 1,
      set: backup.label,
      target: { kind: 'time', time: target },
      databases: ['tenant_a'],
      timeoutMs: 120_000,
    });
    console.log(`restore of one database to a time into a scratch: ${scratch.durationMs} ms`);
    expect(existsSync(join(liveQueue, 'steward-test.marker'))).toBe(true);
    expect(scratch.dir.startsWith(parentDir)).toBe(true);
    expect(scratch.port).not.toBe(lab.cluster.port);
    // Only the included database (and postgres) are there; the zeroed ones were dropped.
    expect([...scratch.databases].sort()).toEqual(['postgres', 'tenant_a']);
    const settings = await withClient(scratch.connection('postgres'), async (c) => {
      const rows = await c.query<{ name: string; setting: string }>(
        `select name, setting from pg_settings where name in ('archive_mode', 'archive_command', 'listen_addresses', 'port')`,
      );
      const recovering = await c.query<{ r: boolean }>('select pg_is_in_recovery() as r');
      const dbs = await c.query<{ datname: string }>('select datname from pg_database order by 1');
      return {
        ...Object.fromEntries(rows.rows.map((r) => [r.name, r.setting])),
        recovering: recovering.rows[0]!.r,
        dbs: dbs.rows.map((r) => r.datname),
      };
    });
    expect(settings).toMatchObject({
      archive_mode: 'off',
      // What PostgreSQL shows while archive_mode is off; the file says ''.
      archive_command: '(disabled)',
      listen_addresses: '',
      port: String(scratch.port),
      recovering: false,
    });
    const autoConf = await readFile(join(scratch.dataDir, 'postgresql.auto.conf'), 'utf8');
    expect(autoConf).toMatch(/^archive_command = ''$/m);
    // WAL comes in synchronously: the async queue's spool and lock belong to the live cluster.
    expect(autoConf).toMatch(/^restore_command = '.* --no-archive-async .*archive-get %f "%p"'$/m);
    expect(settings.dbs).toEqual(['postgres', 'template0', 'template1', 'tenant_a']);
    const notes = await withClient(scratch.connection('tenant_a'), async (c) =>
      (await c.query<{ note: string }>(`select note from public.ledger where note like '%target'`)).rows.map(
        (r) => r.note,
      ),
    );
    expect(notes).toEqual(['before the target']);

    // The copy: into a new, empty database owned by the new stage's role.
    await lab.query(`create role tenant_new login password 'tenant_new-password'`);
    await withClient(admin(), (c) => openCopyTarget(c, 'tenant_new', 'tenant_new'));
    const copied = await copyDatabase({
      from: await scratchStageConnection(scratch, { database: 'tenant_a', role: 'tenant_a' }),
      to: asRole('tenant_new'),
      binDir: lab.cluster.binDir,
    });
    console.log(`copy of a small database (${copied.mode}): ${copied.durationMs} ms`);
    // The scratch admits a stage role to its own database only, never as the superuser.
    const asTenant = await scratchStageConnection(scratch, { database: 'tenant_a', role: 'tenant_a' });
    expect(
      await withClient(asTenant, async (c) => (await c.query<{ s: string }>('show is_superuser')).rows[0]),
    ).toEqual({ is_superuser: 'off' });
    await expect(withClient({ ...asTenant, database: 'postgres' }, () => Promise.resolve())).rejects.toThrow(
      /no pg_hba\.conf entry/,
    );
    await expect(scratchStageConnection(scratch, { database: 'tenant_a', role: 'postgres' })).rejects.toThrow(
      "role postgres is the cluster's superuser, not a stage's role",
    );
    await expect(scratchStageConnection(scratch, { database: 'tenant_a', role: 'nobody' })).rejects.toThrow(
      'the restored cluster has no role nobody',
    );
    const copiedFingerprint = await withClient(admin('tenant_new'), (c) => takeFingerprint(c));
    const scratchFingerprint = await withClient(scratch.connection('tenant_a'), (c) => takeFingerprint(c));
    expect(compareFingerprints(scratchFingerprint, copiedFingerprint)).toEqual({ ok: true, mismatches: [] });
    await withClient(admin('tenant_new'), async (c) => {
      const notes = await c.query<{ note: string }>(`select note from ledger where note like '%target'`);
      expect(notes.rows.map((r) => r.note)).toEqual(['before the target']);
      expect((await c.query<{ n: string }>('select count(*) as n from ledger')).rows[0]!.n).toBe('5001');
      const owners = await c.query<{ kind: string; name: string; owner: string }>(
        `select c.relkind::text as kind, c.relname as name, pg_get_userbyid(c.relowner) as owner
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'
         union all
         select 'f', p.proname, pg_get_userbyid(p.proowner) from pg_proc p
         join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'`,
      );
      expect(owners.rows.map((r) => r.kind).sort()).toEqual(['S', 'f', 'i', 'r', 'v']);
      for (const row of owners.rows) expect(row.owner, `${row.kind} ${row.name}`).toBe('tenant_new');
      // The stage's role can use its data (its sequence too).
      await c.query('set role tenant_new');
      await c.query(`insert into ledger (note) values ('new stage writes')`);
      expect((await c.query<{ n: string }>('select ledger_count()::text as n')).rows[0]!.n).toBe('5002');
    });
    // The live databases were not touched: tenant_a still has both rows; the others their 5000.
    const live = await withClient(
      admin('tenant_a'),
      async (c) =>
        (await c.query<{ note: string }>(`select note from ledger where note like '%target' order by id`))
          .rows,
    );
    expect(live.map((r) => r.note)).toEqual(['before the target', 'after the target']);
    for (const name of ['tenant_b', 'other']) {
      const n = await withClient(
        admin(name),
        async (c) => (await c.query('select count(*)::int as n from ledger')).rows[0],
      );
      expect(n).toEqual({ n: 5000 });
    }

    // Promotion made a new timeline in the scratch, and nothing of it reached the repositories.
    const timeline = await withClient(
      scratch.connection('postgres'),
      async (c) =>
        (await c.query<{ t: number }>('select timeline_id as t from pg_control_checkpoint()')).rows[0]!.t,
    );
    await withClient(scratch.connection('postgres'), (c) => c.query('select pg_switch_wal()'));
    await sleep(1500);
    expect(timeline).toBeGreaterThan(1);
    expect([...(await historyFiles(repo1)), ...(await historyFiles(repo2))]).toEqual(historyBefore);
    const info = await driver.info();
    for (const repo of [1, 2]) {
      const archive = info.archives.find((a) => a.repo === repo)!;
      expect(archive.max!.startsWith('00000001')).toBe(true);
    }
  });

  it('restores the whole cluster to the newest archived WAL, and a cancelled restore leaves nothing behind', async () => {
    const latest = await restoreIntoScratch({
      configPath,
      stanza,
      binDir: lab.cluster.binDir,
      user,
      parentDir,
      repo: 2,
      set: fullLabel,
      target: { kind: 'latest' },
      timeoutMs: 120_000,
    }).catch((error: unknown) => error);
    // repo2 has no backup: pgBackRest's own words come back, and nothing is left.
    expect(latest).toBeInstanceOf(ScratchRestoreError);
    expect((latest as Error).message).toMatch(/pgbackrest restore of .* from repo2 failed/);
    const whole = await restoreIntoScratch({
      configPath,
      stanza,
      binDir: lab.cluster.binDir,
      user,
      parentDir,
      repo: 1,
      set: fullLabel,
      target: { kind: 'latest' },
      timeoutMs: 120_000,
    });
    try {
      // (tenant_new too, if WAL with its creation happened to be archived already.)
      expect(whole.databases).toEqual(expect.arrayContaining(['other', 'postgres', 'tenant_a', 'tenant_b']));
      const notes = await withClient(
        whole.connection('tenant_a'),
        async (c) =>
          (
            await c.query<{ note: string }>(
              `select note from public.ledger where note like '%target' order by id`,
            )
          ).rows,
      );
      expect(notes.map((r) => r.note)).toEqual(['before the target', 'after the target']);
    } finally {
      await whole.remove();
    }

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const cancelled = await restoreIntoScratch({
      configPath,
      stanza,
      binDir: lab.cluster.binDir,
      user,
      parentDir,
      repo: 1,
      set: fullLabel,
      target: { kind: 'immediate' },
      timeoutMs: 120_000,
      signal: controller.signal,
    }).catch((error: unknown) => error);
    expect(cancelled).toBeInstanceOf(ScratchRestoreError);
    expect((cancelled as Error).message).toMatch(/cancelled/);
    // Only the scratch of the point-in-time restore is left.
    expect(await readdir(parentDir)).toEqual([scratch!.id]);
  });

  it('swaps a restored copy in place, keeping the old database, and a crash between the renames converges', async () => {
    // The replacement has another name than the role: an access role of its name lets the role in.
    await withClient(admin(), (c) => openCopyTarget(c, 'tenant_a_restored', 'tenant_a'));
    await copyDatabase({
      from: await scratchStageConnection(scratch!, { database: 'tenant_a', role: 'tenant_a' }),
      to: asRole('tenant_a', 'tenant_a_restored'),
      binDir: lab.cluster.binDir,
      mode: 'directory',
      workDir: parentDir,
    });
    await withClient(admin(), (c) => closeCopyTarget(c, 'tenant_a_restored'));
    expect(await lab.query(`select 1 from pg_roles where rolname = 'tenant_a_restored'`)).toEqual([]);
    // An app session on the live database is ended by the swap.
    const app = new pg.Client(admin('tenant_a'));
    app.on('error', () => undefined);
    await app.connect();
    const keepAs = keptDatabaseName('tenant_a', new Date());
    expect(keepAs).toMatch(/^tenant_a_pre_\d{14}$/);
    const swapped = await withClient(admin(), (c) =>
      swapDatabases(c, { live: 'tenant_a', replacement: 'tenant_a_restored', keepAs }),
    );
    expect(swapped).toEqual({ found: 'not-started', state: 'swapped' });
    await expect(app.query('select 1')).rejects.toThrow();
    await app.end().catch(() => undefined);
    const notes = async (db: string): Promise<string[]> =>
      withClient(admin(db), async (c) =>
        (
          await c.query<{ note: string }>(`select note from ledger where note like '%target' order by id`)
        ).rows.map((r) => r.note),
      );
    expect(await notes('tenant_a')).toEqual(['before the target']);
    expect(await notes(keepAs)).toEqual(['before the target', 'after the target']);
    // Again: nothing to do.
    expect(
      await withClient(admin(), (c) =>
        swapDatabases(c, { live: 'tenant_a', replacement: 'tenant_a_restored', keepAs }),
      ),
    ).toEqual({ found: 'swapped', state: 'swapped' });

    // A crash between the two renames (an older run, or a hand at the console): calling again finishes.
    await lab.query('create database tenant_b_restored owner tenant_b');
    const keepB = keptDatabaseName('tenant_b', new Date());
    await lab.query('alter database tenant_b allow_connections false');
    await lab.query(`alter database tenant_b rename to ${keepB}`);
    expect(
      await withClient(admin(), (c) =>
        swapDatabases(c, { live: 'tenant_b', replacement: 'tenant_b_restored', keepAs: keepB }),
      ),
    ).toEqual({ found: 'half-swapped', state: 'swapped' });
    const rows = await lab.query<{ datname: string; datallowconn: boolean }>(
      `select datname, datallowconn from pg_database where datname like 'tenant_b%' order by 1`,
    );
    expect(rows).toEqual([
      { datname: 'tenant_b', datallowconn: true },
      { datname: keepB, datallowconn: true },
    ]);
    // The new tenant_b is the (empty) replacement; the kept one has the data.
    expect(
      await withClient(
        admin('tenant_b'),
        async (c) => (await c.query(`select to_regclass('ledger') as t`)).rows[0],
      ),
    ).toEqual({ t: null });
    expect(
      await withClient(
        admin(keepB),
        async (c) => (await c.query('select count(*)::int as n from ledger')).rows[0],
      ),
    ).toEqual({ n: 5000 });
    // A state that is none of the three is refused, naming what is there.
    await expect(
      withClient(admin(), (c) =>
        swapDatabases(c, { live: 'tenant_b', replacement: 'nowhere', keepAs: 'tenant_b_x' }),
      ),
    ).rejects.toThrow(/the databases present are tenant_b/);
  });

  it('cleanScratch stops and removes a scratch whose Steward was killed (kill -9), and leaves live ones alone', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'scratch-child.ts')], {
      env: {
        ...process.env,
        STEWARD_TEST_SCRATCH: JSON.stringify({
          configPath,
          stanza,
          binDir: lab.cluster.binDir,
          parentDir,
          set: fullLabel,
        }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const dir = await eventually(
      'the child to restore its scratch',
      () => Promise.resolve(/^dir=(.+)$/m.exec(out)?.[1]),
      60_000,
    );
    child.kill('SIGKILL');
    await exited;
    const pidFile = join(dir, 'data', 'postmaster.pid');
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    expect(() => process.kill(pid, 0)).not.toThrow();

    const removed = await cleanScratch(parentDir, { user });
    expect(removed).toEqual([dir.split('/').pop()]);
    expect(existsSync(dir)).toBe(false);
    await eventually('the orphaned scratch postmaster to end', async () => {
      try {
        process.kill(pid, 0);
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
        return stat.includes(') Z ') ? true : null;
      } catch {
        return true;
      }
    });
    // The scratch of this (live) process stays.
    expect(existsSync(scratch!.dir)).toBe(true);
    await scratch!.remove();
    expect(existsSync(scratch!.dir)).toBe(false);
    expect(await readdir(parentDir)).toEqual([]);
  });
});
