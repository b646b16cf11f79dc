import type { ColumnType, Generated } from 'kysely';
import type { HaTables } from './schema-ha.ts';
import type { IdentityTables } from './schema-identity.ts';

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

export interface NotificationChannelsTable {
  id: Id;
  name: string;
  kind: string;
  target: string;
  preset: string | null;
  secret_name: string | null;
  enabled: Generated<boolean>;
  position: number;
  created_at: Generated<Date>;
}

export interface NotificationOutboxTable {
  id: Id;
  idempotency_key: string;
  kind: string;
  payload: ColumnType<unknown, string, string>;
  recipient: ColumnType<string | null, string | null | undefined, string | null>;
  channels: ColumnType<string[], string[], string[]>;
  channel_index: Generated<number>;
  channel_failures: Generated<number>;
  attempts: Generated<number>;
  status: Generated<string>;
  next_attempt_at: Timestamp;
  deadline: Timestamp;
  last_error: string | null;
  delivered_channel_id: string | null;
  created_at: Generated<Date>;
  finished_at: Date | null;
}

export interface NotificationDeliveriesTable {
  id: Id;
  notification_id: string;
  channel_id: string | null;
  channel_name: string;
  attempt: number;
  outcome: string;
  error: string | null;
  duration_ms: number;
  at: Generated<Date>;
}

export interface ChecksTable {
  id: Id;
  scope: string;
  stage_id: string | null;
  tenant_slug: string | null;
  stage_name: string | null;
  kind: string;
  origin: string;
  builtin: string | null;
  spec: ColumnType<unknown, string, string>;
  interval_seconds: number;
  timeout_ms: number;
  enabled: Generated<boolean>;
  created_by: string;
  created_at: Timestamp;
  removed_at: Date | string | null;
  next_probe_at: Timestamp;
  last_probe_at: Date | string | null;
  recent: ColumnType<unknown, string | undefined, string>;
}

export interface CheckStatesTable {
  id: Id;
  check_id: string;
  state: string;
  started_at: Date | string;
  ended_at: Date | string | null;
  cause: ColumnType<unknown, string, string>;
}

export interface CheckRollupsTable {
  check_id: string;
  minute: Date | string;
  count: number;
  failures: number;
  latency_p50_ms: number;
  latency_p95_ms: number;
  latency_max_ms: number;
}

export interface AlertsTable {
  id: Id;
  rule: string | null;
  source: string;
  dedup_key: string;
  group_key: string;
  tenant_slug: string | null;
  stage_name: string | null;
  check_id: string | null;
  severity: string;
  status: string;
  summary: string;
  details: ColumnType<unknown, string | undefined, string>;
  flapping: Generated<boolean>;
  muted_by: string | null;
  inhibits: Generated<boolean>;
  heal_action: string | null;
  started_at: Timestamp;
  fire_at: Date | string | null;
  fired_at: Date | string | null;
  first_notified_at: Date | string | null;
  acknowledged_at: Date | string | null;
  acknowledged_by: string | null;
  resolve_at: Date | string | null;
  resolved_at: Date | string | null;
  resolved_by: string | null;
  resolve_note: string | null;
  told_fired_at: Date | string | null;
  told_acknowledged_at: Date | string | null;
  told_resolved_at: Date | string | null;
}

export interface AlertSilencesTable {
  id: Id;
  tenant_slug: string;
  stage_name: string | null;
  reason: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  created_by: string;
  created_at: Generated<Date>;
  removed_at: Date | string | null;
  removed_by: string | null;
}

export interface MaintenanceWindowsTable {
  id: Id;
  tenant_slug: string;
  stage_name: string | null;
  reason: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  created_by: string;
  created_at: Generated<Date>;
  ended_by: string | null;
  kind: Generated<string>;
  time_zone: Generated<string>;
  announce_days: Generated<number>;
  announced_at: Date | string | null;
  cancelled_at: Date | string | null;
  cancelled_by: string | null;
}

/** A tenant's private status-page link (only the token's SHA-256 is kept). */
export interface StatusLinksTable {
  tenant_slug: string;
  token_sha256: Buffer;
  public_stages: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Timestamp;
  rotated_at: Timestamp;
}

export interface StatusSubscribersTable {
  id: Id;
  scope: string;
  email: string;
  base_url: string;
  requested_at: Timestamp;
  confirm_sha256: Buffer | null;
  confirmed_at: Date | string | null;
  unsubscribe_token: string;
  unsubscribed_at: Date | string | null;
}

export interface StatusSubscriptionRequestsTable {
  email: string;
  at: Timestamp;
}

