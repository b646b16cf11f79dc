import type { HaCluster, HaClusters } from '../drills/cluster.ts';
import { membersToReinit, membersToStart, rejoined, type HaClusterSeen } from '../monitoring/ha-verdicts.ts';
import type { TenantService } from '../tenants/service.ts';
import type { HealTarget } from './plan.ts';

/**
 * Self-healing of a stage's Patroni cluster, where it is safe: start the
 * members whose Patroni does not answer (what HaMemberKeeper does on its
 * node; a running one is left alone), and reinit a replica that is stuck
 * (its PostgreSQL failed to start, or it stays on an older timeline than the
 * leader's) while one healthy leader exists to copy from. A split brain is
 * never acted on: the router already routes to the leader-key holder only,
 * and which data to keep is a person's decision.
 */
export interface HaHealDriversOptions {
  readonly tenants: TenantService;
  readonly haClusters: HaClusters | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function haHealDrivers(o: HaHealDriversOptions): {
  readonly 'start-ha-member': (target: HealTarget, timeoutMs: number) => Promise<string>;
  readonly 'reinit-ha-member': (target: HealTarget, timeoutMs: number) => Promise<string>;
} {
  const clusterOf = async (target: HealTarget): Promise<HaCluster> => {
    if (!o.haClusters) throw new Error('this installation runs no ha tier');
    const stageId = await o.tenants.stageId(target.tenant, target.stage);
    const { database } = await o.tenants.stageConnection(stageId);
    return o.haClusters.forStage(database);
  };
  const observe = async (cluster: HaCluster): Promise<HaClusterSeen> => {
    const seen = await cluster.observe();
    if (!seen) throw new Error(`no member of cluster ${cluster.scope} answers`);
    return seen;
  };
  /** Until `done` holds of what the cluster shows, or the time is up. */
  const until = async (
    cluster: HaCluster,
    timeoutMs: number,
    done: (seen: HaClusterSeen) => boolean,
  ): Promise<number> => {
    const started = Date.now();
    for (;;) {
      const seen = await cluster.observe();
      if (seen && done(seen)) return (Date.now() - started) / 1000;
      if (Date.now() - started > timeoutMs) throw new Error(`not done within ${timeoutMs / 1000} s`);
      await sleep(250);
    }
  };

  return {
    'start-ha-member': async (target, timeoutMs) => {
      const cluster = await clusterOf(target);
      const down = membersToStart(await observe(cluster));
      if (down.length === 0) throw new Error(`every member of ${cluster.scope} answers: nothing to start`);
      for (const member of down) await cluster.start(member);
      const took = await until(cluster, timeoutMs, (seen) =>
        down.every((name) => seen.members.find((m) => m.name === name)?.reachable === true),
      );
      return `started ${down.join(', ')} of ${cluster.scope}; answering after ${took.toFixed(1)} s`;
    },
    'reinit-ha-member': async (target, timeoutMs) => {
      const cluster = await clusterOf(target);
      const { members, why } = membersToReinit(await observe(cluster));
      if (members.length === 0) throw new Error(why);
      for (const member of members) await cluster.reinit(member);
      const took = await until(cluster, timeoutMs, (seen) => members.every((name) => rejoined(seen, name)));
      return `reinitialised ${members.join(', ')} of ${cluster.scope} (${why}); streaming again after ${took.toFixed(1)} s`;
    },
  };
}
