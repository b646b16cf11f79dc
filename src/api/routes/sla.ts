import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { excludeSchema, htmlToPdf, renderReportHtml, setPolicySchema } from '../../sla/index.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, sendListPage } from '../pagination.ts';

// Path parameters are checked for shape only: a malformed name simply names nothing.
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const reportParams = z
  .object({ tenant: z.string().min(1).max(100), period: z.string().min(1).max(20) })
  .strict();
const reportQuery = z.object({ format: z.enum(['json', 'html', 'pdf']).default('json') }).strict();

const exclusionListQuery = pageQuery({ sorts: ['from'] });
export function slaRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/tenants/:tenant/sla/policy',
    summary:
      "Set a tenant's SLA policy: a new version from effectiveFrom (default now); earlier periods keep the versions they had",
    tags: ['sla'],
    permission: 'tenants.write',
    params: tenantParams,
    body: setPolicySchema,
    status: 201,
    handler: ({ params, body, principal }) => services.sla.setPolicy(params.tenant, body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/sla/policy',
    summary: "A tenant's SLA policy: the version in force and every version",
    tags: ['sla'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantParams,
    handler: ({ params }) => services.sla.showPolicy(params.tenant),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/sla/exclusions',
    summary:
      "Exclude a span from a tenant's SLA: a cause outside the vendor's control, with a reason (audited)",
    tags: ['sla'],
    permission: 'tenants.write',
    params: tenantParams,
    body: excludeSchema,
    status: 201,
    handler: ({ params, body, principal }) => services.sla.exclude(params.tenant, body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/sla/exclusions',
    summary: "A tenant's SLA exclusions",
    tags: ['sla'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantParams,
    query: exclusionListQuery,
    handler: async ({ params, query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await services.sla.exclusions(params.tenant),
        (e) => ({ key: e.from, id: e.id }),
        (items) => ({ exclusions: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/sla/reports/:period/freeze',
    summary:
      "Freeze a closed period's SLA report now, before the automatic freeze a day after its end (audited); a frozen report is answered as it is",
    tags: ['sla'],
    permission: 'tenants.write',
    params: reportParams,
    handler: ({ params, principal }) => services.sla.freeze(params.tenant, params.period, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/sla/reports/:period',
    summary:
      'The SLA report of a month (2026-03), quarter (2026-Q1) or year (2026) as JSON, HTML or PDF; a closed period is frozen by the first report a day after it ends',
    tags: ['sla'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: reportParams,
    query: reportQuery,
    handler: async ({ params, query, principal, reply }) => {
      const report = await services.sla.report(params.tenant, params.period, principal);
      if (query.format === 'json') return report;
      const html = renderReportHtml(report);
      if (query.format === 'html') return reply.type('text/html; charset=utf-8').send(html);
      return reply.type('application/pdf').send(await htmlToPdf(html));
    },
  });
}
