/**
 * What the ha benchmarks share: an etcd of their own, three-member Patroni
 * clusters on loopback with given settings behind a database router
 * (HAProxy, GET /primary checks, as Steward runs it), and the cluster as a
 * drill sees it. Everything is stopped and removed by the cleanups.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatabaseRouter,
  etcdDeletePrefix,
  killMember,
  memberDir,
  PatroniRest,
  renderMemberConfig,
  serverBinDir,
  startEtcd,
  startMember,
  stopEtcd,
  stopMember,
  writeMemberConfig,
  type HaMember,
  type PatroniSettings,
} from '../src/databases/patroni/index.ts';
import { findPostgresBinDir } from '../src/databases/local-cluster.ts';
import { patroniCluster } from '../src/drills/patroni-cluster.ts';
import { drillProblems } from '../src/monitoring/ha-verdicts.ts';
import type { HaCluster } from '../src/drills/cluster.ts';
import { postgresRunAs } from '../src/system/exec.ts';
import { freePort } from '../src/system/ports.ts';
import { loopbackMembers, throwawayCredentials } from '../test/harness/patroni-cluster.ts';
import { sleep } from './support.ts';

export interface BenchEtcd {
  readonly host: string;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startBenchEtcd(root: string): Promise<BenchEtcd> {
  const member = {
    name: 'steward-bench',
    dir: join(root, 'etcd'),
    host: '127.0.0.1',
    clientPort: await freePort(0),
    peerPort: await freePort(0),
  };
  const user = postgresRunAs();
  const started = await startEtcd(member, user);
  return { host: new URL(started.url).host, url: started.url, stop: () => stopEtcd(member, user) };
}

export interface BenchCluster {
  readonly scope: string;
  readonly members: readonly HaMember[];
  readonly rest: PatroniRest;
  /** The router's listener: always the current primary. */
  readonly router: { readonly host: string; readonly port: number };
  /** The cluster as drills see it. */
  readonly ha: HaCluster;
  /** Superuser over a member's own socket. */
  socket(member: HaMember): { host: string; port: number; user: string; database: string };
  waitForLeader(timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** A three-member cluster with `settings`, its router checking as `settings` say, up with a leader. */
export async function startBenchCluster(
  root: string,
  etcd: BenchEtcd,
  options: {
    readonly synchronous: boolean;
    readonly settings: PatroniSettings;
    readonly unsafeFast: boolean;
  },
): Promise<BenchCluster> {
  const scope = `bench_${randomBytes(3).toString('hex')}`;
  const namespace = `/steward-bench-${randomBytes(3).toString('hex')}/`;
  const dir = await mkdtemp(join(root, `${scope}-`));
  await chmod(dir, 0o711);
  const user = postgresRunAs();
  const binDir = serverBinDir(findPostgresBinDir());
  const credentials = throwawayCredentials();
  const members = await loopbackMembers(scope, dir, 'bench', 3);
  for (const member of members) {
    const config = renderMemberConfig({
      scope,
      namespace,
      member,
      members,
      etcdHosts: [etcd.host],
      binDir,
      synchronous: options.synchronous,
      settings: options.settings,
      credentials,
      unsafeFast: options.unsafeFast,
    });
    await writeMemberConfig(member, config, user);
  }
  for (const member of members) await startMember(member, user);
  const rest = new PatroniRest(members, credentials.rest);
  const router = await startBenchRouter(join(dir, 'router'), scope, members, options.settings);
  const socket = (member: HaMember): { host: string; port: number; user: string; database: string } => ({
    host: memberDir(member),
    port: member.pgPort,
    user: 'postgres',
    database: 'postgres',
  });
  let stopping: Promise<void> | undefined;
  const cluster: BenchCluster = {
    scope,
    members,
    rest,
    router,
    socket,
    ha: patroniCluster({
      scope,
      synchronous: options.synchronous,
      members,
      rest,
      router,
      socket,
      kill: (m) => killMember(m, user),
      start: async (m) => void (await startMember(m, user)),
    }),
    async waitForLeader(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const seen = await cluster.ha.observe().catch(() => null);
        // One leader, both replicas streaming, and in synchronous mode a synchronous standby.
        if (
          seen?.leader &&
          drillProblems(seen).length === 0 &&
          (await rest.primaryStatus(seen.leader)) === 200
        )
          return seen.leader;
        await sleep(200);
      }
      throw new Error(`cluster ${scope}: no leader with two streaming replicas within ${timeoutMs} ms`);
    },
    stop() {
      stopping ??= (async () => {
        await router.stop();
        await Promise.all(members.map((m) => stopMember(m, user)));
        await etcdDeletePrefix([etcd.url], `${namespace}${scope}/`).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  try {
    await cluster.waitForLeader();
  } catch (error) {
    const tails = await Promise.all(
      members.map(
        async (m) =>
          `${m.name}:\n${(await readFile(join(memberDir(m), 'patroni.log'), 'utf8').catch(() => '')).split('\n').slice(-15).join('\n')}`,
      ),
    );
    await cluster.stop();
    throw new Error(`${(error as Error).message}\n${tails.join('\n')}`);
  }
  return cluster;
}

/** The database router as Steward runs it (src/databases/patroni/router.ts), for one cluster. */
async function startBenchRouter(
  dir: string,
  scope: string,
  members: readonly HaMember[],
  settings: PatroniSettings,
): Promise<{ host: string; port: number; stop(): Promise<void> }> {
  const port = await freePort(0);
  const router = new DatabaseRouter({ dir, settings });
  await router.sync([{ name: scope, port, members }]);
  return { host: '127.0.0.1', port, stop: () => router.stop() };
}

/** A temporary root for a benchmark's files, and cleanups run on exit, SIGINT and SIGTERM. */
export async function benchRoot(name: string): Promise<{
  readonly root: string;
  onCleanup(fn: () => Promise<unknown>): void;
  cleanup(): Promise<void>;
}> {
  const root = await mkdtemp(join(tmpdir(), `steward-bench-${name}-`));
  await chmod(root, 0o711);
  const cleanups: (() => Promise<unknown>)[] = [];
  let done: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (done ??= (async () => {
      for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => void cleanup().finally(() => process.exit(130)));
  }
  return { root, onCleanup: (fn) => void cleanups.push(fn), cleanup };
}
