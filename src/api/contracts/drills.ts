import { z } from 'zod';
import { drillKinds, drillOutcomes, type DrillView } from '../../drills/index.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** A failover or node-loss drill: its phase while it runs, its measurements once it ended. */
export const drillSchema = z.strictObject({
  id: z.string(),
  kind: z.enum(drillKinds),
  tenant: z.string().nullable(),
  stage: z.string().nullable(),
  cluster: z.string(),
  synchronous: z.boolean().nullable(),
  requestedBy: z.string(),
  startedAt: z.string(),
  faultAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  phase: z.string(),
  outcome: z.enum(drillOutcomes),
  reason: z.string(),
  writesResumeSeconds: z.number().nullable(),
  acknowledgedWrites: z.number().nullable(),
  lostCommits: z.number().nullable(),
  oldPrimary: z.string().nullable(),
  newPrimary: z.string().nullable(),
  rejoinSeconds: z.number().nullable(),
  /** What the kind of drill measured besides (open: each kind its own). */
  details: z.record(z.string(), z.unknown()),
});

export type DrillContractChecks = [Expect<Conforms<DrillView, typeof drillSchema>>];

export const drillContracts = {
  'POST /api/v1/tenants/:tenant/stages/:stage/drills': drillSchema,
  'GET /api/v1/drills/:id': drillSchema,
  'GET /api/v1/drills': z.strictObject({ drills: z.array(drillSchema) }),
} satisfies ContractMap;
