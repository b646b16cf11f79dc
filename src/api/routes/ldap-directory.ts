import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { setDirectorySchema, type LdapSyncService } from '../../identity/ldap/index.ts';
import { route, type Authenticator } from '../route.ts';

// Path parameters are checked for shape only: a malformed name simply names nothing.
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const runParams = z.object({ tenant: z.string().min(1).max(100), run: z.string().min(1).max(20) }).strict();
const showQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).optional() }).strict();

/** A tenant's LDAP / Active Directory sync (issue 13, part 5): its admins may call every route for their tenant. */
export function ldapDirectoryRoutes(app: FastifyInstance, auth: Authenticator, ldap: LdapSyncService): void {
  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/tenants/:tenant/directory',
    summary:
      "Set the tenant's LDAP / Active Directory to sync users and groups from (the bind password is kept encrypted and never shown); queues a first sync",
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantParams,
    body: setDirectorySchema,
    handler: ({ params, body, principal }) => ldap.set(params.tenant, body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/directory',
    summary: "The tenant's LDAP directory settings and its last sync runs, newest first",
    tags: ['identity'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: tenantParams,
    query: showQuery,
    handler: ({ params, query }) => ldap.show(params.tenant, query.limit),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant/directory',
    summary: "Stop syncing from the tenant's LDAP directory (the users it made stay)",
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantParams,
    handler: ({ params, principal }) => ldap.remove(params.tenant, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/directory/sync',
    summary: 'Sync now: the run is queued; follow it with GET …/directory (a run started after requestedAt)',
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantParams,
    status: 202,
    handler: ({ params, principal }) => ldap.requestSync(params.tenant, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/directory/runs/:run',
    summary: 'One directory sync run: its progress while it runs, then what it changed',
    tags: ['identity'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: runParams,
    handler: ({ params }) => ldap.run(params.tenant, params.run),
  });
}
