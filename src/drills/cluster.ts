import type { HaClusterSeen } from '../monitoring/ha-verdicts.ts';
import type { LoadConnection } from './write-load.ts';

/**
 * A stage's Patroni cluster as drills, the ha checks and self-healing see
 * it: the port between them and the Patroni driver (src/databases/patroni/),
 * implemented in ./patroni-cluster.ts. Kept small so that the planners are
 * tested without a cluster and the drivers against a real one.
 */
export interface HaCluster {
  /** The Patroni scope (the stage's database name). */
  readonly scope: string;
  /** The cluster runs Patroni's synchronous_mode: no acknowledged commit may be lost. */
  readonly synchronous: boolean;
  /** Every member as it answers now; null when none answers. */
  observe(): Promise<HaClusterSeen | null>;
  /**
   * The drill's own database and role (`steward_drill`, a plain login role
   * with a fresh password) on the leader, made if missing; returns how the
   * load reaches the primary: through the router, as apps do.
   */
  prepare(): Promise<LoadConnection>;
  /** SIGKILLs the member's Patroni and its PostgreSQL: the machine is gone. */
  kill(member: string): Promise<void>;
  /** Asks Patroni to hand the leader over from `leader` to a healthy replica. */
  switchover(leader: string): Promise<void>;
  /** Starts the member's Patroni again (idempotent: a running one is left alone). */
  start(member: string): Promise<void>;
  /** Throws the member's data away and copies it from the leader again (Patroni's reinitialize). */
  reinit(member: string): Promise<void>;
}

export interface HaClusters {
  /** The cluster of a stage on the ha tier, by the stage's database name (the Patroni scope). */
  forStage(databaseName: string): Promise<HaCluster>;
}

/** The drill's database and role in a stage's cluster: Steward's own, never the tenant's. */
export const drillDatabase = 'steward_drill';
