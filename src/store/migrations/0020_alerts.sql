-- Alerts (issue 10 part 3): what rules, the outbox, the Alertmanager receiver
-- and the watchdog raise; silences and maintenance windows that mute their
-- notifications. Writes: src/alerts/store.ts only.

create table alerts (
  id bigint generated always as identity primary key,
  -- The rule that raised it; null for raises from outside a rule.
  rule text,
  source text not null check (source in ('check', 'alertmanager', 'watchdog', 'notifications')),
  dedup_key text not null,
  group_key text not null,
  tenant_slug text,
  stage_name text,
  -- The check it watches (rules over checks); kept as a number when the check goes.
  check_id bigint references checks (id) on delete set null,
  severity text not null check (severity in ('critical', 'warning', 'info')),
  status text not null check (status in ('pending', 'firing', 'acknowledged', 'resolved')),
  summary text not null,
  details jsonb not null default '{}',
  flapping boolean not null default false,
  -- Why nobody is told: silence:<id>, maintenance:<id> or alert:<id> (the inhibiting alert).
  muted_by text,
  -- While open and told, mutes the other alerts of what it covers (every stage when tenant is null).
  inhibits boolean not null default false,
  heal_action text check (heal_action in ('restart-process', 'restart-stage', 'rerun-backup')),
  started_at timestamptz not null,
  -- pending: when it fires unless its condition ends first.
  fire_at timestamptz,
  fired_at timestamptz,
  first_notified_at timestamptz,
  acknowledged_at timestamptz,
  acknowledged_by text,
  -- Its resolve condition holds: it resolves at resolve_at unless the condition ends first.
  resolve_at timestamptz,
  resolved_at timestamptz,
  resolved_by text,
  resolve_note text,
  -- When the pager was told (level-triggered: a pass tells whatever is due and not yet told).
  told_fired_at timestamptz,
  told_acknowledged_at timestamptz,
  told_resolved_at timestamptz,
  check ((status = 'resolved') = (resolved_at is not null)),
  check (status = 'pending' or fired_at is not null or status = 'resolved')
);
-- A second raise with the same source and key while one is open is the same alert.
create unique index alerts_one_open on alerts (source, dedup_key) where status <> 'resolved';
create index alerts_open on alerts (status) where status <> 'resolved';
create index alerts_by_tenant on alerts (tenant_slug, stage_name, started_at);
create index alerts_by_check on alerts (check_id, started_at);
-- Resolutions still to tell: a pass looks for them often, among years of resolved alerts.
create index alerts_resolved_untold on alerts (id)
  where status = 'resolved' and told_fired_at is not null and told_resolved_at is null;

-- Silences: mute notifications of matching alerts from starts_at to ends_at; the alerts are still recorded.
create table alert_silences (
  id bigint generated always as identity primary key,
  tenant_slug text not null,
  -- null: every stage of the tenant.
  stage_name text,
  reason text not null check (length(reason) between 1 and 500),
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  created_by text not null,
  created_at timestamptz not null default now(),
  removed_at timestamptz,
  removed_by text,
  check (ends_at > starts_at)
);
create index alert_silences_active on alert_silences (ends_at) where removed_at is null;

-- Maintenance windows: planned work on a tenant's stage(s). They mute notifications like
-- silences; the SLA report (a later issue) also excludes them from downtime.
create table maintenance_windows (
  id bigint generated always as identity primary key,
  tenant_slug text not null,
  stage_name text,
  reason text not null check (length(reason) between 1 and 500),
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  created_by text not null,
  created_at timestamptz not null default now(),
  -- Ended early by a person (ends_at is then moved to that moment).
  ended_by text,
  -- A window ended before it started is empty: it never mutes.
  check (ends_at >= starts_at)
);
create index maintenance_windows_by_tenant on maintenance_windows (tenant_slug, ends_at);
