import { z } from 'zod';
import { deploymentStatuses, type DeploymentView } from '../../runtime/deployments.ts';
import type { StagePsView } from '../../runtime/read-model.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

export const deploymentSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  stage: z.string(),
  app: z.string(),
  version: z.string(),
  status: z.enum(deploymentStatuses),
  reason: z.string(),
  actor: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

const processSchema = z.strictObject({
  tenant: z.string(),
  stage: z.string(),
  process: z.string(),
  instance: z.number(),
  release: z.string(),
  pid: z.number().nullable(),
  phase: z.string(),
  healthy: z.boolean().nullable(),
  restarts: z.number(),
  startedAt: z.string().nullable(),
  uptimeSeconds: z.number().nullable(),
  port: z.number().nullable(),
  lastExit: z
    .strictObject({
      code: z.number().nullable(),
      signal: z.string().nullable(),
      at: z.string(),
      reason: z.string(),
    })
    .nullable(),
});

/** A stage's runtime: its phase, release, URL, files usage and processes (`steward ps`). */
export const stagePsSchema = z.strictObject({
  tenant: z.string(),
  stage: z.string(),
  phase: z.string(),
  reason: z.string(),
  release: z.string().nullable(),
  url: z.string().nullable(),
  filesBytes: z.number().nullable(),
  filesQuotaBytes: z.number().nullable(),
  processes: z.array(processSchema),
});

export type RuntimeContractChecks = [
  Expect<Conforms<DeploymentView, typeof deploymentSchema>>,
  Expect<Conforms<StagePsView, typeof stagePsSchema>>,
];

export const runtimeContracts = {
  'POST /api/v1/tenants/:tenant/stages/:stage/deployments': deploymentSchema,
  'GET /api/v1/tenants/:tenant/deployments': z.strictObject({ deployments: z.array(deploymentSchema) }),
  'GET /api/v1/deployments/:id': deploymentSchema,
  'POST /api/v1/tenants/:tenant/promote': deploymentSchema,
  'POST /api/v1/tenants/:tenant/stages/:stage/rollback': deploymentSchema,
  'GET /api/v1/tenants/:tenant/ps': z.strictObject({ stages: z.array(stagePsSchema) }),
  'PATCH /api/v1/tenants/:tenant/stages/:stage/runtime': stagePsSchema,
} satisfies ContractMap;
