-- SLA accounting (issue 11 parts 1-3): each tenant's policy as versions, the
-- operators' exclusions, and closed periods frozen with the hash of their
-- inputs. Writes: src/sla/store.ts only.

-- A policy version applies from effective_from until the next version's; versions are never changed.
create table sla_policies (
  id bigint generated always as identity primary key,
  tenant_slug text not null,
  version integer not null check (version >= 1),
  effective_from timestamptz not null,
  target numeric(7, 4) not null check (target > 0 and target < 100),
  period text not null check (period in ('month', 'quarter', 'calendar-year')),
  time_zone text not null,
  -- 'always', or a recurring window ('daily 05:00-22:00') that is the service time (inside) or maintenance (outside).
  service_kind text not null check (service_kind in ('always', 'inside', 'outside')),
  service_window text,
  exclude_outages_up_to_seconds integer not null check (exclude_outages_up_to_seconds >= 0),
  merge_gap_seconds integer not null check (merge_gap_seconds >= 0),
  partial_weight numeric(4, 3) not null check (partial_weight between 0 and 1),
  -- null: announced maintenance is not a clause of this contract.
  maintenance_notice_seconds integer check (maintenance_notice_seconds >= 0),
  maintenance_max_seconds integer check (maintenance_max_seconds >= 0),
  maintenance_max_count integer check (maintenance_max_count >= 0),
  unknown_counts_as_down boolean not null,
  -- The checks whose states define availability; null: the prod stage's built-in gateway check.
  check_ids bigint[],
  created_by text not null,
  created_at timestamptz not null default now(),
  unique (tenant_slug, version),
  unique (tenant_slug, effective_from),
  check ((service_kind = 'always') = (service_window is null))
);

-- Spans an operator excluded: causes outside the vendor's control, with a reason.
create table sla_exclusions (
  id bigint generated always as identity primary key,
  tenant_slug text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  reason text not null check (length(reason) between 1 and 500),
  created_by text not null,
  created_at timestamptz not null default now(),
  check (ends_at > starts_at)
);
create index sla_exclusions_by_tenant on sla_exclusions (tenant_slug, starts_at);

-- A closed period, frozen: its figures, the policy versions and the SHA-256 of its canonical inputs.
create table sla_reports (
  id bigint generated always as identity primary key,
  tenant_slug text not null,
  period text not null,
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  policy_versions integer[] not null,
  figures jsonb not null,
  inputs_sha256 text not null check (inputs_sha256 ~ '^[0-9a-f]{64}$'),
  frozen_at timestamptz not null,
  frozen_by text not null,
  unique (tenant_slug, period)
);
