import type { HaDriver } from './patroni/driver.ts';
import type { StageRenames } from './rename.ts';

/**
 * What a database driver does for a stage: one database and one login role of
 * the same name, reachable by that role only. Drivers differ in where the
 * database lives (a shared cluster, a dedicated one, Patroni, CloudNativePG).
 */
export interface ObservedStageDatabase {
  /** The server that holds the stage's database is up (always, for a shared cluster). */
  readonly serverRunning: boolean;
  readonly roleExists: boolean;
  /** The role has no privilege beyond logging in (no superuser, createdb, createrole, replication, bypassrls). */
  readonly roleIsPlain: boolean;
  readonly databaseExists: boolean;
  readonly ownedByRole: boolean;
  /** PUBLIC (any role) may connect: must be false once provisioned. */
  readonly publicCanConnect: boolean;
  readonly connections: number;
}

export interface ClusterInventory {
  readonly databases: readonly string[];
  readonly roles: readonly string[];
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface DatabaseDriver {
  readonly kind: 'shared' | 'dedicated' | 'ha';
  observe(name: string): Promise<ObservedStageDatabase>;
  /** Creates and starts the server for the stage where the driver runs one per stage. */
  ensureServer(name: string): Promise<void>;
  /** Databases and roles whose names start with the prefix: for bulk drift checks. */
  inventory(prefix: string): Promise<ClusterInventory>;
  ensureRole(name: string, password: string): Promise<void>;
  ensureDatabase(name: string): Promise<void>;
  restrictAccess(name: string): Promise<void>;
  dropDatabase(name: string): Promise<void>;
  dropRole(name: string): Promise<void>;
  /** Where the stage's role connects. */
  endpoint(name: string): Promise<Endpoint>;
  /**
   * Renames a stage's database and role from a slug-bearing name to its opaque
   * one; only drivers whose clusters other tenants' roles share have it (see
   * src/tenants/rename-plan.ts).
   */
  readonly renames?: StageRenames;
  close(): Promise<void>;
}

/** The drivers this installation has, by tier. */
export interface DatabaseDrivers {
  readonly shared: DatabaseDriver;
  readonly dedicated?: DatabaseDriver | undefined;
  /** Patroni: also what drills, checks and restores ask of a stage's cluster. */
  readonly ha?: HaDriver | undefined;
}

export function driverFor(drivers: DatabaseDrivers, tier: string): DatabaseDriver | undefined {
  return tier === 'shared' || tier === 'dedicated' || tier === 'ha' ? drivers[tier] : undefined;
}

export function availableTiers(drivers: DatabaseDrivers): string[] {
  return (['shared', 'dedicated', 'ha'] as const).filter((tier) => drivers[tier] !== undefined);
}
