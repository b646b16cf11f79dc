import { join } from 'node:path';
import type { ControlDb } from '../../store/db.ts';
import type { HaMember } from './config.ts';

/**
 * ha_clusters and ha_members: written here and nowhere else. A row says a
 * cluster should exist and where its members run; Patroni and etcd say what
 * state it is in.
 */
export interface HaClusterRow {
  readonly scope: string;
  readonly desired: 'present' | 'absent';
  readonly synchronous: boolean;
  readonly namespace: string;
  readonly routerPort: number;
  readonly members: readonly HaMember[];
  /**
   * Its stage is paused: a restore works on the cluster (it stops, restores
   * and starts the members itself), so no node starts or reconfigures them.
   */
  readonly held: boolean;
}

/** The passwords of a cluster, in SecretService under these names. */
export const haSecretNames = (scope: string) =>
  ({
    superuser: `ha/${scope}/superuser`,
    replication: `ha/${scope}/replication`,
    rest: `ha/${scope}/rest`,
  }) as const;

/** Where a member is placed: which node runs it, on which address. */
export interface Placement {
  readonly node: string;
  readonly host: string;
}

/**
 * A new cluster's members (pure): three, named `<scope>_1..3`, each placed on
 * the next node in turn (one node: all three on it), with its ports and its
 * data directory under `<root>/<scope>/<member>/data`.
 */
export function planMembers(
  scope: string,
  root: string,
  placements: readonly Placement[],
  ports: readonly { readonly pgPort: number; readonly restPort: number }[],
  size = 3,
): HaMember[] {
  if (placements.length === 0) throw new Error('an ha cluster needs at least one node to place members on');
  const members: HaMember[] = [];
  for (let i = 0; i < size; i += 1) {
    const placement = placements[i % placements.length]!;
    const port = ports[i];
    if (!port) throw new Error(`no ports for member ${i + 1} of ${scope}`);
    const name = `${scope}_${i + 1}`;
    members.push({
      name,
      node: placement.node,
      host: placement.host,
      ...port,
      dataDir: join(root, scope, name, 'data'),
    });
  }
  return members;
}

export async function readCluster(db: ControlDb, scope: string): Promise<HaClusterRow | undefined> {
  const row = await db.selectFrom('ha_clusters').selectAll().where('scope', '=', scope).executeTakeFirst();
  if (!row) return undefined;
  const members = await db
    .selectFrom('ha_members')
    .selectAll()
    .where('scope', '=', scope)
    .orderBy('name')
    .execute();
  return toCluster(row, members, (await heldScopes(db, [scope])).has(scope));
}

export async function readClusters(db: ControlDb): Promise<HaClusterRow[]> {
  const rows = await db.selectFrom('ha_clusters').selectAll().orderBy('scope').execute();
  const members = await db.selectFrom('ha_members').selectAll().orderBy('name').execute();
  const held = await heldScopes(
    db,
    rows.map((r) => r.scope),
  );
  return rows.map((row) =>
    toCluster(
      row,
      members.filter((m) => m.scope === row.scope),
      held.has(row.scope),
    ),
  );
}

/** Which of these clusters' stages are paused (scope = the stage's database name). */
async function heldScopes(db: ControlDb, scopes: readonly string[]): Promise<Set<string>> {
  if (scopes.length === 0) return new Set();
  const rows = await db
    .selectFrom('stages')
    .select('database_name')
    .where('database_name', 'in', scopes)
    .where('paused', '=', true)
    .execute();
  return new Set(rows.map((r) => r.database_name));
}

function toCluster(
  row: { scope: string; desired: string; synchronous: boolean; namespace: string; router_port: number },
  members: readonly {
    name: string;
    node: string;
    host: string;
    pg_port: number;
    rest_port: number;
    data_dir: string;
  }[],
  held: boolean,
): HaClusterRow {
  return {
    scope: row.scope,
    desired: row.desired === 'absent' ? 'absent' : 'present',
    synchronous: row.synchronous,
    namespace: row.namespace,
    routerPort: row.router_port,
    held,
    members: members.map((m) => ({
      name: m.name,
      node: m.node,
      host: m.host,
      pgPort: m.pg_port,
      restPort: m.rest_port,
      dataDir: m.data_dir,
    })),
  };
}

/** Ports in use by any cluster's router or member (a new cluster's must differ). */
export async function usedPorts(db: ControlDb): Promise<Set<number>> {
  const routers = await db.selectFrom('ha_clusters').select('router_port').execute();
  const members = await db.selectFrom('ha_members').select(['pg_port', 'rest_port']).execute();
  return new Set([...routers.map((r) => r.router_port), ...members.flatMap((m) => [m.pg_port, m.rest_port])]);
}

/**
 * Inserts the cluster with its members and seals its passwords, in one
 * transaction; a cluster that exists already is left as it is (returns false).
 */
export async function insertCluster(
  db: ControlDb,
  cluster: Omit<HaClusterRow, 'desired' | 'held'>,
  sealSecrets: (tx: ControlDb) => Promise<void>,
): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const inserted = await tx
      .insertInto('ha_clusters')
      .values({
        scope: cluster.scope,
        synchronous: cluster.synchronous,
        namespace: cluster.namespace,
        router_port: cluster.routerPort,
      })
      .onConflict((oc) => oc.column('scope').doNothing())
      .returning('scope')
      .executeTakeFirst();
    if (!inserted) return false;
    await tx
      .insertInto('ha_members')
      .values(
        cluster.members.map((m) => ({
          scope: cluster.scope,
          name: m.name,
          node: m.node,
          host: m.host,
          pg_port: m.pgPort,
          rest_port: m.restPort,
          data_dir: m.dataDir,
        })),
      )
      .execute();
    await sealSecrets(tx);
    return true;
  });
}

/** A delete has begun: no node starts the cluster's members again. */
export async function markClusterAbsent(db: ControlDb, scope: string): Promise<void> {
  await db.updateTable('ha_clusters').set({ desired: 'absent' }).where('scope', '=', scope).execute();
}

/** The last step of a delete: rows (members cascade) and passwords go together. */
export async function deleteCluster(
  db: ControlDb,
  scope: string,
  removeSecrets: (tx: ControlDb) => Promise<void>,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('ha_clusters').where('scope', '=', scope).execute();
    await removeSecrets(tx);
  });
}

/** The stage names of these databases (an ha cluster's synchronous mode follows its stage's name). */
export async function stageNameOf(db: ControlDb, databaseName: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('stages')
    .select('name')
    .where('database_name', '=', databaseName)
    .executeTakeFirst();
  return row?.name;
}
