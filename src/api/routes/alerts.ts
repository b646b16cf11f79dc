import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendListPage, sendPage } from '../pagination.ts';
import { alertSeverities, alertSorts, alertSources, alertStatuses } from '../../alerts/index.ts';

// Values are checked by the service, which names what it accepts; here only their shape.
const alertParams = z.object({ id: z.string().min(1).max(40) }).strict();
const listQuery = pageQuery({
  sorts: alertSorts,
  order: 'desc',
  filters: {
    open: z.enum(['true', 'false']).optional(),
    status: z.enum(alertStatuses).optional(),
    severity: z.enum(alertSeverities).optional(),
    source: z.enum(alertSources).optional(),
    tenant: z.string().min(1).max(100).optional(),
    stage: z.string().min(1).max(100).optional(),
  },
});
const resolveBody = z.object({ note: z.string().max(2000) }).strict();
const idParams = z.object({ id: z.string().min(1).max(40) }).strict();
// Durations and times are parsed by the silence service, which names what it accepts.
const muteBody = z
  .object({
    tenant: z.string().max(200),
    stage: z.string().max(200).optional(),
    for: z.union([z.string().max(40), z.number()]).optional(),
    until: z.string().max(40).optional(),
    reason: z.string().max(1000),
  })
  .strict();
const allQuery = pageQuery({
  sorts: ['id'],
  order: 'desc',
  filters: { all: z.enum(['true', 'false']).optional() },
});

export function alertRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const { alerts } = services;
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/alerts',
    summary: 'Alerts, newest first: open only, or by status, severity, source, tenant and stage',
    tags: ['alerts'],
    permission: 'tenants.read',
    query: listQuery,
    handler: async ({ query, request, reply }) => {
      const page = pageRequest(query);
      const { status, severity, source, tenant, stage } = query;
      const found = await alerts.listPage(
        { open: query.open === 'true', status, severity, source, tenant, stage },
        page,
      );
      return sendPage({ request, reply }, page, found, (items) => ({ alerts: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/alerts/:id',
    summary:
      'One alert: what raised it, what was seen, when it fired, who was told, acknowledged and resolved it',
    tags: ['alerts'],
    permission: 'tenants.read',
    params: alertParams,
    handler: ({ params }) => alerts.get(params.id),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/alerts/:id/ack',
    summary: 'Acknowledge a firing alert: a person took it (escalation stops)',
    tags: ['alerts'],
    permission: 'tenants.write',
    params: alertParams,
    handler: ({ params, principal }) => alerts.acknowledge(params.id, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/alerts/:id/resolve',
    summary: 'Resolve an open alert by hand, with a note saying why',
    tags: ['alerts'],
    permission: 'tenants.write',
    params: alertParams,
    body: resolveBody,
    handler: ({ params, body, principal }) => alerts.resolve(params.id, principal, body.note),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/alerts/rules',
    summary: 'The alert rules over checks, in the order they are tried (first match wins)',
    tags: ['alerts'],
    permission: 'tenants.read',
    handler: () => Promise.resolve({ rules: alerts.rules() }),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/silences',
    summary: 'Silences that are current or planned (all=true: also ended and removed ones)',
    tags: ['alerts'],
    permission: 'tenants.read',
    query: allQuery,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await alerts.silences.list({ all: query.all === 'true' }),
        (s) => ({ key: s.id, id: s.id }),
        (items) => ({ silences: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/silences',
    summary:
      "Mute the notifications of a tenant's alerts (or one stage's) for a while (for: 2h, or until), with a reason; the alerts are still recorded",
    tags: ['alerts'],
    permission: 'tenants.write',
    body: muteBody,
    status: 201,
    handler: ({ body, principal }) => alerts.silences.add(body, principal),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/silences/:id',
    summary: 'Remove a silence: alerts it muted are told from now on',
    tags: ['alerts'],
    permission: 'tenants.write',
    params: idParams,
    handler: ({ params, principal }) => alerts.silences.remove(params.id, principal),
  });
}
