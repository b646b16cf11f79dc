import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';

// Group and role names are checked by the role service, which names what it accepts.
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const listQuery = z.object({ stage: z.string().min(1).max(100).optional() }).strict();
const setBody = z
  .object({
    stage: z.string().min(1).max(100).optional(),
    group: z.string().max(1000),
    role: z.string().max(1000),
  })
  .strict();
const removeQuery = z
  .object({
    stage: z.string().min(1).max(100).optional(),
    group: z.string().max(1000),
    role: z.string().max(1000).optional(),
  })
  .strict();

export function identityRoleRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const { roles } = services;
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/identity/roles',
    summary:
      "The tenant's group-to-role mappings; with stage, those that apply on it (its own and those of all stages)",
    tags: ['identity'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: tenantParams,
    query: listQuery,
    handler: async ({ params, query }) => ({ mappings: await roles.list(params.tenant, query.stage) }),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/identity/roles',
    summary:
      'Map a group (display name, without regard to case) to an app role on one stage, or on all stages without stage; 201 when added, 200 when it was there',
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantParams,
    body: setBody,
    handler: async ({ params, body, principal, reply }) => {
      const { mapping, created } = await roles.set(params.tenant, body, principal);
      void reply.code(created ? 201 : 200);
      return { ...mapping, created };
    },
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant/identity/roles',
    summary:
      "Remove a group's mapping to a role (without role: to every role) on exactly that stage, or the all-stages ones without stage",
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantParams,
    query: removeQuery,
    handler: ({ params, query, principal }) => roles.remove(params.tenant, query, principal),
  });
}
