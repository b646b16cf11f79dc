-- OIDC sign-in for hosted apps (issue 13, part 3): a tenant's connections to
-- its identity providers, and which directory user each IdP subject is.
-- One writer: src/identity/oidc/.

-- A connection is a button on the tenant's sign-in page (/.steward/auth/oidc/<name>).
-- The client secret is not here: it is sealed in `secrets` under secret_name.
create table oidc_connections (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id) on delete cascade,
  name text not null check (name ~ '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$'),
  -- Null: every stage of the tenant; else only this stage's hosts offer it.
  stage text,
  label text not null check (length(label) between 1 and 80),
  kind text not null check (kind in ('generic', 'entra', 'okta')),
  -- Pinned exactly: discovery and every ID token must name this issuer (for an Entra
  -- multi-tenant app, `common`/`organizations`: the template with the token's own tid).
  issuer text not null,
  client_id text not null,
  secret_name text not null,
  scopes text[] not null,
  -- Entra: the directory (tenant) ids whose users may sign in; never empty for a multi-tenant app.
  allowed_tids text[] not null default '{}',
  join_claim text not null,
  groups_claim text,
  -- Microsoft Graph (or a sovereign cloud's): resolves Entra's groups overage.
  graph_url text,
  -- No directory user matches: create one (source oidc) instead of refusing.
  provision boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index oidc_connections_name on oidc_connections (tenant_id, name);

-- An IdP subject (issuer + sub, per connection) joined to its directory user
-- at its first sign-in; later sign-ins find the user here, whatever its e-mail became.
create table user_identities (
  connection_id bigint not null references oidc_connections (id) on delete cascade,
  issuer text not null,
  subject text not null check (length(subject) between 1 and 255),
  user_id uuid not null references tenant_users (id) on delete cascade,
  created_at timestamptz not null default now(),
  last_used_at timestamptz not null default now(),
  primary key (connection_id, issuer, subject)
);
create index user_identities_user on user_identities (user_id);

-- The states of completed (or attempted) sign-ins, kept until their flow
-- cookie expires: a replayed callback is refused before it reaches the IdP.
create table oidc_used_states (
  state_hash text primary key,
  expires_at timestamptz not null
);
create index oidc_used_states_expiry on oidc_used_states (expires_at);
