import type { ColumnType, Generated } from 'kysely';
import type { BackupTables } from './schema-backups.ts';
import type { HaTables } from './schema-ha.ts';
import type { IdentityTables } from './schema-identity.ts';
import type { OperationsTables } from './schema-operations.ts';

/** Row types of the control database, as Kysely sees them. */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Id = ColumnType<string, never, never>;

export interface SecretsTable {
  id: Id;
  name: string;
  key_id: string;
  wrapped_key: Buffer;
  ciphertext: Buffer;
  created_at: Generated<Date>;
  rotated_at: Date | null;
}

export interface TenantsTable {
  id: Id;
  slug: string;
  display_name: string;
  region: string;
  tier: string;
  contacts: ColumnType<unknown, string, string>;
  desired: Generated<string>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface StagesTable {
  id: Id;
  tenant_id: string;
  name: string;
  desired: Generated<string>;
  phase: Generated<string>;
  reason: Generated<string>;
  database_name: string;
  /** The slug-bearing name the database and role had before they were renamed to database_name. */
  previous_database_name: string | null;
  database_renamed_at: Date | null;
  password_secret: string;
  files_dir: string;
  paused: Generated<boolean>;
  generation: Generated<number>;
  observed_generation: Generated<number>;
  ready_at: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  published_port: number | null;
  scale_to_zero_seconds: number | null;
  files_quota_bytes: ColumnType<string | null, string | number | null, string | number | null>;
  files_bytes: ColumnType<string | null, string | number | null, string | number | null>;
  runtime_phase: Generated<string>;
  runtime_reason: Generated<string>;
  /** CIDRs that may reach the stage through the gateway; null: everyone. */
  allow_from: string[] | null;
  maintenance: Generated<boolean>;
}

export interface StageDomainsTable {
  domain: string;
  stage_id: string;
  created_at: Generated<Date>;
}

export interface TlsCertificatesTable {
  domain: string;
  cert_pem: string;
  /** The private key's name in the secrets store. */
  key_secret: string;
  not_after: Timestamp;
  updated_at: Timestamp;
}

export interface JobsTable {
  id: Id;
  kind: string;
  key: string;
  run_at: Timestamp;
  requested_at: Timestamp;
  attempts: Generated<number>;
  last_error: string | null;
  created_at: Generated<Date>;
}

export interface OperatorsTable {
  id: Id;
  username: string;
  role: string;
  password_hash: string;
  must_change_password: Generated<boolean>;
  totp_secret: string | null;
  totp_enabled: Generated<boolean>;
  totp_last_step: string | null;
  recovery_codes: ColumnType<string[], string, string>;
  last_login_at: Date | null;
  last_login_address: string | null;
  created_at: Generated<Date>;
  /** A tenant admin's tenant (role tenant-admin, migration 0032); null for an operator. */
  tenant_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ApiTokensTable {
  id: Id;
  operator_id: string;
  name: string;
  role: string;
  /** session (steward login), local (client.json) or automation (steward token create). */
  kind: string;
  /** A scoped token may call only its scope's routes (core/policy.ts tokenScopes). */
  scope: Generated<string | null>;
  token_hash: string;
  prefix: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Generated<Date>;
}

export interface LoginFailuresTable {
  address_prefix: string;
  window_start: Date;
  failures: number;
}

export interface OperatorLoginFailuresTable {
  operator_id: string;
  address_prefix: string;
  failures: number;
  window_start: Date;
  locked_until: Date | null;
  succeeded_at: Date | null;
}

/** Appended only; seq, prev_hash and hash are checked and set by the database's trigger (migration 0012). */
export interface AuditEventsTable {
  seq: ColumnType<string, string, never>;
  at: Date;
  actor: string;
  action: string;
  target: string;
  tenant: string | null;
  outcome: string;
  address: string | null;
  details: ColumnType<Record<string, unknown>, string, string>;
  prev_hash: string;
  /** Set by the trigger: whatever the app sends is replaced. */
  hash: ColumnType<string, never, never>;
  /** The canonical JSON the trigger hashed; null on events from before migration 0012. */
  body: string | null;
  mac_key: string | null;
  mac: string | null;
}

export interface ReleasesTable {
  id: Id;
  app: string;
  version: string;
  checksum: string;
  definition: ColumnType<unknown, string, string>;
  path: string;
  size_bytes: ColumnType<string, number | string, number | string>;
  created_at: Generated<Date>;
}

export interface DeploymentsTable {
  id: Id;
  stage_id: string;
  release_id: string;
  status: string;
  reason: Generated<string>;
  actor: string;
  created_at: Generated<Date>;
  finished_at: Date | null;
}

export interface ControlDatabase extends IdentityTables, HaTables, BackupTables, OperationsTables {
  secrets: SecretsTable;
  tenants: TenantsTable;
  stages: StagesTable;
  jobs: JobsTable;
  operators: OperatorsTable;
  api_tokens: ApiTokensTable;
  login_failures: LoginFailuresTable;
  operator_login_failures: OperatorLoginFailuresTable;
  audit_events: AuditEventsTable;
  releases: ReleasesTable;
  deployments: DeploymentsTable;
  stage_domains: StageDomainsTable;
  tls_certificates: TlsCertificatesTable;
}
