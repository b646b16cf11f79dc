import { z } from 'zod';
import { auditOutcomes, chainProblemKinds, type ChainProblem } from '../../audit/chain.ts';
import type { VerifyReport } from '../../audit/service.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** One audit event with its place in the hash chain. */
export const auditEventSchema = z.strictObject({
  seq: z.string(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  tenant: z.string().nullable(),
  outcome: z.enum(auditOutcomes),
  address: z.string().nullable(),
  /** What each action records besides (open: per action). */
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
  /** What the database hashed; null on legacy events. */
  body: z.string().nullable(),
  /** The master key id the MAC was made with; null on legacy events. */
  macKey: z.string().nullable(),
  mac: z.string().nullable(),
});

const problemSchema = z.strictObject({
  seq: z.string(),
  kind: z.enum(chainProblemKinds),
  message: z.string(),
});

const verifySchema = z.strictObject({
  ok: z.boolean(),
  checked: z.number(),
  lastSeq: z.string().nullable(),
  /** Events written before the database computed hashes: chained, but without a MAC. */
  legacy: z.number(),
  /** The newest signed checkpoint the log was held to, and where it was found. */
  checkpoint: z
    .strictObject({ seq: z.string(), hash: z.string(), at: z.string(), stores: z.array(z.string()) })
    .nullable(),
  problem: problemSchema.nullable(),
  problems: z.array(problemSchema),
  warnings: z.array(z.string()),
});

export type AuditContractChecks = [
  Expect<Conforms<ChainProblem, typeof problemSchema>>,
  Expect<Conforms<VerifyReport, typeof verifySchema>>,
];

export const auditContracts = {
  'GET /api/v1/audit': z.strictObject({ events: z.array(auditEventSchema) }),
  'GET /api/v1/audit/verify': verifySchema,
} satisfies ContractMap;
