import { existsSync } from 'node:fs';
import { readdir, rm, mkdir, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { catalogOperations, type CatalogOperations } from '../catalog.ts';
import { tolerateServerLoss } from '../client.ts';
import { maintenanceDatabase, pinned } from '../privileged.ts';
import type { ClusterInventory, DatabaseDriver, Endpoint, ObservedStageDatabase } from '../driver.ts';
import {
  clusterIsRunning,
  describeCluster,
  initCluster,
  isInitialised,
  readClusterPort,
  setClusterPort,
  startCluster,
  stopCluster,
  type LocalCluster,
} from '../local-cluster.ts';
import { randomSecret } from '../../secrets/envelope.ts';
import { freePort } from '../../system/ports.ts';

export interface DedicatedDriverOptions {
  /** One directory per stage cluster: `<clustersDir>/<stage database name>`. */
  readonly clustersDir: string;
  readonly binDir: string;
  /** Throwaway clusters without fsync, for tests. */
  readonly unsafeFast?: boolean;
}

/** The dedicated driver also names each stage's cluster, for what works on clusters (backups). */
export interface DedicatedDriver extends DatabaseDriver {
  /** The stage's cluster, once initialised (running or not); undefined before. */
  clusterOf(name: string): Promise<LocalCluster | undefined>;
}

/**
 * The dedicated tier: each stage gets a PostgreSQL cluster of its own, with
 * the same database and role inside as the shared tier, so the reconciler
 * treats both alike. Steward reaches each cluster as superuser over a Unix
 * socket in the cluster's directory (peer authentication, no password to
 * keep); the stage role connects over TCP with its password.
 */
export function dedicatedDriver(options: DedicatedDriverOptions): DedicatedDriver {
  const pools = new Map<string, { pool: pg.Pool; catalog: CatalogOperations }>();

  const dir = (name: string): string => join(options.clustersDir, name);

  async function cluster(name: string): Promise<LocalCluster | undefined> {
    const port = await readClusterPort(dir(name));
    if (port === undefined) return undefined;
    return describeCluster({ dir: dir(name), port, binDir: options.binDir });
  }

  async function catalog(name: string): Promise<CatalogOperations> {
    const existing = pools.get(name);
    if (existing) return existing.catalog;
    const running = await cluster(name);
    if (!running) throw new Error(`the dedicated cluster of ${name} is not initialised`);
    const pool = new pg.Pool(
      pinned({
        host: running.dir,
        port: running.port,
        user: 'postgres',
        database: maintenanceDatabase,
        max: 2,
        application_name: 'steward-provisioner',
      }),
    );
    tolerateServerLoss(pool);
    const entry = { pool, catalog: catalogOperations(pool) };
    pools.set(name, entry);
    return entry.catalog;
  }

  async function forget(name: string): Promise<void> {
    const entry = pools.get(name);
    pools.delete(name);
    await entry?.pool.end().catch(() => undefined);
  }

  async function running(name: string): Promise<LocalCluster | undefined> {
    const found = await cluster(name);
    return found && (await clusterIsRunning(found)) ? found : undefined;
  }

  return {
    kind: 'dedicated',

    async clusterOf(name) {
      return (await isInitialised(dir(name))) ? cluster(name) : undefined;
    },

    async observe(name): Promise<ObservedStageDatabase> {
      if (!(await running(name))) {
        const present = existsSync(dir(name));
        // A cluster directory that is not running still counts as the database, so removal cleans it.
        return {
          serverRunning: false,
          roleExists: false,
          roleIsPlain: false,
          databaseExists: present,
          ownedByRole: false,
          publicCanConnect: false,
          connections: 0,
        };
      }
      return (await catalog(name)).observe(name);
    },

    async ensureServer(name) {
      await mkdir(options.clustersDir, { recursive: true, mode: 0o711 });
      await chmod(options.clustersDir, 0o711);
      const target = dir(name);
      const port = (await readClusterPort(target)) ?? (await freePort(0));
      let created = await initCluster(
        {
          dir: target,
          port,
          binDir: options.binDir,
          superuserAccess: 'peer',
          ...(options.unsafeFast ? { unsafeFast: true } : {}),
        },
        // initdb insists on a password when host connections use scram; nobody uses this one.
        randomSecret(24),
      );
      try {
        await startCluster(created);
      } catch (error) {
        // The port was taken in the meantime (by another cluster or program): move and try once more.
        if (await clusterIsRunning(created)) throw error;
        created = await setClusterPort(created, await freePort(0));
        await startCluster(created);
      }
      await forget(name);
    },

    async inventory(prefix): Promise<ClusterInventory> {
      if (!existsSync(options.clustersDir)) return { databases: [], roles: [] };
      const names = (await readdir(options.clustersDir)).filter((n) => n.startsWith(prefix));
      const databases: string[] = [];
      const roles: string[] = [];
      for (const name of names) {
        if (!(await isInitialised(dir(name))) || !(await running(name))) continue;
        const found = await (await catalog(name)).inventory(name);
        databases.push(...found.databases.filter((d) => d === name));
        roles.push(...found.roles.filter((r) => r === name));
      }
      return { databases, roles };
    },

    async ensureRole(name, password) {
      return (await catalog(name)).ensureRole(name, password);
    },
    async ensureDatabase(name) {
      return (await catalog(name)).ensureDatabase(name);
    },
    async restrictAccess(name) {
      return (await catalog(name)).restrictAccess(name);
    },

    /** Removing a dedicated stage's database removes its whole cluster. */
    async dropDatabase(name) {
      await forget(name);
      const found = await cluster(name);
      if (found) await stopCluster(found, 'immediate');
      await rm(dir(name), { recursive: true, force: true });
    },

    async dropRole(name) {
      if (await running(name)) await (await catalog(name)).dropRole(name);
    },

    async endpoint(name): Promise<Endpoint> {
      const port = await readClusterPort(dir(name));
      if (port === undefined) throw new Error(`the dedicated cluster of ${name} does not exist yet`);
      return { host: '127.0.0.1', port };
    },

    /** Steward stops the clusters it runs when it stops; after a kill -9 they are adopted on restart. */
    async close() {
      for (const name of [...pools.keys()]) await forget(name);
      if (!existsSync(options.clustersDir)) return;
      for (const name of await readdir(options.clustersDir)) {
        const found = await cluster(name);
        if (found) await stopCluster(found, 'fast').catch(() => undefined);
      }
    },
  };
}
