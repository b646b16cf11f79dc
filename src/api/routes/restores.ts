import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendListPage, sendPage } from '../pagination.ts';

// Path parameters are checked for shape only: a malformed name simply names nothing.
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const stageParams = z
  .object({ tenant: z.string().min(1).max(100), stage: z.string().min(1).max(100) })
  .strict();
const idParams = z.object({ id: z.string().min(1).max(100) }).strict();

/** A manual restore test reads repo1 unless another repository is named. */
const testBody = z
  .object({ repo: z.number().int().min(1).max(4).optional() })
  .strict()
  .optional();

const restoreBody = z
  .object({
    toTime: z
      .string()
      .min(1)
      .max(64)
      .describe('the point in time, with a UTC offset: "2026-11-23 10:15:00+01" or "2026-11-23T09:15:00Z"'),
    into: z.string().min(1).max(100).optional().describe('a new stage of the tenant to restore into'),
    inPlace: z.boolean().optional().describe('restore onto the stage itself (needs confirm)'),
    confirm: z.string().max(100).optional().describe("for inPlace: the stage's name"),
  })
  .strict();

const testsQuery = pageQuery({
  sorts: ['started'],
  order: 'desc',
  filters: {
    tenant: z.string().min(1).max(100).optional(),
    stage: z.string().min(1).max(100).optional(),
  },
});
const restoreListQuery = pageQuery({ sorts: ['created'], order: 'desc' });

export function restoreRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages/:stage/restores',
    summary:
      'Restore a stage to a point in time, into a new stage or in place (confirm: the stage name); follow it with GET /api/v1/restores/:id',
    tags: ['restores'],
    permission: 'tenants.write',
    params: stageParams,
    body: restoreBody,
    status: 202,
    handler: ({ params, body, principal }) =>
      services.restores.restore(
        params.tenant,
        params.stage,
        {
          toTime: body.toTime,
          ...(body.into !== undefined ? { into: body.into } : {}),
          ...(body.inPlace !== undefined ? { inPlace: body.inPlace } : {}),
          ...(body.confirm !== undefined ? { confirm: body.confirm } : {}),
        },
        principal,
      ),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/restores/:id',
    summary: "A restore's phase and progress, the backup it used, where the files came from, what it kept",
    tags: ['restores'],
    permission: 'tenants.read',
    params: idParams,
    handler: ({ params }) => services.restores.show(params.id),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/restores',
    summary: "A tenant's restores, newest first",
    tags: ['restores'],
    permission: 'tenants.read',
    params: tenantParams,
    query: restoreListQuery,
    handler: async ({ params, query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await services.restores.list(params.tenant),
        (r) => ({ key: r.createdAt, id: r.id }),
        (items) => ({ restores: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/restores/:id/discard',
    summary: 'Drop the database (and files) an in-place restore kept of the stage before it (audited)',
    tags: ['restores'],
    permission: 'tenants.write',
    params: idParams,
    handler: ({ params, principal }) => services.restores.discard(params.id, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages/:stage/restore-tests',
    summary:
      'Run a restore test of a stage now: restore, verify, tear down, record evidence; follow it with GET /api/v1/restore-tests/:id',
    tags: ['restores'],
    permission: 'tenants.write',
    params: stageParams,
    status: 202,
    body: testBody,
    handler: ({ params, body, principal }) =>
      services.restores.requestRestoreTest(
        params.tenant,
        params.stage,
        'manual',
        principal,
        body?.repo !== undefined ? { repo: body.repo } : {},
      ),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/restore-tests',
    summary:
      'Restore tests and their evidence (RPO, RTO, verification), newest first; ?tenant=&stage= narrow',
    tags: ['restores'],
    permission: 'tenants.read',
    query: testsQuery,
    handler: async ({ query, request, reply }) => {
      const page = pageRequest(query);
      const found = await services.restores.tests.restoreTestPage(
        { tenant: query.tenant, stage: query.stage },
        page,
      );
      return sendPage({ request, reply }, page, found, (items) => ({ restoreTests: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/restore-tests/:id',
    summary: 'One restore test and its evidence',
    tags: ['restores'],
    permission: 'tenants.read',
    params: idParams,
    handler: ({ params }) => services.restores.restoreTest(params.id),
  });
}
