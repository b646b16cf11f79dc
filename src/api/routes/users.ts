import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { addUserSchema, loginLogQuerySchema, tenantUserParams } from '../../identity/local/schemas.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendPage } from '../pagination.ts';

const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const userListQuery = pageQuery({ sorts: ['created', 'userName'] });
// The login log pages by its own `before` (an event id); `cursor` is the same position, from x-next-cursor.
const loginLogQuery = loginLogQuerySchema.extend({ cursor: z.string().max(1000).optional() });

/**
 * A tenant's end users (`steward user …`) and its login log (`steward
 * login-log`): operators with identity.read / identity.write, and the
 * tenant's own admins for their tenant.
 */
export function userRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const users = services.localUsers.users;
  const base = '/api/v1/tenants/:tenant/users';
  route(app, auth, {
    method: 'GET',
    url: base,
    summary: "List a tenant's users: source, groups, MFA, last sign-in",
    tags: ['users'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: tenantParams,
    query: userListQuery,
    handler: async ({ params, query, request, reply }) => {
      const page = pageRequest(query);
      const found = await users.listPage(params.tenant, page);
      return sendPage({ request, reply }, page, found, (items) => ({ users: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: `${base}/:userName`,
    summary: 'Show one user',
    tags: ['users'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: tenantUserParams,
    handler: ({ params }) => users.show(params.tenant, params.userName),
  });
  route(app, auth, {
    method: 'POST',
    url: base,
    summary: 'Add a local user; an invitation to set a password is mailed',
    tags: ['users'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantParams,
    body: addUserSchema,
    status: 201,
    handler: ({ params, body, principal }) => users.add(params.tenant, body, principal),
  });
  const action = (
    path: string,
    summary: string,
    run: (
      tenant: string,
      userName: string,
      principal: Parameters<typeof users.invite>[2],
    ) => Promise<unknown>,
  ): void =>
    route(app, auth, {
      method: 'POST',
      url: `${base}/:userName/${path}`,
      summary,
      tags: ['users'],
      permission: 'identity.write',
      tenantAdmin: true,
      params: tenantUserParams,
      handler: ({ params, principal }) => run(params.tenant, params.userName, principal),
    });
  action('invite', 'Mail a local user a new invitation (the older link stops working)', (t, u, p) =>
    users.invite(t, u, p),
  );
  action('reset-password', 'Mail a local user a password reset link', (t, u, p) =>
    users.resetPassword(t, u, p),
  );
  action(
    'reset-mfa',
    "Turn a local user's TOTP off and remove the security keys (a lost phone or key)",
    (t, u, p) => users.resetMfa(t, u, p),
  );
  action('disable', 'Disable a user: no sign-in, sessions revoked, memberships kept', (t, u, p) =>
    users.setActive(t, u, false, p),
  );
  action('enable', 'Enable a disabled user', (t, u, p) => users.setActive(t, u, true, p));
  action('revoke-sessions', "End a user's sessions everywhere", (t, u, p) => users.revokeSessions(t, u, p));
  route(app, auth, {
    method: 'DELETE',
    url: `${base}/:userName`,
    summary: 'Delete a user (memberships and credentials go with it; the login log keeps its lines)',
    tags: ['users'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantUserParams,
    handler: async ({ params, principal }) => {
      await users.remove(params.tenant, params.userName, principal);
      return { deleted: params.userName };
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/login-log',
    summary: "A tenant's sign-ins and failures, MFA changes and resets, newest first",
    tags: ['users'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: tenantParams,
    query: loginLogQuery,
    handler: async ({ params, query, request, reply }) => {
      const tenant = await users.tenant(params.tenant);
      const page = pageRequest({
        limit: query.limit ?? 100,
        sort: 'id',
        order: 'desc',
        cursor: query.cursor,
      });
      const found = await services.localUsers.log.list({
        tenantId: tenant.id,
        since: query.since,
        userName: query.user,
        outcome: query.outcome,
        before: page.after?.id ?? query.before,
        limit: page.limit,
      });
      const next = found.nextBefore === null ? {} : { next: { key: found.nextBefore, id: found.nextBefore } };
      return sendPage({ request, reply }, page, { items: [], ...next }, () => found);
    },
  });
}
