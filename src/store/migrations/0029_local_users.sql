-- Local users of hosted apps (issue 13 part 2) and the login log (part 8).
-- One writer: src/identity/local/. A local user is a row of tenant_users
-- (the directory's); what only a password sign-in needs lives here.

-- A user's password (argon2id) and TOTP. The TOTP secret is sealed in the
-- secret store; totp_secret names it. totp_last_step refuses a replayed code.
-- mfa_challenge is the SHA-256 of the one MFA challenge that may still be
-- answered (the signed challenge between password and code is single use).
create table tenant_user_credentials (
  user_id uuid primary key references tenant_users (id) on delete cascade,
  tenant_id bigint not null references tenants (id) on delete cascade,
  password_hash text,
  password_set_at timestamptz,
  mfa_required boolean not null default false,
  totp_secret text,
  totp_enabled boolean not null default false,
  totp_last_step bigint,
  mfa_enrolled_at timestamptz,
  recovery_codes jsonb not null default '[]',
  mfa_challenge bytea,
  updated_at timestamptz not null default now()
);
create index tenant_user_credentials_tenant on tenant_user_credentials (tenant_id);

-- Failed sign-ins, counted before the password is checked. Per account and
-- address prefix (user_id set): guesses lock the account for that prefix
-- only, each lock longer than the last (backoff) until a sign-in succeeds.
-- Per tenant and address prefix across accounts (user_id null): a sprayer is
-- slowed down; one tenant's sprayers never throttle another tenant's users.
create table tenant_user_login_failures (
  tenant_id bigint not null references tenants (id) on delete cascade,
  user_id uuid references tenant_users (id) on delete cascade,
  address_prefix text not null,
  failures integer not null,
  window_start timestamptz not null,
  locked_until timestamptz,
  locks integer not null default 0,
  succeeded_at timestamptz
);
create unique index tenant_user_login_failures_account
  on tenant_user_login_failures (user_id, address_prefix) where user_id is not null;
create unique index tenant_user_login_failures_address
  on tenant_user_login_failures (tenant_id, address_prefix) where user_id is null;

-- Signed single-use links mailed to a user: an invitation (set a first
-- password) or a password reset. Only a SHA-256 of the token is kept; a
-- newer link of the same kind for the same user invalidates the older.
create table identity_links (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  user_id uuid not null references tenant_users (id) on delete cascade,
  kind text not null check (kind in ('invitation', 'reset')),
  token_hash bytea not null unique,
  created_by text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz
);
create index identity_links_user on identity_links (user_id, kind);

-- The login log: every sign-in, failure (with its reason), MFA change,
-- password reset and break-glass access of a tenant; tenant admins read it.
-- A deleted user's lines stay, with the name as typed.
create table login_events (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  stage text,
  user_id uuid references tenant_users (id) on delete set null,
  user_name text check (user_name is null or length(user_name) <= 256),
  method text not null,
  outcome text not null check (outcome in ('success', 'failure')),
  reason text,
  address text,
  detail text check (detail is null or length(detail) <= 500),
  at timestamptz not null default now()
);
create index login_events_tenant on login_events (tenant_id, id desc);
create index login_events_user on login_events (user_id, at desc) where user_id is not null;
