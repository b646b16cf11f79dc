import { z } from 'zod';
import { healActions } from '../../alerts/contract.ts';
import { healOutcomes, type HealAttemptView } from '../../healing/index.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

const attemptSchema = z.strictObject({
  id: z.string(),
  alertId: z.string(),
  action: z.enum(healActions),
  tenant: z.string().nullable(),
  stage: z.string().nullable(),
  process: z.string().nullable(),
  target: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  outcome: z.enum(healOutcomes),
  detail: z.string(),
});

export type HealingContractChecks = [Expect<Conforms<HealAttemptView, typeof attemptSchema>>];

export const healingContracts = {
  'GET /api/v1/healing/attempts': z.strictObject({ attempts: z.array(attemptSchema) }),
} satisfies ContractMap;
