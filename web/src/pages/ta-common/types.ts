import type { paths } from '../../../../src/api/client/schema.ts';
import type { ListItem } from '../../../../src/api/client/typed.ts';

/**
 * The rows the tenant admin's pages hand around, as the OpenAPI document
 * (the routes' contracts) has them: a contract that changes changes these.
 */
export type UserRow = ListItem<paths, '/api/v1/tenants/{tenant}/users'>;
export type GroupRow = ListItem<paths, '/api/v1/tenants/{tenant}/groups'>;
export type RoleMapping = ListItem<paths, '/api/v1/tenants/{tenant}/identity/roles'>;
export type ScimTokenRow = ListItem<paths, '/api/v1/tenants/{tenant}/scim-tokens'>;
export type IncidentRow = ListItem<paths, '/api/v1/tenants/{tenant}/incidents'>;
export type MaintenanceRow = ListItem<paths, '/api/v1/tenants/{tenant}/maintenance-windows'>;
export type ExportRow = ListItem<paths, '/api/v1/tenants/{tenant}/exports'>;
