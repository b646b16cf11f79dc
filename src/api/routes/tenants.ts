import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  addStageSchema,
  contactSchema,
  createTenantSchema,
  stageNameSchema,
  tiers,
} from '../../tenants/schemas.ts';
import { stagePhases } from '../../tenants/service.ts';
import { tenantSorts } from '../../tenants/list.ts';
import { pageQuery, pageRequest, sendPage } from '../pagination.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { withReplication } from '../../databases/patroni/index.ts';

// Path parameters are checked for shape only: a malformed name simply names no tenant.
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const contactParams = z
  .object({ tenant: z.string().min(1).max(100), email: z.string().min(1).max(254) })
  .strict();
const stageParams = z.object({ tenant: z.string().min(1).max(100), stage: stageNameSchema }).strict();

const tenantListQuery = pageQuery({
  sorts: tenantSorts,
  filters: {
    q: z.string().min(1).max(100).optional(),
    phase: z.enum(stagePhases).optional(),
    tier: z.enum(tiers).optional(),
    region: z.string().min(1).max(64).optional(),
  },
});

export function tenantRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants',
    summary: 'Create a tenant with its stages',
    tags: ['tenants'],
    permission: 'tenants.write',
    body: createTenantSchema,
    status: 201,
    handler: ({ body, principal }) => services.tenants.create(body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants',
    summary: 'List tenants',
    tags: ['tenants'],
    permission: 'tenants.read',
    query: tenantListQuery,
    handler: async ({ query, request, reply }) => {
      const page = pageRequest(query);
      const { q, phase, tier, region } = query;
      const tenants = await services.tenants.listPage({ q, phase, tier, region }, page);
      return sendPage({ request, reply }, page, tenants, (items) => ({ tenants: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant',
    summary: 'Show a tenant, its stages, their phases, backup freshness and (ha) replication mode',
    tags: ['tenants'],
    permission: 'tenants.read',
    params: tenantParams,
    // With the machine's isolation: what separates this tenant's stages from the others'.
    handler: async ({ params }) => ({
      ...(await withReplication(
        services.ha,
        await services.backups.withFreshness(await services.tenants.show(params.tenant)),
      )),
      isolation: services.isolation,
    }),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant',
    summary: 'Delete a tenant: its databases, roles, files and secrets',
    tags: ['tenants'],
    permission: 'tenants.write',
    params: tenantParams,
    status: 202,
    handler: ({ params, principal }) => services.tenants.delete(params.tenant, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/contacts',
    summary:
      "Add a tenant's contact, or change the one with its email (technical contacts hear of planned maintenance)",
    tags: ['tenants'],
    permission: 'tenants.write',
    params: tenantParams,
    body: contactSchema,
    handler: ({ params, body, principal }) => services.tenants.setContact(params.tenant, body, principal),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant/contacts/:email',
    summary: "Remove a tenant's contact",
    tags: ['tenants'],
    permission: 'tenants.write',
    params: contactParams,
    handler: ({ params, principal }) =>
      services.tenants.removeContact(params.tenant, params.email, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages',
    summary: 'Add a stage to a tenant',
    tags: ['stages'],
    permission: 'tenants.write',
    params: tenantParams,
    body: addStageSchema,
    status: 201,
    handler: ({ params, body, principal }) => services.tenants.addStage(params.tenant, body, principal),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant/stages/:stage',
    summary: 'Remove a stage: its database, role, files and secrets',
    tags: ['stages'],
    permission: 'tenants.write',
    params: stageParams,
    status: 202,
    handler: ({ params, principal }) => services.tenants.removeStage(params.tenant, params.stage, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/stages/:stage/credentials',
    summary: "The stage's DATABASE_URL (audited)",
    tags: ['stages'],
    permission: 'credentials.read',
    params: stageParams,
    handler: ({ params, principal }) => services.tenants.credentials(params.tenant, params.stage, principal),
  });
}
