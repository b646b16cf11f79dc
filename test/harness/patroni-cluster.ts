import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { logTail } from '../../src/databases/patroni/daemon.ts';
import {
  defaultSettings,
  etcdDeletePrefix,
  killMember,
  PatroniRest,
  renderMemberConfig,
  serverBinDir,
  startMember,
  writeMemberConfig,
  type HaCredentials,
  type HaMember,
  type PatroniSettings,
} from '../../src/databases/patroni/index.ts';
import { postgresRunAs } from '../../src/system/exec.ts';
import { freePort } from '../../src/system/ports.ts';

/**
 * A small Patroni cluster on loopback from the process layer alone (no
 * Steward, no control database): for tests (test/harness/patroni.ts) and
 * benchmarks. Not tied to vitest.
 */
export interface TestHaCluster {
  readonly scope: string;
  readonly namespace: string;
  readonly dir: string;
  readonly members: readonly HaMember[];
  readonly credentials: HaCredentials;
  readonly rest: PatroniRest;
  /** Waits until a leader runs, every member streams (or `replicas` of them) and, if synchronous, one is the synchronous standby; returns the leader's name. */
  waitForLeader(options?: { timeoutMs?: number; replicas?: number }): Promise<string>;
  member(name: string): HaMember;
  kill(name: string): Promise<void>;
  start(name: string): Promise<void>;
  /** Superuser connection config to a member over its Unix socket (root maps to postgres). */
  socket(name: string): { host: string; port: number; user: string; database: string };
  /** Stops every member, removes its files and the cluster's etcd keys. */
  stop(): Promise<void>;
}

export interface TestHaClusterOptions {
  readonly scope?: string;
  readonly namespace?: string;
  readonly size?: number;
  readonly synchronous?: boolean;
  readonly settings?: PatroniSettings;
  /** fsync off (default true): throwaway clusters. */
  readonly unsafeFast?: boolean;
}

/**
 * A small Patroni cluster on loopback (fsync off): every member is started at
 * once; one wins the initialize key, the others copy it by pg_basebackup.
 */
/** Passwords for a throwaway cluster (tests, benches): random, never kept. */
export function throwawayCredentials(): HaCredentials {
  return {
    superuser: randomBytes(12).toString('hex'),
    replication: randomBytes(12).toString('hex'),
    rest: randomBytes(12).toString('hex'),
  };
}

/** `size` members of a cluster on loopback, each on free ports, their data dirs under `dir`. */
export async function loopbackMembers(
  scope: string,
  dir: string,
  node: string,
  size: number,
): Promise<HaMember[]> {
  const members: HaMember[] = [];
  for (let i = 1; i <= size; i += 1) {
    members.push({
      name: `${scope}_${i}`,
      node,
      host: '127.0.0.1',
      pgPort: await freePort(0),
      restPort: await freePort(0),
      dataDir: join(dir, `m${i}`, 'data'),
    });
  }
  return members;
}

export async function launchCluster(
  options: TestHaClusterOptions & {
    readonly etcdUrl: string;
    readonly binDir: string;
    readonly namespace: string;
  },
): Promise<TestHaCluster> {
  const etcd = { url: options.etcdUrl, host: new URL(options.etcdUrl).host };
  const scope = options.scope ?? `ha_${randomBytes(4).toString('hex')}`;
  const namespace = options.namespace;
  const dir = await mkdtemp(join(tmpdir(), 'steward-test-patroni-'));
  await chmod(dir, 0o711);
  const user = postgresRunAs();
  const binDir = serverBinDir(options.binDir);
  const credentials = throwawayCredentials();
  const members = await loopbackMembers(scope, dir, 'test', options.size ?? 3);
  const configOf = (member: HaMember): string =>
    renderMemberConfig({
      scope,
      namespace,
      member,
      members,
      etcdHosts: [etcd.host],
      binDir,
      synchronous: options.synchronous ?? false,
      settings: options.settings ?? defaultSettings,
      credentials,
      unsafeFast: options.unsafeFast ?? true,
    });
  for (const member of members) await writeMemberConfig(member, configOf(member), user);
  for (const member of members) await startMember(member, user);
  const rest = new PatroniRest(members, credentials.rest);
  const find = (name: string): HaMember => {
    const found = members.find((m) => m.name === name);
    if (!found) throw new Error(`no member ${name}`);
    return found;
  };
  return {
    scope,
    namespace,
    dir,
    members,
    credentials,
    rest,
    member: find,
    async waitForLeader({ timeoutMs = 60_000, replicas = members.length - 1 } = {}) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        try {
          const status = await rest.cluster();
          const leader = status.members.find((m) => m.role === 'leader' && m.state === 'running');
          const streaming = status.members.filter(
            (m) => m.role !== 'leader' && (m.state === 'streaming' || m.state === 'running'),
          );
          last = JSON.stringify(status.members.map((m) => [m.name, m.role, m.state]));
          // A synchronous cluster is ready once the leader named its synchronous standby.
          const synced = !options.synchronous || status.members.some((m) => m.role === 'sync_standby');
          if (
            leader &&
            synced &&
            streaming.length >= replicas &&
            (await rest.primaryStatus(leader.name)) === 200
          )
            return leader.name;
        } catch (error) {
          last = String(error);
        }
        await sleep(100);
      }
      const logs = await Promise.all(
        members.map(
          async (m) => `${m.name}: ${await logTail({ logFile: join(m.dataDir, '..', 'patroni.log') }, 8)}`,
        ),
      );
      throw new Error(
        `no leader with ${replicas} replicas within ${timeoutMs} ms: ${last}\n${logs.join('\n')}`,
      );
    },
    kill: (name) => killMember(find(name), user),
    async start(name) {
      await startMember(find(name), user);
    },
    socket: (name) => ({
      host: join(find(name).dataDir, '..'),
      port: find(name).pgPort,
      user: 'postgres',
      database: 'postgres',
    }),
    async stop() {
      // Throwaway clusters: killed, not shut down (a clean stop of three members takes seconds).
      await Promise.all(members.map((member) => killMember(member, user)));
      await etcdDeletePrefix([etcd.url], `${namespace}${scope}/`).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
