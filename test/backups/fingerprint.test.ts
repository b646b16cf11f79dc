import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareFingerprints,
  recordFingerprintWithRestorePoint,
  takeFingerprint,
  type DatabaseAccess,
  type Fingerprint,
} from '../../src/backups/fingerprint.ts';
import { prepareStanza, runBackup, type PgBackRestDriver } from '../../src/backups/index.ts';
import {
  restoreIntoScratch,
  waitForArchivedWal,
  type ScratchInstance,
} from '../../src/backups/restore/index.ts';
import { postgresRunAs } from '../../src/system/exec.ts';
import { clusterPassword, startBackupLab, type BackupLab } from './support.ts';
import { withClient } from '../../src/databases/client.ts';

const stanza = 'main';

describe('compareFingerprints', () => {
  const base: Fingerprint = {
    tables: [
      { schema: 'public', table: 'a', rows: 2, sum: '10', xor: '3' },
      { schema: 'public', table: 'b', rows: 0, sum: '0', xor: '0' },
    ],
  };
  it('is ok for the same tables in any order', () => {
    expect(compareFingerprints(base, { tables: [...base.tables].reverse() })).toEqual({
      ok: true,
      mismatches: [],
    });
  });
  it('names every table that differs or is missing on either side', () => {
    const actual: Fingerprint = {
      tables: [
        { schema: 'public', table: 'a', rows: 2, sum: '11', xor: '3' },
        { schema: 'public', table: 'c', rows: 1, sum: '1', xor: '1' },
      ],
    };
    const result = compareFingerprints(base, actual);
    expect(result.ok).toBe(false);
    expect(result.mismatches.map((m) => [m.table, m.expected?.sum ?? null, m.actual?.sum ?? null])).toEqual([
      ['public.a', '10', '11'],
      ['public.b', '0', null],
      ['public.c', null, '1'],
    ]);
  });
});

/**
 * The fingerprint recorded at a restore point, while an app writes, is
 * exactly what a restore to that restore point holds.
 */