export interface IncidentsTable {
  id: Id;
  tenant_slug: string;
  stage_name: string | null;
  severity: number;
  title: string;
  status: string;
  owner: string | null;
  security: boolean;
  opened_by: string;
  opened_at: Timestamp;
  resolved_at: Date | string | null;
  closed_at: Date | string | null;
  closed_by: string | null;
  postmortem: ColumnType<unknown, string | null, string | null>;
  postmortem_at: Date | string | null;
  postmortem_by: string | null;
  breach_confirmed_at: Date | string | null;
  customer_notice_seconds: number | null;
  authority_notice_seconds: number | null;
  customers_notified_at: Date | string | null;
  customers_notified_who: string | null;
  authority_notified_at: Date | string | null;
  authority_notified_who: string | null;
}

export interface IncidentUpdatesTable {
  id: Id;
  incident_id: string;
  at: Timestamp;
  author: string;
  kind: string;
  status: string;
  note: string | null;
  public: boolean;
  details: ColumnType<unknown, string | undefined, string>;
}

export interface IncidentAlertsTable {
  incident_id: string;
  alert_id: string;
  check_id: string | null;
  linked_at: Timestamp;
  linked_by: string;
}

export interface IncidentTermsTable {
  tenant_slug: string;
  customer_notice_seconds: number;
  updated_by: string;
  updated_at: Timestamp;
}

export interface OncallContactsTable {
  operator_id: string;
  email: string;
  updated_at: Timestamp;
}

export interface OncallSchedulesTable {
  id: Id;
  name: string;
  rotation: string;
  time_zone: string;
  handoff_minute: number;
  members: ColumnType<string[], string[], string[]>;
  start_day: number;
  created_by: string;
  created_at: Generated<Date>;
}

export interface OncallOverridesTable {
  id: Id;
  schedule_id: string;
  member: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  created_by: string;
  created_at: Timestamp;
}

export interface OncallEscalationPoliciesTable {
  name: string;
  steps: ColumnType<unknown, string, string>;
  repeat: number;
  updated_by: string;
  updated_at: Timestamp;
}

export interface OncallEscalationsTable {
  alert_id: string;
  fired_at: Timestamp;
  policy: ColumnType<unknown, string, string>;
  status: Generated<string>;
  next_at: Date | string | null;
  reason: string | null;
  created_at: Generated<Date>;
}

export interface OncallPagesTable {
  id: Id;
  alert_id: string;
  round: number;
  step: number;
  recipient: string;
  notification_id: string | null;
  paged_at: Timestamp;
}

export interface OncallLinkUsesTable {
  nonce: string;
  alert_id: string;
  action: string;
  recipient: string;
  used_at: Timestamp;
}

export interface HealAttemptsTable {
  id: Id;
  alert_id: string;
  action: string;
  tenant_slug: string | null;
  stage_name: string | null;
  process: string | null;
  target: string;
  started_at: Date | string;
  finished_at: Date | string | null;
  outcome: string;
  detail: Generated<string>;
}

export interface ControlDatabase extends IdentityTables, HaTables {
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
  backup_runs: BackupRunsTable;
  backup_policies: BackupPoliciesTable;
  backup_clusters: BackupClustersTable;
  backup_requests: BackupRequestsTable;
  backup_fingerprints: BackupFingerprintsTable;
  restores: RestoresTable;
  restore_tests: RestoreTestsTable;
  notification_channels: NotificationChannelsTable;
  notification_outbox: NotificationOutboxTable;
  notification_deliveries: NotificationDeliveriesTable;
  checks: ChecksTable;
  check_states: CheckStatesTable;
  check_rollups: CheckRollupsTable;
  alerts: AlertsTable;
  alert_silences: AlertSilencesTable;
  maintenance_windows: MaintenanceWindowsTable;
  oncall_contacts: OncallContactsTable;
  oncall_schedules: OncallSchedulesTable;
  oncall_overrides: OncallOverridesTable;
  oncall_escalation_policies: OncallEscalationPoliciesTable;
  oncall_escalations: OncallEscalationsTable;
  oncall_pages: OncallPagesTable;
  oncall_link_uses: OncallLinkUsesTable;
  incidents: IncidentsTable;
  incident_updates: IncidentUpdatesTable;
  incident_alerts: IncidentAlertsTable;
  incident_terms: IncidentTermsTable;
  heal_attempts: HealAttemptsTable;
  status_links: StatusLinksTable;
  status_subscribers: StatusSubscribersTable;
  status_subscription_requests: StatusSubscriptionRequestsTable;
}
