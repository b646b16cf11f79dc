-- Directory pull sync from LDAP / Active Directory (issue 13, part 5).
-- One writer: src/identity/ldap/. Users and groups themselves are written
-- through the Directory (src/identity/directory/) with source 'ldap'.

-- A tenant's LDAP directory: where to search and how to read its entries.
-- The bind password is a secret (SecretService, `ldap/<tenant id>/bind-password`), never here.
create table ldap_directories (
  tenant_id bigint primary key references tenants (id) on delete cascade,
  url text not null check (url ~ '^ldaps?://'),
  -- A PEM bundle to trust instead of the system's CAs; null: the system's.
  ca_pem text,
  bind_dn text not null,
  base_dn text not null,
  user_filter text not null,
  preset text not null check (preset in ('openldap', 'active-directory')),
  -- The attribute map (which LDAP attribute gives userName, email, ...): the preset's, with overrides.
  attributes jsonb not null,
  group_base_dn text,
  group_filter text not null,
  member_attribute text not null,
  -- Seconds between scheduled syncs; null: on demand only.
  every_seconds integer check (every_seconds is null or every_seconds between 300 and 604800),
  -- An on-demand sync asked for at this time: the job runs it when no run has started since.
  sync_requested_at timestamptz,
  sync_requested_by text,
  updated_by text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- One row per sync: evidence of what the directory said and what changed.
create table ldap_sync_runs (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  trigger text not null check (trigger in ('schedule', 'request')),
  requested_by text not null,
  -- running, then succeeded (everything applied), partial (applied, but the search was
  -- incomplete or guarded: nobody deactivated), or failed (nothing more applied).
  status text not null check (status in ('running', 'succeeded', 'partial', 'failed')),
  -- What the run is doing now, for `steward directory sync` to follow: "searching users: 1500 entries".
  progress text,
  entries integer not null default 0,
  groups integer not null default 0,
  -- created, updated, deactivated, reactivated, groups and memberships changed, skipped entries.
  counts jsonb not null default '{}',
  -- Entries not applied and why (a clash with a user of another source, a missing attribute), bounded.
  problems jsonb not null default '[]',
  -- Why nobody was deactivated (a partial search, an empty result), or why the run failed.
  reason text,
  started_at timestamptz not null default now(),
  finished_at timestamptz
);
create index ldap_sync_runs_tenant on ldap_sync_runs (tenant_id, started_at desc);
