-- Groups to app roles (issue 13 part 7): a tenant maps a group of its
-- directory, by display name and without regard to case, to a role of the
-- app, on one stage or on all of them (stage_id null). Sessions ask
-- src/identity/roles/ for a user's roles when they mint the identity JWT.
-- One writer: src/identity/roles/.
create table role_mappings (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  -- Null: every stage of the tenant, those added later too.
  stage_id bigint references stages (id) on delete cascade,
  -- The group's display name as the mapping was given; a mapping may name a group before it exists.
  group_name text not null check (length(group_name) between 1 and 256),
  -- What matches: the name in Unicode lower case (NFC), computed by roles/ (the one definition).
  group_key text not null check (length(group_key) between 1 and 256),
  role text not null check (role ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
  created_by text not null,
  created_at timestamptz not null default now()
);
create unique index role_mappings_unique on role_mappings (tenant_id, stage_id, group_key, role) nulls not distinct;
create index role_mappings_stage on role_mappings (stage_id) where stage_id is not null;
