import { z } from 'zod';
import { checkKinds } from '../../monitoring/specs.ts';
import { checkStates, probeOutcomes } from '../../monitoring/states.ts';
import type { CheckView } from '../../monitoring/service.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

export const checkSchema = z.strictObject({
  id: z.string(),
  tenant: z.string().nullable(),
  stage: z.string().nullable(),
  kind: z.enum(checkKinds),
  /** builtin: created and removed with its stage; operator: added by createdBy. */
  origin: z.enum(['builtin', 'operator']),
  builtin: z.string().nullable(),
  target: z.string(),
  intervalSeconds: z.number(),
  timeoutMs: z.number(),
  state: z.enum(checkStates),
  since: z.string(),
  lastResult: z
    .strictObject({
      at: z.string(),
      outcome: z.enum(probeOutcomes),
      latencyMs: z.number(),
      /** What was seen, for people. */
      detail: z.string(),
    })
    .nullable(),
  createdBy: z.string(),
});

export type CheckContractChecks = [Expect<Conforms<CheckView, typeof checkSchema>>];

const checkList = z.strictObject({ checks: z.array(checkSchema) });

export const checkContracts = {
  'POST /api/v1/tenants/:tenant/stages/:stage/checks': checkSchema,
  'GET /api/v1/tenants/:tenant/checks': checkList,
  'GET /api/v1/tenants/:tenant/stages/:stage/checks': checkList,
  'DELETE /api/v1/tenants/:tenant/checks/:id': z.strictObject({ id: z.string(), removed: z.literal(true) }),
} satisfies ContractMap;
