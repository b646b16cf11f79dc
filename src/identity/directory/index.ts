/**
 * The Directory: the people and groups of each tenant. The one door to
 * tenant_users, tenant_groups and tenant_group_members.
 */
export { Directory, maxPageSize, type DirectoryOptions } from './directory.ts';
export { DirectoryWriter, VersionMismatchError, maxMembersPerCall } from './writer.ts';
export {
  compareOps,
  filterSql,
  type AttrPath,
  type CompareOp,
  type Filter,
  type FilterValue,
} from './filter.ts';
export { isId } from './rows.ts';
export * from './types.ts';
