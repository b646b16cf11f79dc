import pg from 'pg';
import { catalogOperations } from '../catalog.ts';
import { tolerateServerLoss } from '../client.ts';
import { maintenance } from '../privileged.ts';
import type { DatabaseDriver, Endpoint } from '../driver.ts';
import { renameOperations } from '../rename.ts';

/**
 * The shared tier: each stage is a database and a role of its own in a
 * cluster that several stages use. Steward holds a superuser connection to
 * the cluster; stage roles get nothing but their own database.
 */
export function sharedDriver(adminUrl: string): DatabaseDriver {
  // On the maintenance database, whatever the URL names: see ../privileged.ts.
  const pool = new pg.Pool({
    ...maintenance({ connectionString: adminUrl }),
    max: 4,
    application_name: 'steward-provisioner',
  });
  tolerateServerLoss(pool);
  const url = new URL(adminUrl);
  const endpoint: Endpoint = { host: url.hostname, port: Number(url.port || 5432) };

  return {
    kind: 'shared',

    ...catalogOperations(pool),

    renames: renameOperations(pool),

    ensureServer: () => Promise.resolve(),

    endpoint: () => Promise.resolve(endpoint),

    close: () => pool.end(),
  };
}
