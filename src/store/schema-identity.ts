import type { ColumnType, Generated } from 'kysely';

/**
 * Row types of the identity tables for hosted apps (issue 13), one
 * interface per owning module, so that each module's tables are declared
 * beside the others without two modules editing one list. ControlDatabase
 * (schema.ts) extends them all.
 */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string, string>;
// A ColumnType nested in Generated<> selects as the ColumnType, not a Date: these are whole.
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type JsonWithDefault = ColumnType<unknown, string | undefined, string>;

/** src/identity/directory/: the one writer of users, groups and memberships. */
export interface TenantUsersTable {
  id: Generated<string>;
  tenant_id: string;
  user_name: string;
  external_id: string | null;
  email: string | null;
  display_name: string | null;
  given_name: string | null;
  family_name: string | null;
  active: Generated<boolean>;
  source: string;
  attributes: JsonWithDefault;
  version: Generated<number>;
  last_sign_in_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TenantGroupsTable {
  id: Generated<string>;
  tenant_id: string;
  display_name: string;
  external_id: string | null;
  source: string;
  attributes: JsonWithDefault;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TenantGroupMembersTable {
  group_id: string;
  user_id: string;
  added_at: Timestamp;
}

export interface ScimTokensTable {
  id: ColumnType<string, never, never>;
  tenant_id: string;
  name: string;
  token_hash: string;
  created_by: string;
  created_at: Timestamp;
  expires_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
}

export interface DirectoryTables {
  tenant_users: TenantUsersTable;
  tenant_groups: TenantGroupsTable;
  tenant_group_members: TenantGroupMembersTable;
  scim_tokens: ScimTokensTable;
}

/** src/identity/local/ (migration 0029): local users' credentials, failed sign-ins, mailed links, the login log. */
export interface TenantUserCredentialsTable {
  user_id: string;
  tenant_id: string;
  password_hash: string | null;
  password_set_at: Timestamp | null;
  mfa_required: Generated<boolean>;
  totp_secret: string | null;
  totp_enabled: Generated<boolean>;
  totp_last_step: string | null;
  mfa_enrolled_at: Timestamp | null;
  recovery_codes: ColumnType<string[], string | undefined, string>;
  mfa_challenge: Buffer | null;
  updated_at: Generated<Date>;
}

export interface TenantUserLoginFailuresTable {
  tenant_id: string;
  user_id: string | null;
  address_prefix: string;
  failures: number;
  window_start: Timestamp;
  locked_until: Timestamp | null;
  locks: Generated<number>;
  succeeded_at: Timestamp | null;
}

export interface IdentityLinksTable {
  id: ColumnType<string, never, never>;
  tenant_id: string;
  user_id: string;
  kind: string;
  token_hash: Buffer;
  created_by: string;
  created_at: Generated<Date>;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface LoginEventsTable {
  id: ColumnType<string, never, never>;
  tenant_id: string;
  stage: string | null;
  user_id: string | null;
  user_name: string | null;
  method: string;
  outcome: string;
  reason: string | null;
  address: string | null;
  detail: string | null;
  at: Generated<Date>;
}

export interface LocalUserTables {
  tenant_user_credentials: TenantUserCredentialsTable;
  tenant_user_login_failures: TenantUserLoginFailuresTable;
  identity_links: IdentityLinksTable;
  login_events: LoginEventsTable;
}

// ---

/** src/identity/sessions/ (migration 0030): identity settings, end users' sessions, the session keys. */
export interface IdentitySettingsTable {
  id: ColumnType<string, never, never>;
  tenant_id: string;
  /** null: the tenant's settings; a stage's name: its overrides. */
  stage: string | null;
  local_users: boolean | null;
  sign_in: string | null;
  idle_minutes: number | null;
  absolute_hours: number | null;
  /** Migration 0036: 'required' | 'optional' (null: the tenant's, then optional). */
  mfa: string | null;
  updated_at: Timestamp;
}

export interface EndUserSessionsTable {
  id: Generated<string>;
  tenant_id: string;
  stage: string;
  subject: string;
  user_id: string | null;
  host: string;
  amr: ColumnType<string[], string[] | undefined, string[]>;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  idle_expires_at: Timestamp;
  absolute_expires_at: Timestamp;
  token_expires_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
}

export interface SessionKeysTable {
  kid: string;
  state: string;
  public_pem: string;
  secret_name: string;
  created_at: Timestamp;
  activated_at: Timestamp | null;
  retired_at: Timestamp | null;
}

export interface EdgeSessionTables {
  identity_settings: IdentitySettingsTable;
  end_user_sessions: EndUserSessionsTable;
  session_keys: SessionKeysTable;
}

// ---

/** src/identity/oidc/ (migration 0031): its engineer fills this block, and only this one. */
export interface OidcConnectionsTable {
  id: ColumnType<string, never, never>;
  tenant_id: string;
  name: string;
  stage: string | null;
  label: string;
  kind: string;
  issuer: string;
  client_id: string;
  secret_name: string;
  scopes: string[];
  allowed_tids: Generated<string[]>;
  join_claim: string;
  groups_claim: string | null;
  graph_url: string | null;
  provision: Generated<boolean>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface UserIdentitiesTable {
  connection_id: string;
  issuer: string;
  subject: string;
  user_id: string;
  created_at: Generated<Timestamp>;
  last_used_at: Timestamp;
}

export interface OidcUsedStatesTable {
  state_hash: string;
  expires_at: Timestamp;
}

export interface OidcTables {
  oidc_connections: OidcConnectionsTable;
  user_identities: UserIdentitiesTable;
  oidc_used_states: OidcUsedStatesTable;
}

// ---

/** src/identity/admins/ (migration 0032); operators.tenant_id is declared with operators (schema.ts). */
export interface TenantAdminInvitationsTable {
  operator_id: string;
  token_hash: string;
  invited_by: string;
  created_at: Generated<Timestamp>;
  expires_at: Timestamp;
  accepted_at: Timestamp | null;
}

export interface BreakGlassGrantsTable {
  id: ColumnType<string, never, never>;
  tenant_id: string;
  stage: string;
  operator_id: string | null;
  operator: string;
  reason: string;
  link_hash: string;
  link_used_at: Timestamp | null;
  session_id: string | null;
  opened_at: Timestamp;
  expires_at: Timestamp;
  closed_at: Timestamp | null;
  closed_by: string | null;
}

export interface TenantAdminTables {
  tenant_admin_invitations: TenantAdminInvitationsTable;
  break_glass_grants: BreakGlassGrantsTable;
}

// ---

/** src/identity/ldap/ (migration 0033): a tenant's LDAP directory and its sync runs. */
export interface LdapDirectoriesTable {
  tenant_id: string;
  url: string;
  ca_pem: string | null;
  bind_dn: string;
  base_dn: string;
  user_filter: string;
  preset: string;
  attributes: Json;
  group_base_dn: string | null;
  group_filter: string;
  member_attribute: string;
  every_seconds: number | null;
  sync_requested_at: NullableTimestamp;
  sync_requested_by: string | null;
  updated_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface LdapSyncRunsTable {
  id: ColumnType<string, never, never>;
  tenant_id: string;
  trigger: string;
  requested_by: string;
  status: string;
  progress: string | null;
  entries: Generated<number>;
  groups: Generated<number>;
  counts: JsonWithDefault;
  problems: JsonWithDefault;
  reason: string | null;
  started_at: Timestamp;
  finished_at: NullableTimestamp;
}

export interface LdapTables {
  ldap_directories: LdapDirectoriesTable;
  ldap_sync_runs: LdapSyncRunsTable;
}

// ---

/** src/identity/roles/ (migration 0034): group-to-role mappings per tenant and stage. */
export interface RoleMappingsTable {
  id: ColumnType<string, never, never>;
  tenant_id: string;
  /** Null: every stage of the tenant. */
  stage_id: string | null;
  group_name: string;
  group_key: string;
  role: string;
  created_by: string;
  created_at: Timestamp;
}

export interface RoleTables {
  role_mappings: RoleMappingsTable;
}

// ---

/** src/identity/local/webauthn.ts (migration 0035): local users' WebAuthn security keys. */
export interface TenantUserWebauthnCredentialsTable {
  credential_id: string;
  user_id: string;
  tenant_id: string;
  rp_id: string;
  public_key: Buffer;
  counter: ColumnType<string, string | undefined, string>;
  transports: JsonWithDefault;
  name: string;
  created_at: Generated<Date>;
  last_used_at: Date | null;
}

export interface WebauthnTables {
  tenant_user_webauthn_credentials: TenantUserWebauthnCredentialsTable;
}

// ---

export type IdentityTables = DirectoryTables &
  LocalUserTables &
  EdgeSessionTables &
  OidcTables &
  TenantAdminTables &
  LdapTables &
  RoleTables &
  WebauthnTables;
