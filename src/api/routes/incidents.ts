import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import { incidentSorts, incidentStatuses, severityRules } from '../../incidents/index.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendPage } from '../pagination.ts';

// Values are checked by the service, which names what it accepts; here only their shape.
const incidentParams = z.object({ id: z.string().min(1).max(40) }).strict();
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const tenantIncidentParams = tenantParams.extend({ id: z.string().min(1).max(40) }).strict();
const incidentFilters = {
  open: z.enum(['true', 'false']).optional(),
  status: z.enum(incidentStatuses).optional(),
  severity: z.coerce.number().int().min(1).max(4).optional(),
};
const tenantListQuery = pageQuery({ sorts: incidentSorts, order: 'desc', filters: incidentFilters });
const listQuery = pageQuery({
  sorts: incidentSorts,
  order: 'desc',
  filters: { ...incidentFilters, tenant: z.string().min(1).max(100).optional() },
});
const openBody = z
  .object({
    tenant: z.string().min(1).max(100).optional(),
    stage: z.string().min(1).max(100).optional(),
    severity: z.unknown(),
    title: z.string().max(400),
    fromAlert: z.string().min(1).max(40).optional(),
    security: z.boolean().optional(),
    owner: z.string().max(200).optional(),
    note: z.string().max(8000).optional(),
  })
  .strict();
const updateBody = z
  .object({
    status: z.string().max(40).optional(),
    severity: z.unknown().optional(),
    note: z.string().max(8000),
    public: z.boolean().optional(),
  })
  .strict();
const ownerBody = z.object({ owner: z.string().max(200) }).strict();
const linkBody = z.object({ alert: z.string().min(1).max(40) }).strict();
const postmortemBody = z.object({ document: z.string().max(70_000) }).strict();
const breachBody = z.object({ at: z.string().max(100).optional() }).strict();
const noticeBody = z
  .object({ party: z.string().max(40), who: z.string().max(1000), at: z.string().max(100).optional() })
  .strict();
const termsParams = z.object({ slug: z.string().min(1).max(100) }).strict();
const termsBody = z.object({ customerNoticeHours: z.unknown() }).strict();
const postsQuery = z
  .object({
    since: z.iso.datetime({ offset: true }).optional(),
    tenant: z.string().min(1).max(100).optional(),
  })
  .strict();

