import type { Success } from '../../../../src/api/client/typed.ts';
import type { paths } from '../../../../src/api/client/schema.ts';

/**
 * The rows the tenant admin's pages hand around, as the OpenAPI document
 * (the routes' contracts) has them: a contract that changes changes these.
 */
type Answer<Path extends keyof paths> = paths[Path] extends { get: infer O } ? Success<O> : never;

export type UserRow = Answer<'/api/v1/tenants/{tenant}/users'>['users'][number];
export type GroupRow = Answer<'/api/v1/tenants/{tenant}/groups'>['groups'][number];
export type RoleMapping = Answer<'/api/v1/tenants/{tenant}/identity/roles'>['mappings'][number];
export type ScimTokenRow = Answer<'/api/v1/tenants/{tenant}/scim-tokens'>['tokens'][number];
export type IncidentRow = Answer<'/api/v1/tenants/{tenant}/incidents'>['incidents'][number];
export type MaintenanceRow = Answer<'/api/v1/tenants/{tenant}/maintenance-windows'>['windows'][number];

/** An export (GET /api/v1/tenants/:tenant/exports), the fields the page shows: its route has no contract yet. */
export interface ExportRow {
  readonly id: string;
  readonly stage: string;
  readonly status: string;
  readonly reason: string;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly filename: string;
}
