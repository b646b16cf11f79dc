import type { ColumnType } from 'kysely';

/**
 * Row types of the high-availability tables (issue 14), one interface per
 * owning module (see the owners table of the design), so that each
 * module's tables are declared beside the others without two modules editing
 * one list. ControlDatabase (schema.ts) extends them all.
 */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Id = ColumnType<string, never, never>;
type Json = ColumnType<unknown, string | undefined, string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** src/databases/patroni/store.ts: the one writer of ha_clusters and ha_members. */
export interface HaClustersTable {
  scope: string;
  desired: ColumnType<string, string | undefined, string>;
  synchronous: boolean;
  namespace: string;
  router_port: number;
  created_at: Timestamp;
}

export interface HaMembersTable {
  scope: string;
  name: string;
  node: string;
  host: string;
  pg_port: number;
  rest_port: number;
  data_dir: string;
  created_at: Timestamp;
}

/** src/databases/patroni/ (ha-patroni): ha_clusters, ha_members. */
export interface HaPatroniTables {
  ha_clusters: HaClustersTable;
  ha_members: HaMembersTable;
}

/** src/backups/restore…: restores reshaped (ha-restore), only if it adds a table. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RestoreTables {}

/** src/cluster/nodes.ts: the one writer of nodes. */
export interface NodesTable {
  name: string;
  incarnation: string;
  host: string;
  pid: number;
  process_started_at: Timestamp;
  api_url: string | null;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
  stopped_at: NullableTimestamp;
}

/** src/cluster/leases.ts: the one writer of leases. */
export interface LeasesTable {
  name: string;
  node: string;
  holder: string;
  /** bigint: pg returns it as a string. */
  epoch: ColumnType<string, string | number, string | number>;
  acquired_at: Timestamp;
  renewed_at: Timestamp;
  expires_at: Timestamp;
}

/** src/cluster/ (ha-leases): nodes and leases. */
export interface ClusterTables {
  nodes: NodesTable;
  leases: LeasesTable;
}

/** src/drills/store.ts: the one writer of drills. */
export interface DrillsTable {
  id: Id;
  kind: string;
  stage_id: string | null;
  tenant_slug: string | null;
  stage_name: string | null;
  cluster: string;
  synchronous: boolean | null;
  requested_by: string;
  started_at: Timestamp;
  fault_at: NullableTimestamp;
  ended_at: NullableTimestamp;
  phase: string;
  outcome: string;
  reason: ColumnType<string, string | undefined, string>;
  writes_resume_seconds: number | null;
  acknowledged_writes: ColumnType<string | null, number | null | undefined, number | null>;
  lost_commits: ColumnType<string | null, number | null | undefined, number | null>;
  old_primary: string | null;
  new_primary: string | null;
  rejoin_seconds: number | null;
  details: Json;
}

export interface DrillTables {
  drills: DrillsTable;
}

/** src/appliance/ (ha-appliance), only if it adds a table. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ApplianceTables {}

/** Every high-availability table. */
export interface HaTables
  extends HaPatroniTables, RestoreTables, ClusterTables, DrillTables, ApplianceTables {}
