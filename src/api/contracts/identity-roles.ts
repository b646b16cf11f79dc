import { z } from 'zod';
import type { RoleMapping } from '../../identity/roles/mapping.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** A group-to-role mapping (identity/roles/mapping.ts). */
export const roleMappingSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  /** Null: every stage of the tenant, those added later too. */
  stage: z.string().nullable(),
  group: z.string(),
  role: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  /** Whether the tenant's directory has a group of this name now. */
  groupKnown: z.boolean(),
});

export type IdentityRoleContractChecks = [Expect<Conforms<RoleMapping, typeof roleMappingSchema>>];

export const identityRoleContracts = {
  'GET /api/v1/tenants/:tenant/identity/roles': z.strictObject({ mappings: z.array(roleMappingSchema) }),
  /** 201 when added, 200 when it was there. */
  'POST /api/v1/tenants/:tenant/identity/roles': roleMappingSchema.extend({ created: z.boolean() }),
  /** The ids of the mappings removed. */
  'DELETE /api/v1/tenants/:tenant/identity/roles': z.strictObject({ removed: z.array(z.string()) }),
} satisfies ContractMap;
