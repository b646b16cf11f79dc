/**
 * Directory pull sync from LDAP / Active Directory (issue 13, part 5): the
 * one door to ldap_directories and ldap_sync_runs. Users and groups are
 * written through the Directory with source `ldap`.
 */
export {
  LdapSyncService,
  ldapSyncJobKind,
  formatEvery,
  type DirectoryView,
  type SyncRequested,
} from './service.ts';
export type { DirectoryPort } from './directory-port.ts';
export { LdapReader, LdapError, type DirectoryReader, type SearchLimits } from './client.ts';
export { setDirectorySchema, ldapPresets, parseEvery, type SetDirectoryInput } from './settings.ts';
export type { SyncRunView } from './store.ts';