describe('fingerprints recorded with a restore point on a cluster that is being written to', () => {
  let lab: BackupLab;
  let driver: PgBackRestDriver;
  let configPath: string;
  let scratch: ScratchInstance | undefined;
  const admin = (database = 'postgres'): pg.ClientConfig => ({
    connectionString: lab.cluster.superuserUrl(clusterPassword, database),
  });
  /** Each database is read as its owner, a role of its name without any privilege, as Steward reads a stage's. */
  const access = (...databases: string[]): DatabaseAccess[] =>
    databases.map((database) => ({
      database,
      connection: {
        host: '127.0.0.1',
        port: lab.cluster.port,
        user: database,
        password: `${database}-password`,
        database,
      },
    }));

  beforeAll(async () => {
    lab = await startBackupLab();
    for (const name of ['app_one', 'app_two']) {
      await lab.query(`create role ${name} login password '${name}-password'`);
      await lab.query(`create database ${name} owner ${name}`);
      await withClient(admin(name), async (c) => {
        await c.query(`set role ${name}`);
        await c.query('create schema books');
        await c.query(
          'create table books.entries (id bigserial primary key, amount int not null, memo text)',
        );
        await c.query('create table plain (k int primary key, v jsonb)');
        await c.query('create unlogged table scratchpad (x int)');
        await c.query(
          `insert into books.entries (amount, memo) select g, 'm' || g from generate_series(1, 20000) g`,
        );
        await c.query(
          `insert into plain select g, jsonb_build_object('g', g) from generate_series(1, 1000) g`,
        );
        await c.query('insert into scratchpad values (1)');
      });
    }
    const repositories = [
      {
        kind: 'path' as const,
        path: join(lab.root, 'repo1'),
        retention: { kind: 'time' as const, days: 30 },
      },
      {
        kind: 'path' as const,
        path: join(lab.root, 'repo2'),
        retention: { kind: 'time' as const, days: 30 },
      },
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
  }, 180_000);

  afterAll(async () => {
    await scratch?.remove().catch(() => undefined);
    await lab?.close();
  });

  it('takes per-table counts and order-independent hashes of ordinary, logged tables', async () => {
    const fingerprint = await withClient(admin('app_one'), (c) => takeFingerprint(c));
    expect(fingerprint.tables.map((t) => [t.schema, t.table, t.rows])).toEqual([
      ['books', 'entries', 20000],
      ['public', 'plain', 1000],
    ]);
    // The same data in another database, inserted the same way, gives the same fingerprint.
    const other = await withClient(admin('app_two'), (c) => takeFingerprint(c));
    expect(compareFingerprints(fingerprint, other).ok).toBe(true);
    // One changed value is seen.
    await withClient(admin('app_two'), (c) => c.query(`update plain set v = '{"g": 0}' where k = 7`));
    const changed = await withClient(admin('app_two'), (c) => takeFingerprint(c));
    expect(compareFingerprints(fingerprint, changed).mismatches.map((m) => m.table)).toEqual([
      'public.plain',
    ]);
  });

  it('a restore to the restore point holds exactly the recorded fingerprints, though writers never stopped', async () => {
    let writing = true;
    let written = 0;
    const writer = async (database: string): Promise<void> => {
      const client = new pg.Client(admin(database));
      client.on('error', () => undefined);
      await client.connect();
      try {
        while (writing) {
          await client.query(
            `with i as (insert into books.entries (amount, memo) values (1, 'live') returning id)
             update plain set v = jsonb_build_object('n', (select id from i)) where k = (select id from i) % 1000 + 1`,
          );
          written++;
        }
      } finally {
        await client.end();
      }
    };
    const writers = [writer('app_one'), writer('app_one'), writer('app_two')];
    let recorded: Awaited<ReturnType<typeof recordFingerprintWithRestorePoint>>;
    try {
      await new Promise((r) => setTimeout(r, 300));
      recorded = await recordFingerprintWithRestorePoint(
        admin(),
        access('app_one', 'app_two'),
        'steward-test-1',
      );
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    console.log(
      `fingerprint recorded in ${recorded.attempts} attempt(s), exact=${recorded.exact}, with ${written} writes around it`,
    );
    expect(recorded).toMatchObject({ exact: true, why: null, method: 'locks' });
    expect(recorded.restorePoint).toMatch(/^steward-test-1(\.\d+)?$/);
    expect(recorded.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(Object.keys(recorded.databases)).toEqual(['app_one', 'app_two']);
    await waitForArchivedWal(() => driver.info(), 1, recorded.walFile, { timeoutMs: 60_000 });

    const backup = (await driver.info()).backups.find((b) => b.repo === 1)!;
    scratch = await restoreIntoScratch({
      configPath,
      stanza,
      binDir: lab.cluster.binDir,
      user: postgresRunAs(),
      parentDir: join(lab.root, 'backup', 'scratch'),
      repo: 1,
      set: backup.label,
      target: { kind: 'name', name: recorded.restorePoint },
      timeoutMs: 120_000,
    });
    console.log(`restore of the whole cluster to a restore point: ${scratch.durationMs} ms`);
    for (const database of ['app_one', 'app_two']) {
      const restored = await withClient(scratch.connection(database), (c) => takeFingerprint(c));
      expect(compareFingerprints(recorded.databases[database]!, restored), database).toEqual({
        ok: true,
        mismatches: [],
      });
      // The writers went on after the restore point: the live database has moved on.
      const live = await withClient(admin(database), (c) => takeFingerprint(c));
      expect(compareFingerprints(recorded.databases[database]!, live).ok).toBe(false);
    }
  });

  it('without the locks (a writer holds a table), is exact only when nothing committed around the restore point', async () => {
    const holder = new pg.Client(admin('app_two'));
    await holder.connect();
    let writing = true;
    const writer = async (): Promise<void> => {
      const client = new pg.Client(admin('app_one'));
      client.on('error', () => undefined);
      await client.connect();
      try {
        while (writing) await client.query(`insert into books.entries (amount, memo) values (2, 'busy')`);
      } finally {
        await client.end();
      }
    };
    try {
      // Fresh statistics: no autovacuum analyze (which commits) comes along in the middle.
      for (const database of ['app_one', 'app_two'])
        await withClient(admin(database), (c) => c.query('analyze'));
      await holder.query('begin');
      await holder.query(`insert into plain values (100001, '{}')`);
      // Quiet but for the holder, idle in its transaction: it cannot have committed before the restore point.
      const quiet = await recordFingerprintWithRestorePoint(admin(), access('app_two'), 'steward-test-held', {
        attempts: 2,
        lockTimeoutMs: 50,
      });
      expect(quiet).toMatchObject({ exact: true, why: null, method: 'snapshots', attempts: 3 });
      expect(quiet.restorePoint).toBe('steward-test-held.3');
      // The uncommitted row is not in the fingerprint.
      expect(quiet.databases.app_two!.tables.find((t) => t.table === 'plain')!.rows).toBe(1000);

      const writing1 = writer();
      try {
        await new Promise((r) => setTimeout(r, 200));
        const busy = await recordFingerprintWithRestorePoint(
          admin(),
          access('app_one', 'app_two'),
          'steward-test-busy',
          {
            attempts: 2,
            lockTimeoutMs: 50,
          },
        );
        expect(busy).toMatchObject({ exact: false, method: 'snapshots' });
        expect(busy.why).toMatch(/could not be held still .* around the restore point/);
      } finally {
        writing = false;
        await writing1;
      }
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
  });
});
