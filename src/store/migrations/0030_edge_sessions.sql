-- Edge sessions for hosted apps (issue 13): the identity settings of a
-- tenant and its stages, end users' sessions, and the keys that sign the
-- session cookie HAProxy verifies at the edge. One writer:
-- src/identity/sessions/.

-- A tenant's identity settings (stage null) and a stage's overrides (a
-- column left null takes the tenant's value, then Steward's default).
create table identity_settings (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  stage text check (stage is null or length(stage) between 1 and 63),
  local_users boolean,
  sign_in text check (sign_in in ('required', 'optional', 'off')),
  idle_minutes integer check (idle_minutes between 1 and 43200),
  absolute_hours integer check (absolute_hours between 1 and 8760),
  updated_at timestamptz not null default now()
);
create unique index identity_settings_place on identity_settings (tenant_id, coalesce(stage, ''));

-- One session a sign-in: its id is the cookie's `sid`. A refresh mints a new
-- cookie for the same row; a login always makes a new row (rotation).
create table end_user_sessions (
  id uuid primary key default gen_random_uuid(),
  tenant_id bigint not null references tenants (id) on delete cascade,
  stage text not null,
  -- A directory user's id, or operator:<name> for an operator's break-glass access.
  subject text not null check (length(subject) between 1 and 300),
  user_id uuid references tenant_users (id) on delete set null,
  host text not null,
  amr text[] not null default '{}',
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  idle_expires_at timestamptz not null,
  absolute_expires_at timestamptz not null,
  -- The expiry of the newest cookie minted for it: a revoked sid stays in the edge's revoked map until then.
  token_expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text check (revoked_reason in ('logout', 'logout_everywhere', 'deactivated', 'deleted', 'revoked', 'rotated', 'expired')),
  check ((revoked_at is null) = (revoked_reason is null))
);
create index end_user_sessions_user on end_user_sessions (tenant_id, subject) where revoked_at is null;
create index end_user_sessions_revoked on end_user_sessions (token_expires_at) where revoked_at is not null;

-- The ES256 keys that sign session cookies and identity headers: the current
-- one signs, the next one is published (JWKS, HAProxy's key files) ahead of
-- use, retired ones are kept until every cookie they signed has expired.
-- The private key is sealed in the secrets store (secret_name).
create table session_keys (
  kid text primary key check (kid ~ '^[a-z0-9-]{8,64}$'),
  state text not null check (state in ('current', 'next', 'retired')),
  public_pem text not null,
  secret_name text not null,
  created_at timestamptz not null default now(),
  activated_at timestamptz,
  retired_at timestamptz
);
create unique index session_keys_one_current on session_keys (state) where state in ('current', 'next');
