import { z } from 'zod';
import {
  backupTypes,
  exportIntervals,
  type BackupClusterView,
  type BackupRequestView,
  type Freshness,
  type PolicyView,
  type StageBackupsView,
} from '../../backups/index.ts';
import { diffIntervals, fullIntervals, incrIntervals } from '../../backups/policy.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

const clusterKind = z.enum(['shared', 'dedicated', 'ha']);

/** The newest good backup of a stage's cluster, and how old it is: backup freshness. */
export const freshnessSchema = z.strictObject({
  label: z.string(),
  type: z.enum(backupTypes),
  repo: z.number(),
  stoppedAt: z.string(),
  ageSeconds: z.number(),
});

/** What a cluster's physical backups run by (a cluster's is the most demanding of its tenants'). */
export const physicalPolicySchema = z.strictObject({
  full: z.enum(fullIntervals),
  diff: z.enum(diffIntervals).nullable(),
  incr: z.enum(incrIntervals).nullable(),
  retainDays: z.number(),
  keepDaily: z.number().nullable(),
  keepWeekly: z.number().nullable(),
  keepMonthly: z.number().nullable(),
});

const policyViewSchema = z.strictObject({
  tenant: z.string(),
  policy: physicalPolicySchema.extend({ exports: z.enum(exportIntervals).nullable() }),
  /** No policy was set: the default applies. */
  isDefault: z.boolean(),
  updatedBy: z.string().nullable(),
  updatedAt: z.string().nullable(),
});

export const backupRunSchema = z.strictObject({
  id: z.string(),
  cluster: z.string(),
  type: z.enum(backupTypes),
  repo: z.number(),
  status: z.enum(['running', 'succeeded', 'failed']),
  label: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  sizeBytes: z.number().nullable(),
  databaseBytes: z.number().nullable(),
  error: z.string().nullable(),
  requestId: z.string().nullable(),
  requestedBy: z.string().nullable(),
});

const storedBackupSchema = z.strictObject({
  label: z.string(),
  type: z.enum(backupTypes),
  repo: z.number(),
  prior: z.string().nullable(),
  startedAt: z.string(),
  stoppedAt: z.string(),
  databaseBytes: z.number(),
  repositoryBytes: z.number(),
  error: z.boolean(),
});

const restorableSchema = z.strictObject({
  repo: z.number(),
  /** The earliest moment a restore can reach. */
  from: z.string(),
  latestBackupAt: z.string(),
  /** The newest archived WAL segment: restores reach up to it. */
  latestWal: z.string().nullable(),
});

const verifySchema = z.strictObject({ at: z.string(), ok: z.boolean(), report: z.string() });

const stageBackupsSchema = z.strictObject({
  tenant: z.string(),
  stage: z.string(),
  /** The stanza of the stage's cluster; null when Steward does not back it up (reason says why). */
  cluster: z.string().nullable(),
  clusterKind: clusterKind.nullable(),
  reason: z.string().nullable(),
  policy: physicalPolicySchema.nullable(),
  freshness: freshnessSchema.nullable(),
  /** pgbackrest info failed; runs are still listed. */
  error: z.string().nullable(),
  backups: z.array(storedBackupSchema),
  restorable: z.array(restorableSchema),
  runs: z.array(backupRunSchema),
  lastVerify: verifySchema.nullable(),
});

const backupRequestSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  stage: z.string(),
  cluster: z.string(),
  type: z.enum(backupTypes),
  status: z.enum(['pending', 'running', 'succeeded', 'failed']),
  reason: z.string(),
  requestedBy: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  /** One entry per repository, in the order they are backed up. */
  repos: z.array(
    z.strictObject({
      repo: z.number(),
      status: z.enum(['pending', 'running', 'succeeded', 'failed']),
      /** pgBackRest's percent complete while the backup runs, when it reports one. */
      percent: z.number().nullable(),
      run: backupRunSchema.nullable(),
    }),
  ),
});

const backupClusterSchema = z.strictObject({
  stanza: z.string(),
  kind: clusterKind,
  tenant: z.string().nullable(),
  stage: z.string().nullable(),
  preparedAt: z.string().nullable(),
  /** Its cluster runs here; false for a removed dedicated stage, whose backups stay. */
  live: z.boolean(),
  policy: physicalPolicySchema,
  lastVerify: verifySchema.nullable(),
});

export type BackupContractChecks = [
  Expect<Conforms<Freshness, typeof freshnessSchema>>,
  Expect<Conforms<PolicyView, typeof policyViewSchema>>,
  Expect<Conforms<StageBackupsView, typeof stageBackupsSchema>>,
  Expect<Conforms<BackupRequestView, typeof backupRequestSchema>>,
  Expect<Conforms<BackupClusterView, typeof backupClusterSchema>>,
];

export const backupContracts = {
  'GET /api/v1/tenants/:tenant/backup-policy': policyViewSchema,
  'PUT /api/v1/tenants/:tenant/backup-policy': policyViewSchema,
  'GET /api/v1/tenants/:tenant/stages/:stage/backups': stageBackupsSchema,
  'POST /api/v1/tenants/:tenant/stages/:stage/backups': backupRequestSchema,
  'GET /api/v1/backup-requests/:id': backupRequestSchema,
  'GET /api/v1/backup-clusters': z.strictObject({ clusters: z.array(backupClusterSchema) }),
  'POST /api/v1/backup-clusters/:stanza/verify': backupClusterSchema,
} satisfies ContractMap;
