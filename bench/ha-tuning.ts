/**
 * bench/ha-tuning: a handful of SIGKILL failovers of a three-member
 * synchronous Patroni cluster under a write load through the database router,
 * with Steward's settings (src/databases/patroni/settings.ts) and with
 * Patroni's and HAProxy's defaults as the anchor, in the same run. Prints JSON.
 *
 * Each kill: Patroni and the postmaster of the leader get SIGKILL together (a
 * lost machine); writes (one row per statement, a sequence number each, one
 * connection through the router, reconnecting on error) are timed until the
 * first one is acknowledged again; then every acknowledged number is looked
 * up (lost commits); the killed member is started again and rejoins before
 * the next kill. The 20-kill benchmark is bench/failover.ts (ha-drills).
 *
 * With BENCH_ETCD_OUTAGE=<seconds>, also: etcd stopped that long under the
 * load, with failsafe mode on and off (the longest pause between writes).
 *
 * Usage: npm run bench:ha-tuning  (BENCH_KILLS=3, BENCH_PROFILES=tuned,defaults; also ttl10, fast)
 */
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findPostgresBinDir } from '../src/databases/local-cluster.ts';
import {
  DatabaseRouter,
  defaultSettings,
  patroniDefaults,
  startEtcd,
  stopEtcd,
  type EtcdMember,
  type PatroniSettings,
} from '../src/databases/patroni/index.ts';
import { postgresRunAs } from '../src/system/exec.ts';
import { freePort } from '../src/system/ports.ts';
import { launchCluster, type TestHaCluster } from '../test/harness/patroni-cluster.ts';

const kills = Number(process.env.BENCH_KILLS ?? 3);
/** Seconds of etcd outage to measure failsafe mode with (0: not measured). */
const outage = Number(process.env.BENCH_ETCD_OUTAGE ?? 0);
const profiles = (process.env.BENCH_PROFILES ?? 'tuned,defaults').split(',');
const log = (message: string): void => void process.stderr.write(`${message}\n`);
const round = (n: number): number => Number(n.toFixed(2));
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};

/** One connection through the router, writing sequence numbers until stopped. */
class Writer {
  readonly acked: number[] = [];
  readonly ackTimes: number[] = [];
  #next = 1;
  #stopped = false;
  #client: pg.Client | undefined;
  readonly #done: Promise<void>;
  readonly #url: string;
  lastAckAt = 0;

  constructor(url: string) {
    this.#url = url;
    this.#done = this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (!this.#client) {
          const client = new pg.Client({
            connectionString: this.#url,
            connectionTimeoutMillis: 1_000,
            query_timeout: 3_000,
          });
          client.on('error', () => undefined);
          this.#client = client;
          await client.connect();
        }
        const n = this.#next++;
        await this.#client.query('insert into seq (n) values ($1)', [n]);
        this.acked.push(n);
        this.lastAckAt = performance.now();
        this.ackTimes.push(this.lastAckAt);
      } catch {
        await this.#client?.end().catch(() => undefined);
        this.#client = undefined;
        await sleep(50);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
    await this.#client?.end().catch(() => undefined);
  }
}

async function waitHealthy(cluster: TestHaCluster): Promise<void> {
  await cluster.waitForLeader({ timeoutMs: 180_000 });
}

/** A synchronous three-member cluster with fsync on, a table `seq` and a router in front of it. */
async function withCluster<T>(
  settings: PatroniSettings,
  etcdUrl: string,
  binDir: string,
  work: (cluster: TestHaCluster, url: string) => Promise<T>,
): Promise<T> {
  const cluster = await launchCluster({
    etcdUrl,
    binDir,
    namespace: '/steward-bench/',
    synchronous: true,
    settings,
    unsafeFast: false,
  });
  const routerDir = await mkdtemp(join(tmpdir(), 'steward-bench-router-'));
  const router = new DatabaseRouter({ dir: routerDir, settings });
  try {
    await waitHealthy(cluster);
    const port = await freePort(0);
    await router.sync([{ name: cluster.scope, port, members: cluster.members }]);
    // A new listen counts every member up until its first checks: wait for the leader alone.
    const leader = await cluster.rest.leader();
    while ((await router.routesTo(cluster.scope)).join() !== leader) await sleep(100);
    const url = `postgres://postgres:${encodeURIComponent(cluster.credentials.superuser)}@127.0.0.1:${port}/postgres`;
    const setup = new pg.Client({ connectionString: url });
    setup.on('error', () => undefined);
    await setup.connect();
    await setup.query('create table seq (n bigint primary key)');
    await setup.end();
    return await work(cluster, url);
  } finally {
    await router.stop();
    await cluster.stop();
    await rm(routerDir, { recursive: true, force: true });
  }
}

