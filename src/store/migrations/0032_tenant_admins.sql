-- Tenant admins and break-glass access (issue 13, parts 6 and 8).
--
-- A tenant admin (the customer's IT) is an account beside the operators, in
-- their table, so that it shares their argon2id passwords, TOTP, lockout and
-- API tokens; tenant_id scopes it to one tenant and the role `tenant-admin`
-- says so. An operator never has a tenant, a tenant admin always has one.
-- One writer: src/identity/admins/ (with operators.ts and tokens.ts, which it reuses).
alter table operators add column tenant_id bigint references tenants (id) on delete cascade;
alter table operators drop constraint operators_role_check;
alter table operators add constraint operators_role_check
  check (role in ('owner', 'operator', 'auditor', 'tenant-admin'));
alter table operators add constraint operators_tenant_admin_has_tenant
  check ((role = 'tenant-admin') = (tenant_id is not null));
create index operators_tenant on operators (tenant_id) where tenant_id is not null;

alter table api_tokens drop constraint api_tokens_role_check;
alter table api_tokens add constraint api_tokens_role_check
  check (role in ('owner', 'operator', 'auditor', 'tenant-admin'));

-- The one open invitation of a tenant admin: a single-use token, stored
-- hashed, mailed through the notification outbox. Accepting it sets the
-- admin's password (the account has none anyone knows before).
create table tenant_admin_invitations (
  operator_id bigint primary key references operators (id) on delete cascade,
  token_hash text not null unique,
  invited_by text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  accepted_at timestamptz
);

-- An operator's time-limited access into a tenant's stage that requires
-- sign-in: with a reason, audited, in the tenant's login log, visible to the
-- tenant's admins. The one-time link that opens the edge session is stored
-- hashed and good once (link_used_at).
create table break_glass_grants (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  stage text not null,
  operator_id bigint references operators (id) on delete set null,
  -- Kept when the operator is removed: the tenant still sees who it was.
  operator text not null,
  reason text not null check (length(reason) between 1 and 500),
  link_hash text not null unique,
  link_used_at timestamptz,
  -- The edge session the link opened (its sid), revoked when the grant is closed.
  session_id text,
  opened_at timestamptz not null default now(),
  expires_at timestamptz not null check (expires_at > opened_at),
  closed_at timestamptz,
  closed_by text
);
create index break_glass_grants_tenant on break_glass_grants (tenant_id, opened_at desc);
