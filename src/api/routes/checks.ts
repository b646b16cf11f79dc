import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { addHttpCheckSchema } from '../../monitoring/index.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import type { CheckView } from '../../monitoring/index.ts';
import { pageQuery, sendListPage } from '../pagination.ts';

// Path parameters are checked for shape only: a malformed name simply names nothing.
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const stageParams = z
  .object({ tenant: z.string().min(1).max(100), stage: z.string().min(1).max(100) })
  .strict();
const checkParams = z
  .object({ tenant: z.string().min(1).max(100), id: z.string().regex(/^\d{1,18}$/, 'must be a check id') })
  .strict();

// The order they are listed in: by stage (the tenant's own checks, with no stage, last), then id.
const checkListQuery = pageQuery({ sorts: ['stage', 'id'] });
const checkKey = (c: CheckView, sort: 'stage' | 'id') => ({
  key: sort === 'stage' ? (c.stage ?? '\uffff') : c.id,
  id: c.id,
});

export function checkRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages/:stage/checks',
    summary:
      'Add an HTTP check to a stage: method, path, expected status and body substring, headers, interval (5s to 1h, default 30s), timeout',
    tags: ['checks'],
    permission: 'tenants.write',
    params: stageParams,
    body: addHttpCheckSchema,
    status: 201,
    handler: ({ params, body, principal }) =>
      services.checks.addHttp(params.tenant, params.stage, body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/checks',
    summary: 'Every check of every stage of a tenant: kind, target, interval, state, since, last result',
    tags: ['checks'],
    permission: 'tenants.read',
    params: tenantParams,
    query: checkListQuery,
    handler: async ({ params, query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await services.checks.list(params.tenant),
        checkKey,
        (items) => ({ checks: items }),
      ),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/stages/:stage/checks',
    summary: "A stage's checks",
    tags: ['checks'],
    permission: 'tenants.read',
    params: stageParams,
    query: checkListQuery,
    handler: async ({ params, query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await services.checks.list(params.tenant, params.stage),
        checkKey,
        (items) => ({ checks: items }),
      ),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant/checks/:id',
    summary:
      "Remove an operator's check (its results stay until retention); built-in checks go with their stage",
    tags: ['checks'],
    permission: 'tenants.write',
    params: checkParams,
    handler: async ({ params, principal }) => {
      await services.checks.remove(params.tenant, params.id, principal);
      return { id: params.id, removed: true };
    },
  });
}
