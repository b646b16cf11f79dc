import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, sendListPage } from '../pagination.ts';

// Times, lengths and zones are parsed by the maintenance service, which names what it accepts.
const idParams = z.object({ id: z.string().min(1).max(40) }).strict();
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const tenantQuery = pageQuery({
  sorts: ['id', 'starts'],
  order: 'desc',
  filters: { all: z.enum(['true', 'false']).optional() },
});
const listQuery = pageQuery({
  sorts: ['id', 'starts'],
  order: 'desc',
  filters: {
    all: z.enum(['true', 'false']).optional(),
    tenant: z.string().min(1).max(100).optional(),
  },
});
const addBody = z
  .object({
    tenant: z.string().max(200),
    stage: z.string().max(200).optional(),
    from: z.string().max(40).optional(),
    for: z.union([z.string().max(40), z.number()]).optional(),
    until: z.string().max(40).optional(),
    reason: z.string().max(1000),
  })
  .strict();
const planBody = z
  .object({
    tenant: z.string().max(200),
    stage: z.string().max(200).optional(),
    at: z.string().max(60),
    tz: z.string().max(100).optional(),
    for: z.string().max(40),
    announce: z.union([z.string().max(40), z.number()]).optional(),
    emergency: z.boolean().optional(),
    reason: z.string().max(1000),
  })
  .strict();

export function maintenanceRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const { maintenance } = services;
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/maintenance-windows',
    summary:
      'Maintenance windows that are current or planned (all=true: also past ones), of one tenant or all',
    tags: ['maintenance'],
    permission: 'tenants.read',
    query: listQuery,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await maintenance.list({ all: query.all === 'true', tenant: query.tenant }),
        (w, sort) => ({ key: sort === 'starts' ? w.startsAt : w.id, id: w.id }),
        (items) => ({ windows: items }),
      ),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/maintenance-windows',
    summary:
      "A tenant's maintenance windows as its admins see them: announced or begun, current and planned (all=true: also past ones)",
    tags: ['maintenance'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantParams,
    query: tenantQuery,
    handler: async ({ params, query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await maintenance.forTenant(params.tenant, query.all === 'true'),
        (w, sort) => ({ key: sort === 'starts' ? w.startsAt : w.id, id: w.id }),
        (items) => ({ windows: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/maintenance-windows/plan',
    summary:
      "Plan a window of a tenant (or one stage) at a local time in a zone, for a length, announced to the tenant's contacts `announce` days ahead (emergency: at once)",
    tags: ['maintenance'],
    permission: 'tenants.write',
    body: planBody,
    status: 201,
    handler: ({ body, principal }) => maintenance.plan(body, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/maintenance-windows',
    summary:
      'A maintenance window of a tenant (or one stage) from now or from `from`, for a while or until, with a reason; announced at once; it mutes notifications, checks keep probing',
    tags: ['maintenance'],
    permission: 'tenants.write',
    body: addBody,
    status: 201,
    handler: ({ body, principal }) => maintenance.add(body, principal),
  });
  for (const verb of ['end', 'cancel']) {
    route(app, auth, {
      method: 'POST',
      url: `/api/v1/maintenance-windows/:id/${verb}`,
      summary:
        'End a maintenance window now; a planned one is cancelled (its contacts are told if it was announced)',
      tags: ['maintenance'],
      permission: 'tenants.write',
      params: idParams,
      handler: ({ params, principal }) => maintenance.end(params.id, principal),
    });
  }
}
