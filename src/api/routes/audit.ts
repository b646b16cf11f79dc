import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';

const listQuery = z
  .object({
    tenant: z.string().min(1).max(100).optional(),
    action: z.string().min(1).max(100).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    after: z
      .string()
      .regex(/^\d{1,18}$/)
      .optional(),
    limit: z.coerce.number().int().min(1).max(5000).default(200),
  })
  .strict();

export function auditRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/audit',
    summary: 'List audit events, oldest first',
    tags: ['audit'],
    permission: 'audit.read',
    query: listQuery,
    handler: async ({ query }) => ({
      events: await services.audit.list({
        ...(query.tenant ? { tenant: query.tenant } : {}),
        ...(query.action ? { action: query.action } : {}),
        ...(query.since ? { since: new Date(query.since) } : {}),
        ...(query.after ? { afterSeq: query.after } : {}),
        limit: query.limit,
      }),
    }),
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
