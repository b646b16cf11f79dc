import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { maxScimTokenDays } from '../../identity/scim/index.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, sendListPage } from '../pagination.ts';

/** A tenant's SCIM tokens and its groups (issue 13): thin over the services, reachable by the tenant's admins. */
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const tokenParams = z.object({ tenant: z.string().min(1).max(100), id: z.string().min(1).max(30) }).strict();
const tokenListQuery = pageQuery({ sorts: ['id'] });
const createBody = z
  .object({
    name: z.string().min(1).max(64).optional(),
    expiresInDays: z.number().int().min(1).max(maxScimTokenDays).optional(),
  })
  .strict();

export function scimRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/scim-tokens',
    summary: "Create a SCIM token for the tenant's identity provider (shown once, in this answer only)",
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantParams,
    body: createBody,
    status: 201,
    handler: ({ params, body, principal }) => services.scimTokens.create(principal, params.tenant, body),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/scim-tokens',
    summary: "The tenant's SCIM tokens (never the tokens themselves)",
    tags: ['identity'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: tenantParams,
    query: tokenListQuery,
    handler: async ({ params, query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await services.scimTokens.list(params.tenant),
        (t) => ({ key: t.id, id: t.id }),
        (items) => ({ tokens: items }),
      ),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant/scim-tokens/:id',
    summary: 'Revoke a SCIM token: the identity provider holding it is refused from now on',
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tokenParams,
    handler: ({ params, principal }) => services.scimTokens.revoke(principal, params.tenant, params.id),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/groups',
    summary: "The tenant's groups (from SCIM, directory sync or made locally), with their member counts",
    tags: ['identity'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: tenantParams,
    query: z
      .object({
        startIndex: z.coerce.number().int().min(1).optional(),
        count: z.coerce.number().int().min(0).max(1000).optional(),
      })
      .strict(),
    handler: async ({ params, query }) => {
      const directory = services.directory;
      const tenantId = await directory.tenantId(params.tenant);
      const page = await directory.listGroups(tenantId, query);
      const counts = await directory.memberCounts(page.items.map((g) => g.id));
      return {
        total: page.total,
        startIndex: page.startIndex,
        groups: page.items.map((g) => ({
          id: g.id,
          displayName: g.displayName,
          externalId: g.externalId,
          source: g.source,
          members: counts.get(g.id) ?? 0,
          createdAt: g.createdAt.toISOString(),
          updatedAt: g.updatedAt.toISOString(),
        })),
      };
    },
  });
}
