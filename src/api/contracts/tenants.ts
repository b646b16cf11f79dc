import { z } from 'zod';
import type { StageCredentials, StageView } from '../../tenants/service.ts';
import { stagePhases } from '../../tenants/service.ts';
import { contactRoles } from '../../tenants/contacts.ts';
import type { ContractMap } from './index.ts';
import { freshnessSchema } from './backups.ts';
import { isolationSchema } from './system.ts';
import type { Conforms, Expect } from './wire.ts';

const desired = z.enum(['present', 'absent']);

export const contactViewSchema = z.strictObject({
  name: z.string(),
  email: z.string(),
  role: z.enum(contactRoles),
});

export const stageSchema = z.strictObject({
  name: z.string(),
  desired,
  phase: z.enum(stagePhases),
  reason: z.string(),
  database: z.string(),
  filesDir: z.string(),
  paused: z.boolean(),
  readyAt: z.string().nullable(),
  createdAt: z.string(),
});

export const tenantSchema = z.strictObject({
  slug: z.string(),
  displayName: z.string(),
  region: z.string(),
  geography: z.string(),
  tier: z.string(),
  /** As stored: the contacts written through the API. */
  contacts: z.array(contactViewSchema),
  desired,
  /** The least advanced phase of its stages: ready only when every stage is. */
  phase: z.enum(stagePhases),
  createdAt: z.string(),
  stages: z.array(stageSchema),
});

/** `tenant show`: each stage with its backup freshness (or why it is unknown) and, on ha, its replication. */
const tenantShowSchema = tenantSchema.extend({
  stages: z.array(
    stageSchema.extend({
      backup: z.union([freshnessSchema, z.strictObject({ error: z.string() })]).nullable(),
      replication: z.enum(['synchronous', 'asynchronous']).optional(),
    }),
  ),
  isolation: isolationSchema,
});

const credentialsSchema = z.strictObject({
  tenant: z.string(),
  stage: z.string(),
  database: z.string(),
  user: z.string(),
  host: z.string(),
  port: z.number(),
  databaseUrl: z.string(),
});

export type TenantContractChecks = [
  Expect<Conforms<StageView, typeof stageSchema>>,
  Expect<Conforms<StageCredentials, typeof credentialsSchema>>,
];

export const tenantContracts = {
  'POST /api/v1/tenants': tenantSchema,
  'GET /api/v1/tenants': z.strictObject({ tenants: z.array(tenantSchema) }),
  'GET /api/v1/tenants/:tenant': tenantShowSchema,
  'DELETE /api/v1/tenants/:tenant': tenantSchema,
  'POST /api/v1/tenants/:tenant/contacts': tenantSchema,
  'DELETE /api/v1/tenants/:tenant/contacts/:email': tenantSchema,
  'POST /api/v1/tenants/:tenant/stages': tenantSchema,
  'DELETE /api/v1/tenants/:tenant/stages/:stage': tenantSchema,
  'GET /api/v1/tenants/:tenant/stages/:stage/credentials': credentialsSchema,
} satisfies ContractMap;
