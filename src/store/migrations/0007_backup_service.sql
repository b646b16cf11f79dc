-- The backup service (issue 5): per-tenant backup policies, the clusters
-- Steward backs up (one pgBackRest stanza each) with their verify results,
-- and operator requests for a backup, which the CLI follows by id.

-- A tenant without a row has the default policy (full weekly, diff daily, 30 days).
create table backup_policies (
  tenant_id bigint primary key references tenants (id) on delete cascade,
  full_every text not null check (full_every in ('weekly', 'daily')),
  diff_every text check (diff_every in ('daily')),
  incr_every text check (incr_every in ('2h')),
  retain_days integer not null check (retain_days between 1 and 9999),
  updated_by text not null,
  updated_at timestamptz not null default now()
);

create table backup_clusters (
  -- The pgBackRest stanza: "shared" for the shared cluster, a dedicated stage's database name otherwise.
  stanza text primary key,
  kind text not null check (kind in ('shared', 'dedicated')),
  -- The dedicated stage; its backups stay in the repositories after it is removed.
  stage_id bigint references stages (id) on delete set null,
  prepared_at timestamptz,
  last_verify_at timestamptz,
  last_verify_ok boolean,
  last_verify_report text,
  created_at timestamptz not null default now()
);

create table backup_requests (
  id uuid primary key,
  cluster text not null,
  tenant_slug text not null,
  stage_name text not null,
  type text not null check (type in ('full', 'diff', 'incr')),
  -- Backed up in this order: repo1 (regional) before repo2 (off-site).
  repos smallint[] not null,
  status text not null default 'pending' check (status in ('pending', 'running', 'succeeded', 'failed')),
  reason text not null default '',
  requested_by text not null,
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  check ((status in ('pending', 'running')) = (finished_at is null))
);
-- One open request per cluster: a second one is refused rather than queued behind it.
create unique index backup_requests_one_open on backup_requests (cluster) where status in ('pending', 'running');

alter table backup_runs add column request_id uuid references backup_requests (id) on delete set null;
-- "schedule", or the operator whose request it ran for.
alter table backup_runs add column requested_by text;
create index backup_runs_request on backup_runs (request_id) where request_id is not null;