async function runProfile(name: string, settings: PatroniSettings, etcdUrl: string, binDir: string) {
  return withCluster(settings, etcdUrl, binDir, async (cluster, url) => {
    const resumes: number[] = [];
    let lost = 0;
    for (let i = 1; i <= kills; i += 1) {
      const writer = new Writer(url);
      await sleep(2_000);
      const leader = await cluster.rest.leader();
      if (!leader) throw new Error('no leader before the kill');
      const before = writer.acked.length;
      await cluster.kill(leader);
      // Both processes are gone: nothing acknowledged from here on came from the old primary.
      const killedAt = performance.now();
      while (writer.lastAckAt <= killedAt) await sleep(20);
      const resumed = (writer.lastAckAt - killedAt) / 1000;
      await sleep(1_000);
      await writer.stop();
      const check = new pg.Client({ connectionString: url });
      check.on('error', () => undefined);
      await check.connect();
      const present = new Set(
        (await check.query<{ n: string }>('select n from seq')).rows.map((r) => Number(r.n)),
      );
      await check.query('truncate seq');
      await check.end();
      const missing = writer.acked.filter((n) => !present.has(n)).length;
      lost += missing;
      resumes.push(resumed);
      log(
        `${name} kill ${i}/${kills} of ${leader}: writes resumed after ${round(resumed)} s, ${before} acknowledged before, ${missing} lost`,
      );
      await cluster.start(leader);
      await waitHealthy(cluster);
    }
    return {
      settings,
      resumeSeconds: resumes.map(round),
      p50: round(percentile(resumes, 50)),
      max: round(Math.max(...resumes)),
      lostCommits: lost,
    };
  });
}

/**
 * etcd stopped for `seconds` under the write load: the longest pause between
 * acknowledged writes. Without failsafe mode the primary demotes itself once
 * retry_timeout passes without etcd; with it, it stays while every member
 * answers its REST call.
 */
async function etcdOutage(
  name: string,
  settings: PatroniSettings,
  etcd: EtcdMember,
  etcdUrl: string,
  binDir: string,
  seconds: number,
) {
  return withCluster(settings, etcdUrl, binDir, async (cluster, url) => {
    const writer = new Writer(url);
    await sleep(2_000);
    const from = performance.now();
    await stopEtcd(etcd, postgresRunAs());
    await sleep(seconds * 1000);
    await startEtcd(etcd, postgresRunAs());
    await sleep(2_000);
    await writer.stop();
    const times = [from, ...writer.ackTimes.filter((t) => t >= from)];
    let longest = 0;
    for (let i = 1; i < times.length; i += 1) longest = Math.max(longest, times[i]! - times[i - 1]!);
    const result = {
      failsafeMode: settings.failsafeMode,
      outageSeconds: seconds,
      longestWritePauseSeconds: round(longest / 1000),
    };
    log(
      `${name}: etcd down ${seconds} s, longest pause between acknowledged writes ${result.longestWritePauseSeconds} s`,
    );
    await cluster.waitForLeader({ timeoutMs: 120_000 });
    return result;
  });
}

/** Steward's choice; Patroni's and HAProxy's defaults (the anchor); and a faster one tried against it. */
const profileSettings: Record<string, PatroniSettings> = {
  tuned: defaultSettings,
  defaults: patroniDefaults,
  ttl10: { ...defaultSettings, ttl: 10, loopWait: 2, retryTimeout: 3 },
  fast: { ...defaultSettings, ttl: 6, loopWait: 1, retryTimeout: 2 },
};

const dir = await mkdtemp(join(tmpdir(), 'steward-bench-etcd-'));
await chmod(dir, 0o711);
const etcd: EtcdMember = {
  name: 'bench',
  dir: join(dir, 'etcd'),
  host: '127.0.0.1',
  clientPort: await freePort(0),
  peerPort: await freePort(0),
};
const started = await startEtcd(etcd, postgresRunAs());
const binDir = findPostgresBinDir();
const results: Record<string, unknown> = {};
try {
  for (const profile of profiles) {
    const settings = profileSettings[profile];
    if (!settings)
      throw new Error(`BENCH_PROFILES: ${profile} is not one of ${Object.keys(profileSettings).join(', ')}`);
    results[profile] = await runProfile(profile, settings, started.url, binDir);
  }
  if (outage > 0) {
    results.etcdOutage = [
      await etcdOutage('failsafe on', defaultSettings, etcd, started.url, binDir, outage),
      await etcdOutage(
        'failsafe off',
        { ...defaultSettings, failsafeMode: false },
        etcd,
        started.url,
        binDir,
        outage,
      ),
    ];
  }
} finally {
  await stopEtcd(etcd, postgresRunAs());
  await rm(dir, { recursive: true, force: true });
}
process.stdout.write(
  `${JSON.stringify({ bench: 'ha-tuning', kills, synchronous: true, machine: 'three members on loopback', ...results }, null, 2)}\n`,
);
