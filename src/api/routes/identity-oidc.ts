import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { addConnectionSchema, resolveConnection } from '../../identity/oidc/index.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, sendListPage } from '../pagination.ts';

const tenantParams = z.object({ tenant: z.string().min(1).max(63) }).strict();
const connectionParams = tenantParams.extend({ name: z.string().min(1).max(40) }).strict();

const connectionListQuery = pageQuery({ sorts: ['name'] });

/** A tenant's OIDC connections (issue 13): thin over the OIDC store; tenant admins reach their own tenant's. */
export function identityOidcRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const store = services.oidc.store;
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/identity/oidc',
    summary: "A tenant's OIDC connections (no secrets)",
    tags: ['identity'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: tenantParams,
    query: connectionListQuery,
    handler: async ({ params, query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await store.list(params.tenant),
        (c) => ({ key: c.name, id: c.name }),
        (items) => ({ connections: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/identity/oidc',
    summary:
      'Add an OIDC connection (generic, entra or okta); the client secret is sealed, never shown again',
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantParams,
    body: addConnectionSchema,
    status: 201,
    handler: ({ params, body, principal }) =>
      store.add(params.tenant, resolveConnection(body), body.clientSecret, principal),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant/identity/oidc/:name',
    summary: 'Remove an OIDC connection (its users keep their directory accounts)',
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: connectionParams,
    handler: ({ params, principal }) => store.remove(params.tenant, params.name, principal),
  });
}
