import type { ColumnType, Generated } from 'kysely';

/**
 * Row types of the backup tables (physical backups, restores and restore
 * tests), as Kysely sees them. ControlDatabase (schema.ts) extends BackupTables.
 */
type Id = ColumnType<string, never, never>;

export interface BackupRunsTable {
  id: Id;
  /** The pgBackRest stanza, one per cluster. */
  cluster: string;
  type: string;
  repo: number;
  status: Generated<string>;
  label: string | null;
  pid: number | null;
  started_at: Generated<Date>;
  finished_at: Date | null;
  size_bytes: ColumnType<string | null, string | number | null, string | number | null>;
  database_bytes: ColumnType<string | null, string | number | null, string | number | null>;
  error: string | null;
  /** The operator's request this run is for; null for a scheduled run. */
  request_id: string | null;
  /** "schedule", or the operator who asked. */
  requested_by: string | null;
}

export interface BackupPoliciesTable {
  tenant_id: string;
  full_every: string;
  diff_every: string | null;
  incr_every: string | null;
  retain_days: number;
  /** Retention tiers beyond retain_days: the newest full of each of the last N days/ISO weeks/months; null: off. */
  keep_daily: ColumnType<number | null, number | null | undefined, number | null>;
  keep_weekly: ColumnType<number | null, number | null | undefined, number | null>;
  keep_monthly: ColumnType<number | null, number | null | undefined, number | null>;
  /** 'daily' or 'weekly': a logical export of each ready stage; null: none. */
  export_every: ColumnType<string | null, string | null | undefined, string | null>;
  updated_by: string;
  updated_at: Generated<Date>;
}

export interface BackupClustersTable {
  stanza: string;
  kind: string;
  stage_id: string | null;
  prepared_at: Date | null;
  last_verify_at: Date | null;
  last_verify_ok: boolean | null;
  last_verify_report: string | null;
  created_at: Generated<Date>;
}

export interface BackupRequestsTable {
  id: string;
  cluster: string;
  tenant_slug: string;
  stage_name: string;
  type: string;
  repos: number[];
  status: Generated<string>;
  reason: Generated<string>;
  requested_by: string;
  created_at: Generated<Date>;
  finished_at: Date | null;
}

export interface BackupFingerprintsTable {
  id: Id;
  cluster: string;
  repo: number;
  backup_label: string;
  database_name: string;
  restore_point: string;
  lsn: string;
  wal_file: string;
  exact: boolean;
  why: string | null;
  /** TableFingerprint[] (src/backups/fingerprint.ts). */
  tables: ColumnType<unknown, string, string>;
  taken_at: Date;
  created_at: Generated<Date>;
}

export interface RestoresTable {
  id: string;
  tenant_slug: string;
  source_stage: string;
  target_stage: string;
  mode: string;
  target_time: Date;
  cluster: string;
  repo: number;
  backup_label: string;
  source_database: string;
  /** The source database's name in the backup, when a rename came between the backup and the target time. */
  source_database_in_backup: string | null;
  /** The WAL segment archived before the restore read the repository (0038); null: not yet. */
  archived_wal: Generated<string | null>;
  target_database: string;
  replacement_database: string;
  kept_database: string | null;
  kept_files_dir: string | null;
  discarded_at: Date | null;
  discarded_by: string | null;
  fingerprint: ColumnType<unknown, string | null, string | null>;
  status: Generated<string>;
  phase: Generated<string>;
  progress: Generated<string>;
  files_export_id: string | null;
  files_note: string | null;
  error: string | null;
  timings: ColumnType<Record<string, number>, string | undefined, string>;
  created_by: string;
  created_at: Generated<Date>;
  finished_at: Date | null;
}

export interface RestoreTestsTable {
  id: string;
  tenant_slug: string;
  stage_name: string;
  cluster: string;
  trigger: string;
  status: Generated<string>;
  phase: Generated<string>;
  repo: number | null;
  backup_label: string | null;
  backup_stopped_at: Date | null;
  restore_point: string | null;
  rpo_seconds: number | null;
  rto_ms: number | null;
  verification: ColumnType<unknown, string | null, string | null>;
  error: string | null;
  created_by: string;
  started_at: Generated<Date>;
  finished_at: Date | null;
}

export interface BackupTables {
  backup_runs: BackupRunsTable;
  backup_policies: BackupPoliciesTable;
  backup_clusters: BackupClustersTable;
  backup_requests: BackupRequestsTable;
  backup_fingerprints: BackupFingerprintsTable;
  restores: RestoresTable;
  restore_tests: RestoreTestsTable;
}
