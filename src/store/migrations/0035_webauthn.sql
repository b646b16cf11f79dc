-- WebAuthn security keys as a second factor for local users (issue 13 part 2).
-- One writer: src/identity/local/webauthn.ts. A key is the public half of a
-- credential the user's authenticator made for the stage host (the RP id);
-- counter refuses an assertion older than the last one seen (a cloned key).
create table tenant_user_webauthn_credentials (
  -- The credential id as the authenticator gave it, base64url.
  credential_id text primary key check (length(credential_id) between 16 and 1400),
  user_id uuid not null references tenant_users (id) on delete cascade,
  tenant_id bigint not null references tenants (id) on delete cascade,
  -- The host the key was made for: a key answers for that host only.
  rp_id text not null,
  public_key bytea not null,
  counter bigint not null default 0 check (counter >= 0),
  transports jsonb not null default '[]',
  name text not null check (length(name) between 1 and 64),
  created_at timestamptz not null default now(),
  last_used_at timestamptz
);
create index tenant_user_webauthn_credentials_user on tenant_user_webauthn_credentials (user_id);
