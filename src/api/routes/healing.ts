import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendPage } from '../pagination.ts';

const attemptsQuery = pageQuery({
  sorts: ['id'],
  order: 'desc',
  filters: {
    tenant: z.string().min(1).max(100).optional(),
    // Healing records the alert's id as its source gave it (Steward's or Alertmanager's): text.
    alert: z.string().min(1).max(200).optional(),
  },
});

export function healingRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/healing/attempts',
    summary:
      'Self-healing attempts, newest first (of one tenant or one alert): action, target, started, finished, outcome, detail',
    tags: ['healing'],
    permission: 'tenants.read',
    query: attemptsQuery,
    handler: async ({ query, request, reply }) => {
      const page = pageRequest(query);
      const found = await services.healing.listPage({ tenant: query.tenant, alert: query.alert }, page);
      return sendPage({ request, reply }, page, found, (items) => ({ attempts: items }));
    },
  });
}
