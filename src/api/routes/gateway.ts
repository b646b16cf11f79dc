import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { stageNameSchema } from '../../tenants/schemas.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, sendListPage } from '../pagination.ts';

const stageParams = z.object({ tenant: z.string().min(1).max(100), stage: stageNameSchema }).strict();
const domainParams = z.object({ domain: z.string().min(1).max(253) }).strict();
const stageDomainParams = stageParams.extend({ domain: z.string().min(1).max(253) }).strict();
const accessBody = z
  .object({
    /** CIDRs that may reach the stage; null lets everyone in. */
    allowFrom: z.array(z.string().min(1).max(64)).max(256).nullable().optional(),
    maintenance: z.boolean().optional(),
  })
  .strict();
const certificateBody = z
  .object({
    cert: z
      .string()
      .min(1)
      .max(64 * 1024),
    key: z
      .string()
      .min(1)
      .max(16 * 1024),
  })
  .strict();

const routeListQuery = pageQuery({ sorts: ['host'] });
const certificateListQuery = pageQuery({ sorts: ['domain'] });

export function gatewayRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const { gateway } = services;
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/routes',
    summary:
      'The routes every gateway serves: host to tenant, stage, published port, allow list, maintenance',
    tags: ['gateway'],
    permission: 'tenants.read',
    query: routeListQuery,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await gateway.listRoutes(),
        (r) => ({ key: r.host, id: r.host }),
        (items) => ({ baseDomain: gateway.baseDomain, routes: items }),
      ),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/stages/:stage/gateway',
    summary: "A stage's allow list, maintenance flag and custom domains",
    tags: ['gateway'],
    permission: 'tenants.read',
    params: stageParams,
    handler: ({ params }) => gateway.stageAccess(params.tenant, params.stage),
  });
  route(app, auth, {
    method: 'PATCH',
    url: '/api/v1/tenants/:tenant/stages/:stage/gateway',
    summary: 'Set who may reach a stage (CIDRs; null: everyone) and whether it shows the maintenance page',
    tags: ['gateway'],
    permission: 'tenants.write',
    params: stageParams,
    body: accessBody,
    handler: ({ params, body, principal }) =>
      gateway.configureStage(params.tenant, params.stage, body, principal),
  });
  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/tenants/:tenant/stages/:stage/domains/:domain',
    summary: 'Add a custom domain to a stage',
    tags: ['gateway'],
    permission: 'tenants.write',
    params: stageDomainParams,
    handler: ({ params, principal }) =>
      gateway.addDomain(params.tenant, params.stage, params.domain, principal),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tenants/:tenant/stages/:stage/domains/:domain',
    summary: 'Remove a custom domain from a stage',
    tags: ['gateway'],
    permission: 'tenants.write',
    params: stageDomainParams,
    handler: ({ params, principal }) =>
      gateway.removeDomain(params.tenant, params.stage, params.domain, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/certificates',
    summary: "Operators' TLS certificates installed in the gateway",
    tags: ['gateway'],
    permission: 'tenants.read',
    query: certificateListQuery,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await gateway.listCertificates(),
        (c) => ({ key: c.domain, id: c.domain }),
        (items) => ({ certificates: items }),
      ),
  });
  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/certificates/:domain',
    summary:
      'Install or replace the certificate and key for a domain or wildcard (*.example.com); the key is kept sealed',
    tags: ['gateway'],
    permission: 'certificates.write',
    params: domainParams,
    body: certificateBody,
    handler: ({ params, body, principal }) =>
      gateway.setCertificate(params.domain, body.cert, body.key, principal),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/certificates/:domain',
    summary: "Remove an installed certificate (hosts fall back to certificates from Steward's CA)",
    tags: ['gateway'],
    permission: 'certificates.write',
    params: domainParams,
    handler: async ({ params, principal }) => {
      await gateway.removeCertificate(params.domain, principal);
      return { removed: params.domain.toLowerCase() };
    },
  });
}
