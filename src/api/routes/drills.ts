import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { stageDrillKinds } from '../../drills/plan.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendPage } from '../pagination.ts';

// Path parameters are checked for shape only: a malformed name simply names nothing.
const stageParams = z
  .object({ tenant: z.string().min(1).max(100), stage: z.string().min(1).max(100) })
  .strict();
const idParams = z.object({ id: z.string().min(1).max(100) }).strict();
const listQuery = pageQuery({
  sorts: ['started'],
  order: 'desc',
  filters: { tenant: z.string().min(1).max(100).optional() },
});

const drillBody = z
  .object({
    kind: z
      .enum(stageDrillKinds)
      .default('kill')
      .describe(
        'kill: SIGKILL the primary member (its Patroni and PostgreSQL); switchover: a planned handover',
      ),
  })
  .strict()
  .prefault({});

export function drillRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages/:stage/drills',
    summary:
      "A failover drill of an ha stage's cluster under a write load: writes-resume time, lost commits, rejoin, kept as evidence; follow it with GET /api/v1/drills/:id",
    tags: ['drills'],
    permission: 'tenants.write',
    params: stageParams,
    body: drillBody,
    status: 202,
    handler: ({ params, body, principal }) =>
      services.drills.failover(params.tenant, params.stage, body.kind, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/drills/:id',
    summary: 'One drill: its phase while it runs, its measurements once it ended',
    tags: ['drills'],
    permission: 'tenants.read',
    params: idParams,
    handler: ({ params }) => services.drills.show(params.id),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/drills',
    summary: 'Drills, newest first; ?tenant= narrows to one tenant',
    tags: ['drills'],
    permission: 'tenants.read',
    query: listQuery,
    handler: async ({ query, request, reply }) => {
      const page = pageRequest(query);
      const drills = await services.drills.listPage(query.tenant, page);
      return sendPage({ request, reply }, page, drills, (items) => ({ drills: items }));
    },
  });
}
