import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { UnavailableError } from '../../core/errors.ts';
import { randomSecret } from '../../secrets/envelope.ts';
import type { ControlDb } from '../../store/db.ts';
import type { SystemUser } from '../../system/exec.ts';
import { freePort } from '../../system/ports.ts';
import { catalogOperations, type CatalogOperations } from '../catalog.ts';
import { tolerateServerLoss } from '../client.ts';
import type { ClusterInventory, DatabaseDriver, Endpoint, ObservedStageDatabase } from '../driver.ts';
import { maintenanceDatabase, pinned } from '../privileged.ts';
import { memberDir, type HaMember } from './config.ts';
import { etcdDeletePrefix } from './etcd.ts';
import type { HaMemberKeeper } from './keeper.ts';
import { killMember, memberPid, removeMember, startMember } from './member.ts';
import { PatroniRest } from './rest.ts';
import {
  deleteCluster,
  haSecretNames,
  insertCluster,
  markClusterAbsent,
  planMembers,
  readCluster,
  readClusters,
  stageNameOf,
  usedPorts,
  type HaClusterRow,
  type Placement,
} from './store.ts';

export interface HaDriverOptions {
  readonly db: ControlDb;
  readonly secrets: {
    get(name: string): Promise<string>;
    put(tx: ControlDb, name: string, value: string): Promise<void>;
    remove(tx: ControlDb, name: string): Promise<void>;
  };
  readonly keeper: HaMemberKeeper;
  /** `<dataDir>/ha`: members' directories are `<root>/<scope>/<member>`. */
  readonly root: string;
  /** Where new members go (one node: three times this node). */
  readonly placements: () => Promise<readonly Placement[]>;
  /** etcd client URLs, for removing a deleted cluster's keys. */
  readonly etcdUrls: () => Promise<readonly string[]>;
  /** Stage names whose clusters run synchronous_mode (config ha.synchronousStages). */
  readonly synchronousStages: readonly string[];
  readonly namespace?: string;
  readonly user: SystemUser | undefined;
  /** How long ensureServer waits for a new cluster's leader (default 120 s). */
  readonly leaderTimeoutMs?: number;
}

/** What others (drills, restores, checks) may ask of an ha stage's cluster. */
export interface HaClusterView {
  readonly scope: string;
  /** etcd key prefix: the cluster's keys are `<namespace><scope>/…`. */
  readonly namespace: string;
  readonly members: readonly (HaMember & { readonly pid?: number | undefined })[];
  readonly routerPort: number;
  readonly synchronous: boolean;
}

export interface HaDriver extends DatabaseDriver {
  readonly kind: 'ha';
  /** The stage's cluster (members with the pid of their Patroni on this node), or undefined. */
  clusterOf(name: string): Promise<HaClusterView | undefined>;
  /** The cluster's Patroni REST API (authenticated for unsafe calls). */
  rest(name: string): Promise<PatroniRest>;
  /** The etcd client URLs the members use (a restore removes a cluster's keys). */
  etcdUrls(): Promise<readonly string[]>;
  /** Kills a member's Patroni and postmaster at once (a lost machine): for drills. */
  killMember(name: string, member: string, how?: 'SIGKILL'): Promise<void>;
  /** Starts (or adopts) a member again. */
  startMember(name: string, member: string): Promise<void>;
  readonly keeper: HaMemberKeeper;
}

const isPresent = (c: HaClusterRow | undefined): c is HaClusterRow =>
  c !== undefined && c.desired === 'present';

/**
 * The `ha` tier: each ha stage gets a Patroni cluster of its own, three
 * members, scope = the stage's database name, as dedicated stages get a
 * PostgreSQL cluster of their own: stages share nothing, so a failover,
 * restore or delete of one stage never touches another. The same database
 * and role go inside as in the other tiers, so the reconciler treats all
 * alike. Catalog work goes to the leader as postgres over its Unix socket
 * (peer authentication), re-resolved after every failure; the stage's role
 * connects through the database router, which follows the leader.
 */
