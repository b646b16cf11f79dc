import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { showValue } from '../../core/errors.ts';
import {
  backupTypes,
  diffIntervals,
  exportIntervals,
  fullIntervals,
  incrIntervals,
} from '../../backups/policy.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, sendListPage } from '../pagination.ts';

// Path parameters are checked for shape only: a malformed name simply names nothing.
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const stageParams = z
  .object({ tenant: z.string().min(1).max(100), stage: z.string().min(1).max(100) })
  .strict();
const stanzaParams = z.object({ stanza: z.string().min(1).max(100) }).strict();
const idParams = z.object({ id: z.string().min(1).max(100) }).strict();

/** "off" and null both turn a kind off. */
const offable = <T extends readonly [string, ...string[]]>(values: T) =>
  z
    .enum([...values, 'off'])
    .nullable()
    .optional()
    .transform((v) => (v === 'off' ? null : (v as T[number] | null | undefined)));

/** A retention tier: a whole number of its unit up to a maximum, or "off" (or null). */
const tier = (unit: string, max: number) => {
  const refused = (issue: { input?: unknown }) =>
    `${showValue(issue.input)} is not accepted; use a whole number of ${unit} from 1 to ${max}, or "off"`;
  return z
    .union([z.number(), z.literal('off')], { error: refused })
    .nullable()
    .optional()
    .refine((v) => typeof v !== 'number' || (Number.isInteger(v) && v >= 1 && v <= max), { error: refused })
    .transform((v) => (v === 'off' ? null : v));
};

const policyBody = z
  .object({
    full: z.enum(fullIntervals).optional(),
    diff: offable(diffIntervals),
    incr: offable(incrIntervals),
    retainDays: z.number().int().min(1).max(9999).optional(),
    /** Beyond retainDays, the newest full of each of the last N days / ISO weeks / months (UTC). */
    keepDaily: tier('days', 3650),
    keepWeekly: tier('weeks', 520),
    keepMonthly: tier('months', 120),
    /** A logical export of each ready stage: daily, weekly, or off. */
    exports: offable(exportIntervals),
  })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), {
    message:
      'field "full": give at least one of full (weekly, daily), diff (daily, off), incr (2h, off), retainDays (1 to 9999), keepDaily (1 to 3650, off), keepWeekly (1 to 520, off), keepMonthly (1 to 120, off), exports (daily, weekly, off)',
    path: ['full'],
  });

const runBody = z
  .object({
    type: z.enum(backupTypes).default('full'),
    /** 1, 2 or "all" (default: every repository, repo1 first). */
    repo: z.unknown().optional().describe('1, 2 or "all" (default all)'),
  })
  .strict();

const clusterListQuery = pageQuery({ sorts: ['stanza'] });

export function backupRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/backup-policy',
    summary: "Show a tenant's backup policy (the default when none was set)",
    tags: ['backups'],
    permission: 'tenants.read',
    params: tenantParams,
    handler: ({ params }) => services.backups.policy(params.tenant),
  });
  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/tenants/:tenant/backup-policy',
    summary: "Change a tenant's backup policy: the fields given replace the current ones",
    tags: ['backups'],
    permission: 'tenants.write',
    params: tenantParams,
    body: policyBody,
    handler: ({ params, body, principal }) =>
      services.backups.setPolicy(
        params.tenant,
        {
          ...(body.full !== undefined ? { full: body.full } : {}),
          ...(body.diff !== undefined ? { diff: body.diff } : {}),
          ...(body.incr !== undefined ? { incr: body.incr } : {}),
          ...(body.retainDays !== undefined ? { retainDays: body.retainDays } : {}),
          ...(body.keepDaily !== undefined ? { keepDaily: body.keepDaily } : {}),
          ...(body.keepWeekly !== undefined ? { keepWeekly: body.keepWeekly } : {}),
          ...(body.keepMonthly !== undefined ? { keepMonthly: body.keepMonthly } : {}),
          ...(body.exports !== undefined ? { exports: body.exports } : {}),
        },
        principal,
      ),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/stages/:stage/backups',
    summary:
      "A stage's physical backups in every repository, its cluster's runs, freshness and restorable range",
    tags: ['backups'],
    permission: 'tenants.read',
    params: stageParams,
    handler: ({ params }) => services.backups.list(params.tenant, params.stage),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages/:stage/backups',
    summary:
      "Back up a stage's cluster now (repo1, repo2 or all, repo1 first); follow it with GET /api/v1/backup-requests/:id",
    tags: ['backups'],
    permission: 'tenants.write',
    params: stageParams,
    body: runBody,
    status: 202,
    handler: ({ params, body, principal }) =>
      services.backups.requestBackup(params.tenant, params.stage, body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/backup-requests/:id',
    summary: "A requested backup's status per repository, with pgBackRest's percent complete while it runs",
    tags: ['backups'],
    permission: 'tenants.read',
    params: idParams,
    handler: ({ params }) => services.backups.request(params.id),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/backup-clusters',
    summary: 'The clusters Steward backs up, their policies and last verify',
    tags: ['backups'],
    permission: 'tenants.read',
    query: clusterListQuery,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await services.backups.clusters(),
        (c) => ({ key: c.stanza, id: c.stanza }),
        (items) => ({ clusters: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/backup-clusters/:stanza/verify',
    summary: "Verify a cluster's repositories now (pgbackrest verify); the result is recorded",
    tags: ['backups'],
    permission: 'tenants.write',
    params: stanzaParams,
    handler: ({ params, principal }) => services.backups.verify(params.stanza, principal),
  });
}
