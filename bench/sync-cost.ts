/**
 * bench/sync-cost: what synchronous replication costs a writer. The drills'
 * write load (one connection, one insert per transaction, as fast as it
 * goes) for BENCH_SECONDS (10) each against:
 * - a three-member Patroni cluster in synchronous mode (a commit waits for
 *   the synchronous standby's flush),
 * - the same in asynchronous mode,
 * - a single PostgreSQL,
 * all on this machine with the same fsync setting (on; BENCH_UNSAFE_FAST=1
 * turns it off everywhere). The clusters are measured both directly on the
 * primary (the cost of replication alone) and through the database router
 * (what an app sees). BENCH_ROUNDS (3) alternating rounds; the median counts.
 *
 * Usage: npm run bench:sync-cost
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cpus } from 'node:os';
import pg from 'pg';
import { catalogOperations } from '../src/databases/catalog.ts';
import { defaultSettings } from '../src/databases/patroni/index.ts';
import {
  findPostgresBinDir,
  initCluster,
  startCluster,
  stopCluster,
} from '../src/databases/local-cluster.ts';
import { maintenanceDatabase, pinned } from '../src/databases/privileged.ts';
import { WriteLoad, type LoadConnection } from '../src/drills/write-load.ts';
import { freePort } from '../src/system/ports.ts';
import { benchRoot, startBenchCluster, startBenchEtcd } from './ha-support.ts';
import { log, percentile, round, sleep } from './support.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const unsafeFast = process.env.BENCH_UNSAFE_FAST === '1';

/** A load role and database over a superuser socket session; returns how the load logs in (TCP). */
async function loadDatabase(socket: pg.ClientConfig, host: string, port: number): Promise<LoadConnection> {
  const pool = new pg.Pool(pinned({ ...socket, database: maintenanceDatabase, max: 1 }));
  const name = 'steward_drill';
  const password = randomBytes(16).toString('hex');
  try {
    const catalog = catalogOperations(pool);
    await catalog.ensureRole(name, password);
    await catalog.ensureDatabase(name);
  } finally {
    await pool.end();
  }
  return { host, port, user: name, password, database: name };
}

/** Acknowledged writes per second over `seconds`. */
async function throughput(connection: LoadConnection): Promise<number> {
  const load = new WriteLoad({ connection });
  await load.start();
  const from = load.acknowledgedCount;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const n = load.acknowledgedCount - from;
  const elapsed = (performance.now() - t0) / 1000;
  const report = await load.stop();
  if (report.failed > 0) log(`warning: ${report.failed} writes failed: ${report.errors.join('; ')}`);
  return n / elapsed;
}

const bench = await benchRoot('sync-cost');
try {
  const etcd = await startBenchEtcd(bench.root);
  bench.onCleanup(() => etcd.stop());
  log('starting a synchronous and an asynchronous 3-member cluster and a single PostgreSQL');
  const sync = await startBenchCluster(bench.root, etcd, {
    synchronous: true,
    settings: defaultSettings,
    unsafeFast,
  });
  bench.onCleanup(() => sync.stop());
  const async_ = await startBenchCluster(bench.root, etcd, {
    synchronous: false,
    settings: defaultSettings,
    unsafeFast,
  });
  bench.onCleanup(() => async_.stop());
  const single = await initCluster(
    {
      dir: join(bench.root, 'single'),
      port: await freePort(0),
      binDir: findPostgresBinDir(),
      superuserAccess: 'peer',
      unsafeFast,
    },
    randomBytes(12).toString('hex'),
  );
  await startCluster(single);
  bench.onCleanup(() => stopCluster(single));
  // The same commit settings as the Patroni members: unsafeFast turns synchronous_commit and
  // full_page_writes off for a local cluster, not for a Patroni member.
  const admin = new pg.Client({
    host: single.dir,
    port: single.port,
    user: 'postgres',
    database: 'postgres',
  });
  await admin.connect();
  await admin.query("alter system set synchronous_commit = 'on'");
  await admin.query("alter system set full_page_writes = 'on'");
  await admin.query('select pg_reload_conf()');
  await admin.end();

  const targets: Record<string, LoadConnection> = {};
  for (const [name, cluster] of [
    ['synchronous', sync],
    ['asynchronous', async_],
  ] as const) {
    const leader = await cluster.waitForLeader();
    const member = cluster.members.find((m) => m.name === leader);
    if (!member) throw new Error(`no leader member ${leader}`);
    const direct = await loadDatabase(cluster.socket(member), member.host, member.pgPort);
    targets[`${name} (primary)`] = direct;
    targets[`${name} (router)`] = { ...direct, ...cluster.router };
  }
  targets['single PostgreSQL'] = await loadDatabase(
    { host: single.dir, port: single.port, user: 'postgres' },
    '127.0.0.1',
    single.port,
  );

  const samples: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, connection] of Object.entries(targets)) {
      const rate = await throughput(connection);
      (samples[name] ??= []).push(rate);
      log(`round ${r + 1}/${rounds} ${name}: ${Math.round(rate)} commits/s`);
    }
  }
  const median = (name: string): number => round(percentile(samples[name] ?? [], 50), 0);
  const base = median('single PostgreSQL');
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'sync-cost',
        machine: { cpus: cpus().length, loopback: true, fsync: !unsafeFast },
        load: `one connection, one insert per transaction, ${seconds} s per sample, ${rounds} rounds, median`,
        commitsPerSecond: Object.fromEntries(Object.keys(targets).map((name) => [name, median(name)])),
        relativeToSingle: Object.fromEntries(
          Object.keys(targets).map((name) => [name, round(median(name) / base, 2)]),
        ),
        samples: Object.fromEntries(
          Object.entries(samples).map(([k, v]) => [k, v.map((x) => Math.round(x))]),
        ),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await bench.cleanup();
}
