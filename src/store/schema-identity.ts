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

/** src/identity/local/ (migration 0029): its engineer fills this block, and only this one. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by src/identity/local/
export interface LocalUserTables {}

// ---

/** src/identity/sessions/ (migration 0030): its engineer fills this block, and only this one. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by src/identity/sessions/
export interface EdgeSessionTables {}

// ---

/** src/identity/oidc/ (migration 0031): its engineer fills this block, and only this one. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by src/identity/oidc/
export interface OidcTables {}

// ---

/** src/identity/admins/ (migration 0032): its engineer fills this block, and only this one. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by src/identity/admins/
export interface TenantAdminTables {}

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

/** src/identity/roles/ (migration 0034): its engineer fills this block, and only this one. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by src/identity/roles/
export interface RoleTables {}

// ---

export type IdentityTables = DirectoryTables &
  LocalUserTables &
  EdgeSessionTables &
  OidcTables &
  TenantAdminTables &
  LdapTables &
  RoleTables;
