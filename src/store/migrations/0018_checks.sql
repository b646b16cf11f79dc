-- Checks (issue 10 parts 1 and 2): what is probed, and its results as time.
-- The SLA report computes from check_states (intervals that tile each check's
-- life from its creation, unknown wherever Steward was not probing) and
-- check_rollups (per minute). Writes: src/monitoring/store.ts only.

create table checks (
  id bigint generated always as identity primary key,
  -- stage: watches one stage; system: watches Steward itself (no tenant).
  scope text not null check (scope in ('stage', 'system')),
  -- Kept when the stage row goes (the evidence outlives it); the names say what it watched.
  stage_id bigint references stages (id) on delete set null,
  tenant_slug text,
  stage_name text,
  kind text not null check (kind in ('http', 'database', 'backup', 'process', 'disk', 'certificate')),
  -- builtin: created and removed with the stage; operator: added by a person (created_by).
  origin text not null check (origin in ('builtin', 'operator')),
  -- A built-in check's role for its stage (gateway, processes, process, database, backup, disk, certificate); operators' checks: null.
  builtin text,
  -- What to probe: the kind's own spec (src/monitoring/specs.ts).
  spec jsonb not null,
  interval_seconds integer not null check (interval_seconds between 1 and 3600),
  timeout_ms integer not null check (timeout_ms between 100 and 60000),
  enabled boolean not null default true,
  created_by text not null,
  created_at timestamptz not null default now(),
  -- Removed checks keep their history until retention prunes it.
  removed_at timestamptz,
  -- The runner's progress: when it is next due, and what the state machine needs (src/monitoring/states.ts).
  next_probe_at timestamptz not null default now(),
  last_probe_at timestamptz,
  recent jsonb not null default '[]',
  check ((scope = 'system') = (tenant_slug is null)),
  check (scope = 'system' or stage_name is not null),
  check ((origin = 'builtin') = (builtin is not null))
);
create unique index checks_one_builtin on checks (stage_id, builtin) where removed_at is null;
create index checks_due on checks (next_probe_at) where removed_at is null and enabled;
create index checks_by_tenant on checks (tenant_slug, stage_name);

-- Each check's states as intervals: ended_at is null while open, at most one open per check.
create table check_states (
  id bigint generated always as identity primary key,
  check_id bigint not null references checks (id) on delete cascade,
  state text not null check (state in ('up', 'degraded', 'down', 'unknown')),
  started_at timestamptz not null,
  ended_at timestamptz,
  -- The probe results that caused the change, or why Steward was not probing.
  cause jsonb not null,
  check (ended_at is null or ended_at >= started_at)
);
create unique index check_states_one_open on check_states (check_id) where ended_at is null;
create index check_states_by_time on check_states (check_id, started_at);
create index check_states_ended on check_states (ended_at) where ended_at is not null;

-- Per check and minute: probes, failures (not ok), latency percentiles.
create table check_rollups (
  check_id bigint not null references checks (id) on delete cascade,
  minute timestamptz not null,
  count integer not null check (count >= 0),
  failures integer not null check (failures between 0 and count),
  latency_p50_ms integer not null,
  latency_p95_ms integer not null,
  latency_max_ms integer not null,
  primary key (check_id, minute)
);
create index check_rollups_minute on check_rollups (minute);
