import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { catalogOperations } from '../databases/catalog.ts';
import { tolerateServerLoss } from '../databases/client.ts';
import { maintenanceDatabase, pinned } from '../databases/privileged.ts';
import type { HaClusterSeen, HaMemberSeen } from '../monitoring/ha-verdicts.ts';
import { drillDatabase, type HaCluster } from './cluster.ts';

/**
 * A HaCluster over a stage's Patroni cluster: what Steward's Patroni
 * driver knows of it (members, REST API, router, how to kill and start a
 * member). Structural types, so that the drill needs nothing of the driver
 * but these few calls (src/databases/patroni/ implements them).
 */
export interface PatroniMemberAddress {
  readonly name: string;
  readonly host: string;
  readonly restPort: number;
  /** The member's directory holds its Unix socket (`<dir>/..` of the data directory). */
  readonly dataDir: string;
  readonly pgPort: number;
}

/** Patroni's GET /cluster, and the switchover (PatroniRest). */
export interface PatroniClusterApi {
  cluster(): Promise<{
    readonly members: readonly {
      readonly name: string;
      readonly role: string;
      readonly state: string;
      readonly timeline?: number | undefined;
      readonly lag?: number | 'unknown' | undefined;
    }[];
  }>;
  switchover(candidate?: string): Promise<void>;
  reinit(member: string): Promise<void>;
}

export interface PatroniClusterOptions {
  readonly scope: string;
  readonly synchronous: boolean;
  readonly members: readonly PatroniMemberAddress[];
  readonly rest: PatroniClusterApi;
  /** The database router's listener for the cluster: always the current primary. */
  readonly router: { readonly host: string; readonly port: number };
  /** The superuser session of a member, over its own Unix socket. */
  readonly socket: (member: PatroniMemberAddress) => pg.ClientConfig;
  readonly kill: (member: PatroniMemberAddress) => Promise<void>;
  readonly start: (member: PatroniMemberAddress) => Promise<void>;
  /** A member's REST API answers within this (default 1 s). */
  readonly timeoutMs?: number;
}

export function patroniCluster(o: PatroniClusterOptions): HaCluster {
  const timeoutMs = o.timeoutMs ?? 1_000;
  const find = (name: string): PatroniMemberAddress => {
    const found = o.members.find((m) => m.name === name);
    if (!found) throw new Error(`cluster ${o.scope} has no member ${name}`);
    return found;
  };

  /** A member's own view of itself (GET /patroni needs no password). */
  async function memberSelf(m: PatroniMemberAddress): Promise<Record<string, unknown> | undefined> {
    try {
      const response = await fetch(`http://${m.host}:${m.restPort}/patroni`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      // Patroni answers 503 from a replica or a stopped PostgreSQL, with the same body.
      return (await response.json()) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  return {
    scope: o.scope,
    synchronous: o.synchronous,

    async observe(): Promise<HaClusterSeen | null> {
      const [cluster, selves] = await Promise.all([
        o.rest.cluster().catch(() => undefined),
        Promise.all(o.members.map(memberSelf)),
      ]);
      if (!cluster && selves.every((s) => s === undefined)) return null;
      const listed = new Map((cluster?.members ?? []).map((m) => [m.name, m]));
      const members = o.members.map((m, i): HaMemberSeen => {
        const self = selves[i];
        const entry = listed.get(m.name);
        const role = typeof self?.role === 'string' ? self.role : '';
        return {
          name: m.name,
          reachable: self !== undefined,
          role:
            role === 'master' || role === 'primary' ? 'primary' : role === 'replica' ? 'replica' : 'unknown',
          state: self ? (typeof self.state === 'string' ? self.state : 'unknown') : 'unreachable',
          timeline: typeof self?.timeline === 'number' ? self.timeline : (entry?.timeline ?? null),
          lagBytes: typeof entry?.lag === 'number' ? entry.lag : null,
        };
      });
      const leader = cluster?.members.find((m) => m.role === 'leader')?.name ?? null;
      return { scope: o.scope, leader, members };
    },

    async prepare() {
      const names = (await o.rest.cluster()).members.filter((m) => m.role === 'leader').map((m) => m.name);
      const leader = names[0];
      if (!leader) throw new Error(`cluster ${o.scope} has no leader to prepare the drill database on`);
      const pool = tolerateServerLoss(
        new pg.Pool(
          pinned({
            ...o.socket(find(leader)),
            database: maintenanceDatabase,
            max: 1,
            application_name: 'steward-drill',
          }),
        ),
      );
      // A fresh password per drill, kept in memory only: nothing else ever logs in as this role.
      const password = randomBytes(24).toString('base64url');
      try {
        const catalog = catalogOperations(pool);
        await catalog.ensureRole(drillDatabase, password);
        await catalog.ensureDatabase(drillDatabase);
        await catalog.restrictAccess(drillDatabase);
      } finally {
        await pool.end();
      }
      return { ...o.router, user: drillDatabase, password, database: drillDatabase };
    },

    kill: (member) => o.kill(find(member)),
    async switchover(leader) {
      const cluster = await o.rest.cluster();
      // In synchronous mode Patroni hands over to the synchronous standby only.
      const candidate =
        cluster.members.find((m) => m.name !== leader && m.role === 'sync_standby') ??
        cluster.members.find((m) => m.name !== leader && m.role === 'replica' && m.state !== 'stopped');
      await o.rest.switchover(candidate?.name);
    },
    start: (member) => o.start(find(member)),
    reinit: (member) => o.rest.reinit(find(member).name),
  };
}
