import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { maxBreakGlassMinutes, maxInvitationHours } from '../../identity/admins/index.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, sendListPage } from '../pagination.ts';

const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const adminParams = tenantParams.extend({ email: z.string().min(1).max(320) }).strict();
const stageParams = tenantParams.extend({ stage: z.string().min(1).max(63) }).strict();
const idParams = z.object({ id: z.string().min(1).max(20) }).strict();
const adminListQuery = pageQuery({ sorts: ['email'] });
const grantListQuery = pageQuery({ sorts: ['id'], order: 'desc' });
const inviteBody = z
  .object({
    email: z.string().min(1).max(320),
    expiresInHours: z.number().int().min(1).max(maxInvitationHours).optional(),
  })
  .strict();
const acceptBody = z
  .object({ token: z.string().min(1).max(100), password: z.string().min(1).max(256) })
  .strict();
const openBody = z
  .object({
    reason: z.string().min(1).max(2000),
    minutes: z.number().int().min(1).max(maxBreakGlassMinutes).optional(),
  })
  .strict();

/** Tenant admins (the customer's IT) and operators' break-glass access into a tenant's stage (issue 13). */
export function tenantAdminRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const { tenantAdmins, breakGlass } = services;
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/admins',
    summary:
      'Invite a tenant admin: the invitation is mailed (single use); the admin sets a password and enrols TOTP',
    tags: ['tenant-admins'],
    permission: 'tenants.write',
    params: tenantParams,
    body: inviteBody,
    status: 201,
    handler: ({ params, body, principal }) => tenantAdmins.invite(params.tenant, body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/admins',
    summary: "A tenant's admins",
    tags: ['tenant-admins'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantParams,
    query: adminListQuery,
    handler: async ({ params, query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await tenantAdmins.list(params.tenant),
        (a) => ({ key: a.email, id: a.email }),
        (items) => ({ admins: items }),
      ),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant/admins/:email',
    summary: 'Remove a tenant admin; its tokens end with it',
    tags: ['tenant-admins'],
    permission: 'tenants.write',
    params: adminParams,
    handler: ({ params, principal }) => tenantAdmins.remove(params.tenant, params.email, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/auth/tenant-admin/accept',
    summary: 'Accept a tenant admin invitation with its code and a new password; returns a session token',
    tags: ['auth'],
    permission: 'public',
    body: acceptBody,
    status: 201,
    handler: ({ body, address }) => tenantAdmins.accept(body.token, body.password, address),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/status',
    summary:
      "A tenant's status as its admins see it: each stage's phase, since when it is ready, whether it is paused",
    tags: ['tenant-admins'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantParams,
    handler: async ({ params }) => {
      // Not the operators' view (database names, file paths): only what the tenant's people can act on.
      const tenant = await services.tenants.show(params.tenant);
      return {
        tenant: tenant.slug,
        displayName: tenant.displayName,
        region: tenant.region,
        phase: tenant.phase,
        stages: tenant.stages.map((s) => ({
          name: s.name,
          phase: s.phase,
          readyAt: s.readyAt,
          paused: s.paused,
        })),
      };
    },
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages/:stage/break-glass',
    summary:
      'Open break-glass access into a stage that requires sign-in (a reason, at most 8 h); returns a one-time link',
    tags: ['break-glass'],
    permission: 'tenants.write',
    params: stageParams,
    body: openBody,
    status: 201,
    handler: ({ params, body, principal }) => breakGlass.open(params.tenant, params.stage, body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/break-glass',
    summary: "Break-glass access into a tenant's stages, newest first (visible to the tenant's admins)",
    tags: ['break-glass'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantParams,
    query: grantListQuery,
    handler: async ({ params, query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await breakGlass.list(params.tenant),
        (g) => ({ key: g.id, id: g.id }),
        (items) => ({ grants: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/break-glass/:id/close',
    summary: 'Close break-glass access before its time; its session ends at once',
    tags: ['break-glass'],
    permission: 'tenants.write',
    params: idParams,
    handler: ({ params, principal }) => breakGlass.close(params.id, principal),
  });
}
