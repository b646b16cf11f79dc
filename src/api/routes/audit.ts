import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendPage } from '../pagination.ts';

// Its callers (steward audit list, reports) already ask for up to 5,000 events, 200 by default.
const listQuery = pageQuery({
  sorts: ['seq'],
  limit: { default: 200, max: 5000 },
  filters: {
    tenant: z.string().min(1).max(100).optional(),
    action: z.string().min(1).max(100).optional(),
    actor: z.string().min(1).max(200).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    after: z
      .string()
      .regex(/^\d{1,18}$/)
      .optional(),
  },
});

export function auditRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/audit',
    summary: 'List audit events, oldest first, by tenant, action, actor and time',
    tags: ['audit'],
    permission: 'audit.read',
    query: listQuery,
    handler: async ({ query, request, reply }) => {
      const page = pageRequest(query);
      const events = await services.audit.listPage(
        {
          ...(query.tenant ? { tenant: query.tenant } : {}),
          ...(query.action ? { action: query.action } : {}),
          ...(query.actor ? { actor: query.actor } : {}),
          ...(query.since ? { since: new Date(query.since) } : {}),
          ...(query.until ? { until: new Date(query.until) } : {}),
          ...(query.after ? { afterSeq: query.after } : {}),
        },
        page,
      );
      return sendPage({ request, reply }, page, events, (items) => ({ events: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/audit/verify',
    summary: 'Verify the audit log: hashes, MACs, the newest signed checkpoint and the chain head',
    tags: ['audit'],
    permission: 'audit.read',
    handler: () => services.audit.verify(),
  });
}