export function incidentRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const { incidents } = services;
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/incidents',
    summary: 'Incidents, newest first: open only (not closed), or of one tenant',
    tags: ['incidents'],
    permission: 'tenants.read',
    query: listQuery,
    handler: async ({ query, request, reply }) => {
      const page = pageRequest(query);
      const { tenant, status, severity } = query;
      const found = await incidents.listPage({ open: query.open === 'true', tenant, status, severity }, page);
      return sendPage({ request, reply }, page, found, (items) => ({ incidents: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/incidents',
    summary: "A tenant's incidents, newest first (its admins read them too)",
    tags: ['incidents'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantParams,
    query: tenantListQuery,
    handler: async ({ params, query, request, reply }) => {
      const page = pageRequest(query);
      const { status, severity } = query;
      const found = await incidents.listPage(
        { open: query.open === 'true', tenant: params.tenant, status, severity },
        page,
      );
      return sendPage({ request, reply }, page, found, (items) => ({ incidents: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/incidents/:id',
    summary:
      "One incident of a tenant: severity, status, deadlines, postmortem (not Steward's internal timeline)",
    tags: ['incidents'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantIncidentParams,
    handler: async ({ params }) => {
      const incident = await incidents.get(params.id);
      // Another tenant's incident does not exist here: the answer is the same as for an unknown id.
      if (incident.tenant !== params.tenant) {
        throw new NotFoundError(`tenant ${params.tenant} has no incident ${params.id}`, { field: 'id' });
      }
      return incident;
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/incidents/severities',
    summary: 'The written rules that classify an incident as severity 1 to 4',
    tags: ['incidents'],
    permission: 'tenants.read',
    handler: () => Promise.resolve({ severities: severityRules }),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/incidents/posts',
    summary: 'Status-page posts (public incident updates) since a time (default: 90 days), newest first',
    tags: ['incidents'],
    permission: 'tenants.read',
    query: postsQuery,
    handler: async ({ query }) => ({
      posts: await incidents.posts({
        since: query.since ? new Date(query.since) : new Date(Date.now() - 90 * 86_400_000),
        tenant: query.tenant,
      }),
    }),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/incidents',
    summary: 'Open an incident by hand or from an alert (which it links, with its check and stage)',
    tags: ['incidents'],
    permission: 'tenants.write',
    body: openBody,
    status: 201,
    handler: ({ body, principal }) =>
      incidents.open({ ...body, severity: body.severity, title: body.title }, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/incidents/:id',
    summary: 'One incident with its timeline: updates, alerts, notifications, status-page posts, deadlines',
    tags: ['incidents'],
    permission: 'tenants.read',
    params: incidentParams,
    handler: ({ params }) => incidents.show(params.id),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/incidents/:id/updates',
    summary: 'A status change and/or a note on the timeline; public: true makes it a status-page post',
    tags: ['incidents'],
    permission: 'tenants.write',
    params: incidentParams,
    body: updateBody,
    handler: ({ params, body, principal }) => incidents.update(params.id, body, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/incidents/:id/owner',
    summary: 'Assign the incident to a person',
    tags: ['incidents'],
    permission: 'tenants.write',
    params: incidentParams,
    body: ownerBody,
    handler: ({ params, body, principal }) => incidents.assign(params.id, body.owner, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/incidents/:id/alerts',
    summary: 'Link another alert (and its check) to the incident',
    tags: ['incidents'],
    permission: 'tenants.write',
    params: incidentParams,
    body: linkBody,
    handler: ({ params, body, principal }) => incidents.linkAlert(params.id, body.alert, principal),
  });
  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/incidents/:id/postmortem',
    summary:
      'The post-mortem as YAML or JSON text: cause, impact (slaMinutes, summary), actions (what, owner, due), checks (what, why)',
    tags: ['incidents'],
    permission: 'tenants.write',
    params: incidentParams,
    body: postmortemBody,
    handler: ({ params, body, principal }) => incidents.postmortem(params.id, body.document, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/incidents/:id/close',
    summary: 'Close a resolved incident (severity 1-2 need a post-mortem first)',
    tags: ['incidents'],
    permission: 'tenants.write',
    params: incidentParams,
    handler: ({ params, principal }) => incidents.close(params.id, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/incidents/:id/breach',
    summary: "A security incident's breach is confirmed (at a time, default now): the notice deadlines start",
    tags: ['incidents'],
    permission: 'tenants.write',
    params: incidentParams,
    body: breachBody,
    handler: ({ params, body, principal }) => incidents.confirmBreach(params.id, body.at, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/incidents/:id/notices',
    summary: 'Record who told the affected customers or the supervisory authority, and when',
    tags: ['incidents'],
    permission: 'tenants.write',
    params: incidentParams,
    body: noticeBody,
    handler: ({ params, body, principal }) => incidents.notified(params.id, body, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:slug/incident-terms',
    summary:
      "The tenant's notice terms for security incidents (customers: contract or default; authority: 72 h)",
    tags: ['incidents'],
    permission: 'tenants.read',
    params: termsParams,
    handler: ({ params }) => incidents.terms(params.slug),
  });
  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/tenants/:slug/incident-terms',
    summary: "Set the tenant's contract term for telling affected customers of a confirmed breach",
    tags: ['incidents'],
    permission: 'tenants.write',
    params: termsParams,
    body: termsBody,
    handler: ({ params, body, principal }) =>
      incidents.setTerms(params.slug, body.customerNoticeHours, principal),
  });
}