export function haDriver(options: HaDriverOptions): HaDriver {
  const pools = new Map<string, { leader: string; pool: pg.Pool; catalog: CatalogOperations }>();
  const namespace = options.namespace ?? '/steward/';

  async function rest(cluster: HaClusterRow): Promise<PatroniRest> {
    return new PatroniRest(cluster.members, await options.secrets.get(haSecretNames(cluster.scope).rest));
  }

  async function forget(scope: string): Promise<void> {
    const entry = pools.get(scope);
    pools.delete(scope);
    await entry?.pool.end().catch(() => undefined);
  }

  /** The leader's catalog, or undefined while the cluster has no running leader on this node's reach. */
  async function leaderCatalog(cluster: HaClusterRow): Promise<CatalogOperations | undefined> {
    const leader = await (await rest(cluster)).leader().catch(() => undefined);
    const member = cluster.members.find((m) => m.name === leader);
    if (!member) return undefined;
    const existing = pools.get(cluster.scope);
    if (existing?.leader === member.name) return existing.catalog;
    await forget(cluster.scope);
    const pool = new pg.Pool(
      pinned({
        host: memberDir(member),
        port: member.pgPort,
        user: 'postgres',
        database: maintenanceDatabase,
        max: 2,
        application_name: 'steward-provisioner',
      }),
    );
    tolerateServerLoss(pool);
    const entry = { leader: member.name, pool, catalog: catalogOperations(pool) };
    pools.set(cluster.scope, entry);
    return entry.catalog;
  }

  /** Runs catalog work on the leader; a failure drops the session so that the next call asks Patroni again. */
  async function onLeader<T>(name: string, work: (catalog: CatalogOperations) => Promise<T>): Promise<T> {
    const cluster = await readCluster(options.db, name);
    if (!isPresent(cluster)) throw new UnavailableError(`the ha cluster of ${name} does not exist yet`);
    const catalog = await leaderCatalog(cluster);
    if (!catalog) throw new UnavailableError(`the ha cluster of ${name} has no leader right now`);
    try {
      return await work(catalog);
    } catch (error) {
      await forget(name);
      throw error;
    }
  }

  async function createRows(name: string): Promise<void> {
    if (await readCluster(options.db, name)) return;
    const used = await usedPorts(options.db);
    const take = async (): Promise<number> => {
      for (;;) {
        const port = await freePort(0);
        if (!used.has(port)) {
          used.add(port);
          return port;
        }
      }
    };
    const ports = [];
    for (let i = 0; i < 3; i += 1) ports.push({ pgPort: await take(), restPort: await take() });
    const stage = await stageNameOf(options.db, name);
    const members = planMembers(name, options.root, await options.placements(), ports);
    const names = haSecretNames(name);
    await insertCluster(
      options.db,
      {
        scope: name,
        synchronous: stage !== undefined && options.synchronousStages.includes(stage),
        namespace,
        routerPort: await take(),
        members,
      },
      async (tx) => {
        await options.secrets.put(tx, names.superuser, randomSecret(24));
        await options.secrets.put(tx, names.replication, randomSecret(24));
        await options.secrets.put(tx, names.rest, randomSecret(24));
      },
    );
  }

  /** A running leader the router sees (and, for a synchronous cluster, its synchronous standby). */
  async function waitForLeader(cluster: HaClusterRow): Promise<void> {
    const api = await rest(cluster);
    const deadline = Date.now() + (options.leaderTimeoutMs ?? 120_000);
    let last = 'no answer';
    while (Date.now() < deadline) {
      const status = await api.cluster().catch((error: unknown) => {
        last = (error as Error).message;
        return undefined;
      });
      const leader = status?.members.find((m) => m.role === 'leader' && m.state === 'running');
      // A synchronous cluster is ready once its leader named a synchronous standby (no commit acknowledged before).
      const synced = !cluster.synchronous || status?.members.some((m) => m.role === 'sync_standby');
      if (leader && synced && (await api.primaryStatus(leader.name)) === 200) {
        // This node's router sends connections to the leader alone (a new listen counts every member up at first).
        const routed = await options.keeper.routesTo(cluster.scope).catch(() => []);
        if (routed.length === 1 && routed[0] === leader.name) return;
        last = `the router sends connections to ${routed.join(', ') || 'no member'}, the leader is ${leader.name}`;
        await sleep(200);
        continue;
      }
      if (status)
        last = status.members.map((m) => `${m.name} ${m.role} ${m.state}`).join(', ') || 'no members';
      await sleep(200);
    }
    throw new UnavailableError(`the ha cluster of ${cluster.scope} has no leader yet (${last})`);
  }

  const notRunning: ObservedStageDatabase = {
    serverRunning: false,
    roleExists: false,
    roleIsPlain: false,
    databaseExists: false,
    ownedByRole: false,
    publicCanConnect: false,
    connections: 0,
  };

  return {
    kind: 'ha',
    keeper: options.keeper,

    async observe(name) {
      const cluster = await readCluster(options.db, name);
      // A cluster being deleted (or not running) still counts as the database, so removal finishes it.
      if (!isPresent(cluster)) return { ...notRunning, databaseExists: cluster !== undefined };
      const catalog = await leaderCatalog(cluster);
      if (!catalog) return { ...notRunning, databaseExists: true };
      try {
        return await catalog.observe(name);
      } catch {
        await forget(name);
        return { ...notRunning, databaseExists: true };
      }
    },

    /** Rows and passwords first (one transaction), then the members on this node, the router, a leader. */
    async ensureServer(name) {
      await createRows(name);
      const cluster = await readCluster(options.db, name);
      if (!isPresent(cluster)) throw new UnavailableError(`the ha cluster of ${name} is being deleted`);
      await options.keeper.keep(name);
      await waitForLeader(cluster);
    },

    async inventory(prefix): Promise<ClusterInventory> {
      const databases: string[] = [];
      const roles: string[] = [];
      for (const cluster of await readClusters(options.db)) {
        if (!cluster.scope.startsWith(prefix) || cluster.desired !== 'present') continue;
        const catalog = await leaderCatalog(cluster).catch(() => undefined);
        const found = await catalog?.inventory(cluster.scope).catch(() => undefined);
        if (!found) continue;
        databases.push(...found.databases.filter((d) => d === cluster.scope));
        roles.push(...found.roles.filter((r) => r === cluster.scope));
      }
      return { databases, roles };
    },

    ensureRole: (name, password) => onLeader(name, (c) => c.ensureRole(name, password)),
    ensureDatabase: (name) => onLeader(name, (c) => c.ensureDatabase(name)),
    restrictAccess: (name) => onLeader(name, (c) => c.restrictAccess(name)),

    /**
     * Removing an ha stage's database removes its whole cluster: marked
     * absent (no node starts it again), members stopped and their files
     * removed, its etcd keys, its router entry, then its rows and passwords.
     * Each step is safe to repeat after a kill -9.
     */
    async dropDatabase(name) {
      await forget(name);
      const cluster = await readCluster(options.db, name);
      if (!cluster) return;
      await markClusterAbsent(options.db, name);
      for (const member of cluster.members.filter((m) => m.node === options.keeper.node))
        await removeMember(member, options.user);
      await rm(join(options.root, name), { recursive: true, force: true });
      // New clusters place every member on the node that creates them (HaTier's placements); members placed
      // on other nodes would need their keepers to remove them before the rows go: not done yet.
      await etcdDeletePrefix(await options.etcdUrls(), `${cluster.namespace}${name}/`);
      const names = haSecretNames(name);
      await deleteCluster(options.db, name, async (tx) => {
        for (const secret of Object.values(names)) await options.secrets.remove(tx, secret);
      });
      await options.keeper.syncRouter();
    },

    async dropRole(name) {
      const cluster = await readCluster(options.db, name);
      if (isPresent(cluster) && (await leaderCatalog(cluster))) await onLeader(name, (c) => c.dropRole(name));
    },

    async endpoint(name): Promise<Endpoint> {
      const cluster = await readCluster(options.db, name);
      if (!cluster) throw new UnavailableError(`the ha cluster of ${name} does not exist yet`);
      return { host: '127.0.0.1', port: cluster.routerPort };
    },

    async clusterOf(name) {
      const cluster = await readCluster(options.db, name);
      if (!cluster) return undefined;
      const members = await Promise.all(
        cluster.members.map(async (m) => ({
          ...m,
          pid: m.node === options.keeper.node ? await memberPid(m, options.user) : undefined,
        })),
      );
      return {
        scope: cluster.scope,
        namespace: cluster.namespace,
        members,
        routerPort: cluster.routerPort,
        synchronous: cluster.synchronous,
      };
    },

    async rest(name) {
      const cluster = await readCluster(options.db, name);
      if (!cluster) throw new UnavailableError(`the ha cluster of ${name} does not exist`);
      return rest(cluster);
    },

    etcdUrls: () => options.etcdUrls(),

    async killMember(name, member, how = 'SIGKILL') {
      await killMember(await memberOf(name, member), options.user, how);
    },

    async startMember(name, member) {
      await startMember(await memberOf(name, member), options.user);
    },

    /** Closes the sessions; the members stop with the tier (HaTier.close), where the keeper runs. */
    async close() {
      for (const scope of [...pools.keys()]) await forget(scope);
    },
  };

  async function memberOf(name: string, member: string): Promise<HaMember> {
    const cluster = await readCluster(options.db, name);
    const found = cluster?.members.find((m) => m.name === member);
    if (!found) throw new UnavailableError(`the ha cluster of ${name} has no member ${member}`);
    return found;
  }
}

/** What `steward tenant show` says of an ha stage: whether its cluster commits synchronously. */
export interface StageReplication {
  readonly replication?: 'synchronous' | 'asynchronous';
}

/** Adds each ha stage's replication mode (its cluster's) to a tenant's view; other tiers pass through. */
export async function withReplication<V extends { tier: string; stages: readonly { database: string }[] }>(
  ha: HaDriver | undefined,
  view: V,
): Promise<V & { stages: (V['stages'][number] & StageReplication)[] }> {
  const stages: (V['stages'][number] & StageReplication)[] = [];
  for (const stage of view.stages) {
    const cluster = ha && view.tier === 'ha' ? await ha.clusterOf(stage.database) : undefined;
    stages.push(
      cluster ? { ...stage, replication: cluster.synchronous ? 'synchronous' : 'asynchronous' } : stage,
    );
  }
  return { ...view, stages };
}
