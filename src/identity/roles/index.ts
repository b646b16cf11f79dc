/** Groups to app roles per tenant and stage (issue 13 part 7); sessions ask the RoleResolver when minting. */
export { RoleService, type RemoveRoleRequest, type SetRoleRequest } from './service.ts';
export {
  checkGroupName,
  checkRole,
  groupKey,
  maxMappingsPerTenant,
  resolveRoles,
  type RoleMapping,
} from './mapping.ts';
