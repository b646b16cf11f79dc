import { z } from 'zod';
import type { RetiredKeyView } from '../../secrets/retired.ts';
import type { PurgeReport, RotationReport } from '../../secrets/service.ts';
import { isolationLevels, type IsolationReport } from '../../runtime/sandbox/index.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** How far stages are isolated on this machine (runtime/sandbox IsolationReport). */
export const isolationSchema = z.strictObject({
  level: z.enum(isolationLevels),
  users: z.boolean(),
  mounts: z.enum(['bubblewrap', 'none']),
  network: z.enum(['nftables', 'none']),
  /** Empty at full; else what is missing and why. */
  reasons: z.array(z.string()),
});

const retiredKeySchema = z.strictObject({
  id: z.string(),
  retiredAt: z.string(),
  /** When no backup can need the key any more. */
  purgeableAt: z.string(),
});

const rotationSchema = z.strictObject({
  previousKeyId: z.string(),
  keyId: z.string(),
  rewrapped: z.number(),
});

const purgeSchema = z.strictObject({
  purged: z.array(retiredKeySchema),
  kept: z.array(retiredKeySchema),
  retentionDays: z.number(),
});

export type SystemContractChecks = [
  Expect<Conforms<IsolationReport, typeof isolationSchema>>,
  Expect<Conforms<RetiredKeyView, typeof retiredKeySchema>>,
  Expect<Conforms<RotationReport, typeof rotationSchema>>,
  Expect<Conforms<PurgeReport, typeof purgeSchema>>,
];

export const systemContracts = {
  'GET /api/v1/health': z.object({ status: z.literal('ok'), version: z.string() }),
  'GET /api/v1/system/isolation': isolationSchema,
  'POST /api/v1/secrets/rotate-master-key': rotationSchema,
  'GET /api/v1/secrets/master-keys': z.strictObject({
    activeKeyId: z.string(),
    keys: z.array(retiredKeySchema),
    retentionDays: z.number(),
  }),
  'POST /api/v1/secrets/purge-retired-keys': purgeSchema,
} satisfies ContractMap;
