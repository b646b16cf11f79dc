/**
 * bench/backup: how fast pgBackRest, as Steward runs it, backs up a cluster.
 * Prints JSON.
 *
 * A cluster of its own with BENCH_SCALE pgbench data (68 is about 1 GB), with
 * archiving on and two encrypted path repositories, as prepareStanza sets it
 * up. Measures a full backup (seconds, MB/s of database files, bytes in the
 * repository) against an anchor in the same run, `pg_basebackup -Ft` of the
 * same cluster; then an incremental after some pgbench traffic, and verify.
 *
 * Usage: npm run bench:backup  (BENCH_SCALE=68 by default; BENCH_COMPRESS=lz4 to compare)
 */
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareStanza, runBackup } from '../src/backups/index.ts';
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
import { runChecked } from '../src/system/exec.ts';
import { freePort } from '../src/system/ports.ts';

const scale = Number(process.env.BENCH_SCALE ?? 68);
const compressType = process.env.BENCH_COMPRESS as 'zst' | 'lz4' | 'gz' | undefined;
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
const log = (message: string): void => void process.stderr.write(`${message}\n`);
const mb = (bytes: number): number => bytes / 1_048_576;

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
  const store = openControlStore(replaceDatabase(superuserUrl, 'steward_bench'), { max: 4 });
  try {
    await bootstrapControlDatabase(superuserUrl, 'steward_bench', 'bench-app');
    await migrate(replaceDatabase(superuserUrl, 'steward_bench'));
    const keyring = fileKeyring(join(root, 'master.key'));
    const secrets = new SecretService(store.db, keyring, await keyring.load());
    const pgEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: password };
    const pgArgs = ['-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres'];
    log(`bench/backup: pgbench -i -s ${scale} in ${root}`);
    await runChecked(tool(binDir, 'pgbench'), [...pgArgs, '-i', '-q', '-s', String(scale), 'postgres'], {
      env: pgEnv,
      timeoutMs: 3_600_000,
    });

    // The anchor needs a replication connection, which Steward's pg_hba does not allow; the restart below reads it.
    await appendFile(
      join(cluster.dir, 'pg_hba.conf'),
      'host replication postgres 127.0.0.1/32 scram-sha-256\n',
    );
    const prepared = await prepareStanza({
      db: store.db,
      secrets,
      cluster,
      stanza: 'bench',
      stateDir: join(root, 'backup'),
      repositories: [
        { kind: 'path', path: join(root, 'repo1'), retention: { kind: 'time', days: 30 } },
        { kind: 'path', path: join(root, 'repo2'), retention: { kind: 'time', days: 30 } },
      ],
      ...(compressType ? { compressType } : {}),
    });
    const driver = prepared.driver;

    log('bench/backup: pg_basebackup -Ft (the anchor)');
    const anchor = await timed(() =>
      runChecked(
        tool(binDir, 'pg_basebackup'),
        [...pgArgs, '-D', join(root, 'basebackup'), '-Ft', '-c', 'fast'],
        { env: pgEnv, timeoutMs: 3_600_000 },
      ),
    );
    await rm(join(root, 'basebackup'), { recursive: true, force: true });

    log('bench/backup: pgbackrest full');
    const full = await timed(() =>
      runBackup({ db: store.db, driver }, { type: 'full', repo: 1, timeoutMs: 3_600_000 }),
    );
    if (full.value.status !== 'succeeded') throw new Error(`full backup failed: ${full.value.error}`);

    log('bench/backup: pgbench traffic, then pgbackrest incr');
    await runChecked(tool(binDir, 'pgbench'), [...pgArgs, '-c', '4', '-t', '2000', 'postgres'], {
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
    const result = {
      bench: 'backup',
      scale,
      databaseMB: round(mb(databaseBytes), 1),
      pgBaseBackup: {
        seconds: round(anchor.seconds),
        mbPerSecond: round(mb(databaseBytes) / anchor.seconds, 1),
      },
      full: {
        seconds: round(full.seconds),
        mbPerSecond: round(mb(databaseBytes) / full.seconds, 1),
        repositoryMB: round(mb(full.value.sizeBytes ?? 0), 1),
        speedVsPgBaseBackup: round(anchor.seconds / full.seconds),
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
