-- Identity for hosted apps (issue 13): the people of a tenant and their
-- groups, as SCIM, directory sync, OIDC sign-ins and local accounts know
-- them. One writer: src/identity/directory/ (every other module asks it).
-- Credentials (passwords, MFA), sessions, connections and logs live in
-- tables of their own, owned by their modules.

-- A tenant's end user. The id is the SCIM id: opaque, stable, never reused.
-- user_name is unique per tenant without regard to case (SCIM's userName is
-- case-insensitive); external_id, when set, is unique per tenant too.
create table tenant_users (
  id uuid primary key default gen_random_uuid(),
  tenant_id bigint not null references tenants (id) on delete cascade,
  user_name text not null check (length(user_name) between 1 and 256),
  external_id text check (external_id is null or length(external_id) between 1 and 256),
  -- The primary (or first work) e-mail address, lower case: the join key of OIDC sign-ins by default.
  email text check (email is null or length(email) <= 320),
  display_name text,
  given_name text,
  family_name text,
  active boolean not null default true,
  -- Who created the user: local (an operator or tenant admin), scim, ldap (directory sync), oidc (first sign-in).
  source text not null check (source in ('local', 'scim', 'ldap', 'oidc')),
  -- The SCIM representation's other attributes (emails, phoneNumbers, the enterprise extension, ...), as sent.
  attributes jsonb not null default '{}',
  -- Bumped on every change: SCIM's meta.version (ETag) and optimistic checks.
  version integer not null default 1,
  last_sign_in_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index tenant_users_user_name on tenant_users (tenant_id, lower(user_name));
create unique index tenant_users_external_id on tenant_users (tenant_id, external_id) where external_id is not null;
create index tenant_users_email on tenant_users (tenant_id, email) where email is not null;
-- Stable pagination: SCIM lists order by (created_at, id).
create index tenant_users_order on tenant_users (tenant_id, created_at, id);

create table tenant_groups (
  id uuid primary key default gen_random_uuid(),
  tenant_id bigint not null references tenants (id) on delete cascade,
  display_name text not null check (length(display_name) between 1 and 256),
  external_id text check (external_id is null or length(external_id) between 1 and 256),
  source text not null check (source in ('local', 'scim', 'ldap', 'oidc')),
  attributes jsonb not null default '{}',
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index tenant_groups_display_name on tenant_groups (tenant_id, lower(display_name));
create unique index tenant_groups_external_id on tenant_groups (tenant_id, external_id) where external_id is not null;
create index tenant_groups_order on tenant_groups (tenant_id, created_at, id);

-- Memberships survive a user's deactivation (active = false) and go with a hard delete.
create table tenant_group_members (
  group_id uuid not null references tenant_groups (id) on delete cascade,
  user_id uuid not null references tenant_users (id) on delete cascade,
  added_at timestamptz not null default now(),
  primary key (group_id, user_id)
);
create index tenant_group_members_user on tenant_group_members (user_id);

-- SCIM bearer tokens, per tenant: only a SHA-256 of the token is kept; it is shown once.
create table scim_tokens (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  name text not null,
  token_hash text not null unique,
  created_by text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index scim_tokens_tenant on scim_tokens (tenant_id);
