import type { DatabaseDriver } from '../databases/driver.ts';
import { memberDir } from '../databases/patroni/config.ts';
import type { HaDriver } from '../databases/patroni/driver.ts';
import { maintenanceDatabase } from '../databases/privileged.ts';
import type { HaClusters } from './cluster.ts';
import { patroniCluster } from './patroni-cluster.ts';

/** The ha tier's driver, when this installation has one. */
export function isHaDriver(driver: DatabaseDriver | undefined): driver is HaDriver {
  return driver?.kind === 'ha' && 'clusterOf' in driver;
}

/**
 * Stages' Patroni clusters as drills, the ha checks and healing see them,
 * over the ha driver: its members, REST API, router port, and its kill and
 * start of a member. Steward reaches a member's PostgreSQL as postgres over
 * the member's own Unix socket (in its directory), as the driver does.
 */
export function haClustersOf(driver: HaDriver): HaClusters {
  return {
    async forStage(name) {
      const view = await driver.clusterOf(name);
      if (!view) throw new Error(`the ha cluster of ${name} does not exist`);
      return patroniCluster({
        scope: view.scope,
        synchronous: view.synchronous,
        members: view.members,
        rest: await driver.rest(name),
        router: { host: '127.0.0.1', port: view.routerPort },
        socket: (m) => ({
          host: memberDir(m),
          port: m.pgPort,
          user: 'postgres',
          database: maintenanceDatabase,
        }),
        // The killed member's machine is gone: this node's keeper must not start it before the drill does.
        kill: async (m) => {
          driver.keeper.hold(m.name);
          await driver.killMember(name, m.name);
        },
        start: async (m) => {
          driver.keeper.release(m.name);
          await driver.startMember(name, m.name);
        },
      });
    },
  };
}
