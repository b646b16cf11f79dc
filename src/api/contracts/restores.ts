import { z } from 'zod';
import {
  restoreModes,
  restorePhases,
  restoreStatuses,
  restoreTestPhases,
  restoreTestTriggers,
} from '../../backups/restore-plan.ts';
import type { RestoreView } from '../../backups/restore/view.ts';
import type { RestoreTestView } from '../../backups/restore-tests/views.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

export const restoreSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  sourceStage: z.string(),
  targetStage: z.string(),
  mode: z.enum(restoreModes),
  toTime: z.string(),
  cluster: z.string(),
  repo: z.number(),
  backupLabel: z.string(),
  status: z.enum(restoreStatuses),
  phase: z.enum(restorePhases),
  progress: z.string(),
  /** In place: the old database, kept until `restore discard`; null once discarded. */
  keptDatabase: z.string().nullable(),
  keptFilesDir: z.string().nullable(),
  discardedAt: z.string().nullable(),
  discardedBy: z.string().nullable(),
  files: z.strictObject({
    /** The export the files came from, when they were restored. */
    exportId: z.string().nullable(),
    restored: z.boolean(),
    note: z.string().nullable(),
  }),
  error: z.string().nullable(),
  /** Milliseconds per step. */
  timings: z.record(z.string(), z.number()),
  createdBy: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

const tableSums = z.strictObject({ rows: z.number(), sum: z.string(), xor: z.string() });

const verificationSchema = z.strictObject({
  fingerprint: z
    .strictObject({
      ok: z.boolean(),
      /** Whether the fingerprint recorded at backup time was exact. */
      exact: z.boolean(),
      why: z.string().nullable(),
      /** Taken by this test rather than at backup time. */
      takenByTest: z.boolean(),
      tables: z.array(
        z.strictObject({
          table: z.string(),
          expected: tableSums.nullable(),
          actual: tableSums.nullable(),
          ok: z.boolean(),
        }),
      ),
    })
    .nullable(),
  /** The app's own verify command; null when its release defines none. */
  app: z
    .strictObject({ command: z.string(), release: z.string(), exitCode: z.number(), output: z.string() })
    .nullable(),
});

export const restoreTestSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  stage: z.string(),
  cluster: z.string(),
  trigger: z.enum(restoreTestTriggers),
  status: z.enum(restoreStatuses),
  phase: z.enum(restoreTestPhases),
  repo: z.number().nullable(),
  backupLabel: z.string().nullable(),
  backupStoppedAt: z.string().nullable(),
  restorePoint: z.string().nullable(),
  /** Age of the backup when the test ran: the RPO at that moment. */
  rpoSeconds: z.number().nullable(),
  /** From the start of the restore until it was verified: the measured RTO. */
  rtoMs: z.number().nullable(),
  verification: verificationSchema.nullable(),
  error: z.string().nullable(),
  createdBy: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
});

export type RestoreContractChecks = [
  Expect<Conforms<RestoreView, typeof restoreSchema>>,
  Expect<Conforms<RestoreTestView, typeof restoreTestSchema>>,
];

export const restoreContracts = {
  'POST /api/v1/tenants/:tenant/stages/:stage/restores': restoreSchema,
  'GET /api/v1/restores/:id': restoreSchema,
  'GET /api/v1/tenants/:tenant/restores': z.strictObject({ restores: z.array(restoreSchema) }),
  'POST /api/v1/restores/:id/discard': restoreSchema,
  'POST /api/v1/tenants/:tenant/stages/:stage/restore-tests': restoreTestSchema,
  'GET /api/v1/restore-tests': z.strictObject({ restoreTests: z.array(restoreTestSchema) }),
  'GET /api/v1/restore-tests/:id': restoreTestSchema,
} satisfies ContractMap;
