/**
 * bench/backup: how fast pgBackRest, as Steward runs it, backs up a shared
 * cluster, restore-tests one stage of it and restores that stage to a point
 * in time. Prints JSON.
 *
 * A cluster of its own holding three tenants' stage databases: acme/prod with
 * BENCH_SCALE pgbench data (68 is about 1 GB) plus the sample app's tables
 * (examples/ledger's migration, 20,000 invoices), and two smaller tenants.
 * Archiving is on, with two encrypted path repositories, as prepareStanza sets
 * it up. Measured in the same run:
 *   - a full backup against the anchor `pg_basebackup -Ft` of the same cluster;
 *   - a restore test of acme/prod: fingerprints recorded at a restore point,
 *     restore of that one database into a scratch instance (--db-include),
 *     fingerprints compared, scratch removed (target <= 60 s);
 *   - a point-in-time restore of acme/prod out of the shared cluster: range
 *     check, restore into a scratch, copy into a new stage database as its
 *     role, rows checked (target <= 2 min);
 *   - an incremental backup after pgbench traffic, and verify.
 *
 * Usage: npm run bench:backup  (BENCH_SCALE=68 by default; BENCH_COMPRESS=lz4 to compare)
 */
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { prepareStanza, runBackup } from '../src/backups/index.ts';
import {
  archiveUpToNow,
  backupForTarget,
  checkRestoreTarget,
  compareFingerprints,
  copyDatabase,
  newestBackup,
  openCopyTarget,
  recordFingerprintWithRestorePoint,
  restorableRange,
  restoreIntoScratch,
  scratchStageConnection,
  takeFingerprint,
  waitForArchivedWal,
  type ConnectionTarget,
} from '../src/backups/restore/index.ts';
import {
  bootstrapControlDatabase,
  findPostgresBinDir,
  initCluster,
  replaceDatabase,
  startCluster,
  stopCluster,
} from '../src/databases/local-cluster.ts';
import { fileKeyring } from '../src/secrets/keyring.ts';
import { SecretService } from '../src/secrets/service.ts';
import { openControlStore } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { postgresRunAs, runChecked } from '../src/system/exec.ts';
import { freePort } from '../src/system/ports.ts';
import { withClient } from '../src/databases/client.ts';

const scale = Number(process.env.BENCH_SCALE ?? 68);
const compressType = process.env.BENCH_COMPRESS as 'zst' | 'lz4' | 'gz' | undefined;
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
const log = (message: string): void => void process.stderr.write(`${message}\n`);
const mb = (bytes: number): number => bytes / 1_048_576;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const stage = 'st_acme_prod';
const others = ['st_beta_prod', 'st_gamma_prod'];

