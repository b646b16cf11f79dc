-- Incidents (issue 11 part 5) and planned maintenance (part 4).
-- Writes: src/incidents/store.ts (incidents, incident_updates, incident_alerts,
-- incident_terms) and src/maintenance/store.ts (maintenance_windows).

-- One incident: opened from an alert or by hand, on a tenant (and a stage).
-- Kept when the tenant goes (names, not references): it is evidence.
create table incidents (
  id bigint generated always as identity primary key,
  tenant_slug text not null,
  stage_name text,
  severity smallint not null check (severity between 1 and 4),
  title text not null check (length(title) between 1 and 200),
  status text not null check (status in ('investigating', 'identified', 'monitoring', 'resolved')),
  owner text,
  -- A security incident: a breach may be confirmed, which starts the notice deadlines.
  security boolean not null default false,
  opened_by text not null,
  opened_at timestamptz not null,
  resolved_at timestamptz,
  closed_at timestamptz,
  closed_by text,
  -- The post-mortem as validated (src/incidents/postmortem.ts); required before a severity 1-2 incident closes.
  postmortem jsonb,
  postmortem_at timestamptz,
  postmortem_by text,
  breach_confirmed_at timestamptz,
  -- The deadlines as they applied when the breach was confirmed (the tenant's contract may change later).
  customer_notice_seconds integer check (customer_notice_seconds > 0),
  authority_notice_seconds integer check (authority_notice_seconds > 0),
  customers_notified_at timestamptz,
  customers_notified_who text,
  authority_notified_at timestamptz,
  authority_notified_who text,
  check (security or breach_confirmed_at is null),
  check ((breach_confirmed_at is null) = (customer_notice_seconds is null)),
  check ((breach_confirmed_at is null) = (authority_notice_seconds is null)),
  check ((customers_notified_at is null) = (customers_notified_who is null)),
  check ((authority_notified_at is null) = (authority_notified_who is null)),
  check (closed_at is null or status = 'resolved')
);
create index incidents_open on incidents (id) where closed_at is null;
create index incidents_by_tenant on incidents (tenant_slug, opened_at);
-- Security incidents whose notice deadlines still run: the reminder pass reads these.
create index incidents_notice_pending on incidents (id)
  where breach_confirmed_at is not null and (customers_notified_at is null or authority_notified_at is null);

-- The timeline's own entries: every change, in order. public: a status-page post.
create table incident_updates (
  id bigint generated always as identity primary key,
  incident_id bigint not null references incidents (id) on delete cascade,
  at timestamptz not null,
  author text not null,
  kind text not null check (kind in (
    'opened', 'status', 'note', 'owner', 'severity', 'postmortem', 'closed',
    'breach-confirmed', 'notified', 'alert-linked'
  )),
  -- The incident's status after this update.
  status text not null check (status in ('investigating', 'identified', 'monitoring', 'resolved')),
  note text check (length(note) <= 4000),
  public boolean not null default false,
  details jsonb not null default '{}'
);
create index incident_updates_by_incident on incident_updates (incident_id, id);
create index incident_updates_public on incident_updates (at) where public;

-- Alerts linked to an incident (the one it was opened from, and others), with the alert's check.
create table incident_alerts (
  incident_id bigint not null references incidents (id) on delete cascade,
  alert_id bigint not null references alerts (id) on delete cascade,
  check_id bigint references checks (id) on delete set null,
  linked_at timestamptz not null,
  linked_by text not null,
  primary key (incident_id, alert_id)
);
create index incident_alerts_by_alert on incident_alerts (alert_id);

-- A tenant's contract terms for security incidents: how soon affected customers are told.
-- Without a row, incidents.customerNoticeHours (24 h) applies.
create table incident_terms (
  tenant_slug text primary key,
  customer_notice_seconds integer not null check (customer_notice_seconds > 0),
  updated_by text not null,
  updated_at timestamptz not null
);

-- Planned maintenance: announced to the tenant's contacts announce_days ahead.
-- emergency: announced at once, whatever the notice. announced_at: when the announcement was enqueued.
-- time_zone: the zone it was planned in (announcements show local times). A cancelled window is
-- empty (ends_at = starts_at): it never mutes and the SLA report counts nothing for it.
alter table maintenance_windows
  add column kind text not null default 'planned' check (kind in ('planned', 'emergency')),
  add column time_zone text not null default 'UTC',
  add column announce_days integer not null default 0 check (announce_days between 0 and 90),
  add column announced_at timestamptz,
  add column cancelled_at timestamptz,
  add column cancelled_by text;
