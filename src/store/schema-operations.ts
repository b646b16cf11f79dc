import type { ColumnType, Generated } from 'kysely';

/**
 * Row types of the operations tables (notifications, checks, alerts,
 * maintenance, status pages, incidents, on-call, self-healing), as Kysely
 * sees them. ControlDatabase (schema.ts) extends OperationsTables.
 */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Id = ColumnType<string, never, never>;

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

export interface OperationsTables {
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