/** The client programs may sit beside the server's or only on PATH. */
function tool(binDir: string, name: string): string {
  return existsSync(join(binDir, name)) ? join(binDir, name) : name;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const value = await work();
  return { value, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'steward-bench-backup-'));
  await chmod(root, 0o711);
  const binDir = findPostgresBinDir(process.env.STEWARD_PG_BIN_DIR);
  const password = 'bench-superuser';
  const cluster = await initCluster({ dir: join(root, 'pg'), port: await freePort(0), binDir }, password);
  await startCluster(cluster);
  const superuserUrl = cluster.superuserUrl(password);
  const admin = (database = 'postgres'): pg.ClientConfig => ({
    connectionString: replaceDatabase(superuserUrl, database),
  });
  /** A stage's own role, as Steward reads a stage's database (never as the superuser). */
  const asStage = (role: string, database = role): ConnectionTarget => ({
    host: '127.0.0.1',
    port: cluster.port,
    user: role,
    password: `${role}-bench`,
    database,
  });
  const store = openControlStore(replaceDatabase(superuserUrl, 'steward_bench'), { max: 4 });
  try {
    await bootstrapControlDatabase(superuserUrl, 'steward_bench', 'bench-app');
    await migrate(replaceDatabase(superuserUrl, 'steward_bench'));
    const keyring = fileKeyring(join(root, 'master.key'));
    const secrets = new SecretService(store.db, keyring, await keyring.load());
    const pgEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: password };
    const pgArgs = ['-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres'];

    // Three tenants' stage databases, each owned by its role, as the shared tier makes them.
    for (const name of [stage, ...others]) {
      await withClient(admin(), async (c) => {
        await c.query(`create role ${name} login password '${name}-bench'`);
        await c.query(`create database ${name} owner ${name}`);
      });
      const stageScale = name === stage ? scale : Math.max(1, Math.round(scale / 10));
      log(`bench/backup: pgbench -i -s ${stageScale} into ${name}`);
      await runChecked(tool(binDir, 'pgbench'), [...pgArgs, '-i', '-q', '-s', String(stageScale), name], {
        env: pgEnv,
        timeoutMs: 3_600_000,
      });
      await withClient(admin(name), async (c) => {
        for (const table of ['pgbench_accounts', 'pgbench_branches', 'pgbench_history', 'pgbench_tellers'])
          await c.query(`alter table ${table} owner to ${name}`);
      });
    }
    const ledgerSql = await readFile(
      new URL('../examples/ledger/migrations/001_init.sql', import.meta.url),
      'utf8',
    );
    await withClient(admin(stage), async (c) => {
      await c.query(`set role ${stage}`);
      await c.query(ledgerSql);
      await c.query(
        `insert into customers (name, email, created_by) select 'customer ' || g, 'c' || g || '@example.test', 'bench' from generate_series(1, 2000) g`,
      );
      await c.query(
        `insert into invoices (customer_id, amount_cents, currency, description, created_by)
         select 1 + g % 2000, g * 7, 'EUR', 'bench invoice ' || g, 'bench' from generate_series(1, 20000) g`,
      );
      await c.query(
        `create table restore_markers (note text not null, at timestamptz not null default now())`,
      );
    });

    // The anchor needs a replication connection, which Steward's pg_hba does not allow; the restart below reads it.
    await appendFile(
      join(cluster.dir, 'pg_hba.conf'),
      'host replication postgres 127.0.0.1/32 scram-sha-256\n',
    );
    const stateDir = join(root, 'backup');
    const prepared = await prepareStanza({
      db: store.db,
      secrets,
      cluster,
      stanza: 'bench',
      stateDir,
      repositories: [
        { kind: 'path', path: join(root, 'repo1'), retention: { kind: 'time', days: 30 } },
        { kind: 'path', path: join(root, 'repo2'), retention: { kind: 'time', days: 30 } },
      ],
      ...(compressType ? { compressType } : {}),
    });
    const driver = prepared.driver;
    const scratchParams = {
      configPath: prepared.configPath,
      stanza: 'bench',
      binDir,
      user: postgresRunAs(),
      parentDir: join(stateDir, 'scratch'),
      repo: 1,
      timeoutMs: 600_000,
    };

    log('bench/backup: pg_basebackup -Ft (the anchor)');
    const anchor = await timed(() =>
      runChecked(
        tool(binDir, 'pg_basebackup'),
        [...pgArgs, '-D', join(root, 'basebackup'), '-Ft', '-c', 'fast'],
        {
          env: pgEnv,
          timeoutMs: 3_600_000,
        },
      ),
    );
    await rm(join(root, 'basebackup'), { recursive: true, force: true });

    log('bench/backup: pgbackrest full');
    const full = await timed(() =>
      runBackup({ db: store.db, driver }, { type: 'full', repo: 1, timeoutMs: 3_600_000 }),
    );
    if (full.value.status !== 'succeeded') throw new Error(`full backup failed: ${full.value.error}`);

    // A restore test as Steward runs one: fingerprints at a restore point after the backup, the
    // newest backup restored to it into a scratch (only this stage's database), compared, torn down.
    log(`bench/backup: restore test of ${stage}`);
    const recorded = await recordFingerprintWithRestorePoint(
      admin(),
      [{ database: stage, connection: asStage(stage) }],
      'bench-restore-test',
    );
    await waitForArchivedWal(() => driver.info(), 1, recorded.walFile, { timeoutMs: 120_000 });
    const restoreTest = await timed(async () => {
      const range = restorableRange(await driver.info(), 1, 'acme/prod');
      const scratch = await restoreIntoScratch({
        ...scratchParams,
        set: newestBackup(range).label,
        target: { kind: 'name', name: recorded.restorePoint },
        databases: [stage],
      });
      try {
        const restored = await withClient(
          await scratchStageConnection(scratch, { database: stage, role: stage }),
          (c) => takeFingerprint(c),
        );
        const expected = recorded.databases[stage];
        if (!expected) throw new Error('no fingerprint was recorded');
        return { comparison: compareFingerprints(expected, restored), restoreMs: scratch.durationMs };
      } finally {
        await scratch.remove();
      }
    });

    // Point-in-time restore of acme/prod into a new stage, while the other tenants stay as they are.
    log(`bench/backup: point-in-time restore of ${stage} into a new stage`);
    await sleep(1100);
    await withClient(admin(stage), (c) => c.query(`insert into restore_markers (note) values ('before')`));
    await sleep(500);
    const target = new Date();
    await sleep(500);
    await withClient(admin(stage), (c) => c.query(`insert into restore_markers (note) values ('after')`));
    await withClient(admin(), (c) => archiveUpToNow(c, () => driver.info(), 1, { timeoutMs: 120_000 }));
    const pitr = await timed(async () => {
      const range = restorableRange(await driver.info(), 1, 'acme/prod');
      checkRestoreTarget(target, range, new Date());
      const scratch = await restoreIntoScratch({
        ...scratchParams,
        set: backupForTarget(range, target).label,
        target: { kind: 'time', time: target },
        databases: [stage],
      });
      try {
        const copyStarted = Date.now();
        await withClient(admin(), async (c) => {
          await c.query(`create role st_acme_restored login password 'st_acme_restored-bench'`);
          await openCopyTarget(c, 'st_acme_restored', 'st_acme_restored');
        });
        await copyDatabase({
          from: await scratchStageConnection(scratch, { database: stage, role: stage }),
          to: asStage('st_acme_restored'),
          binDir,
        });
        const markers = await withClient(admin('st_acme_restored'), async (c) =>
          (await c.query<{ note: string }>('select note from restore_markers order by at')).rows.map(
            (r) => r.note,
          ),
        );
        return { markers, restoreMs: scratch.durationMs, copyMs: Date.now() - copyStarted };
      } finally {
        await scratch.remove();
      }
    });
    const othersUntouched = await Promise.all(
      others.map((name) =>
        withClient(
          admin(name),
          async (c) => (await c.query('select count(*)::int as n from pgbench_branches')).rows[0],
        ),
      ),
    );

    log('bench/backup: pgbench traffic, then pgbackrest incr');
    await runChecked(tool(binDir, 'pgbench'), [...pgArgs, '-c', '4', '-t', '2000', stage], {
      env: pgEnv,
      timeoutMs: 3_600_000,
    });
    const incr = await timed(() =>
      runBackup({ db: store.db, driver }, { type: 'incr', repo: 1, timeoutMs: 3_600_000 }),
    );
    if (incr.value.status !== 'succeeded') throw new Error(`incr backup failed: ${incr.value.error}`);

    log('bench/backup: verify');
    const verify = await timed(() => driver.verify({ repo: 1 }));

    const databaseBytes = full.value.databaseBytes ?? 0;
    const stageBytes = Number(
      (
        await withClient(admin(), (c) =>
          c.query<{ n: string }>('select pg_database_size($1)::text as n', [stage]),
        )
      ).rows[0]?.n ?? 0,
    );
    const result = {
      bench: 'backup',
      scale,
      clusterMB: round(mb(databaseBytes), 1),
      stageDatabaseMB: round(mb(stageBytes), 1),
      pgBaseBackup: {
        seconds: round(anchor.seconds),
        mbPerSecond: round(mb(databaseBytes) / anchor.seconds, 1),
      },
      full: {
        seconds: round(full.seconds),
        mbPerSecond: round(mb(databaseBytes) / full.seconds, 1),
        repositoryMB: round(mb(full.value.sizeBytes ?? 0), 1),
        speedVsPgBaseBackup: round(anchor.seconds / full.seconds),
        target: 1,
      },
      restoreTest: {
        seconds: round(restoreTest.seconds),
        restoreIntoScratchSeconds: round(restoreTest.value.restoreMs / 1000),
        fingerprintExact: recorded.exact,
        verified: restoreTest.value.comparison.ok,
        tables: recorded.databases[stage]?.tables.length ?? 0,
        targetSeconds: 60,
      },
      pointInTimeRestore: {
        seconds: round(pitr.seconds),
        restoreIntoScratchSeconds: round(pitr.value.restoreMs / 1000),
        copySeconds: round(pitr.value.copyMs / 1000),
        rowsAsAtTarget: pitr.value.markers.join(',') === 'before',
        otherTenantsInCluster: others.length,
        otherTenantsUntouched: othersUntouched.every((row) => row !== undefined),
        targetSeconds: 120,
      },
      incr: { seconds: round(incr.seconds), repositoryMB: round(mb(incr.value.sizeBytes ?? 0), 1) },
      verify: { seconds: round(verify.seconds), ok: verify.value.ok },
      settings: {
        processMax: 2,
        compressType: compressType ?? 'best available (zst here)',
        encryption: 'aes-256-cbc',
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await store.close();
    await stopCluster(cluster, 'immediate').catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
}

await main();
