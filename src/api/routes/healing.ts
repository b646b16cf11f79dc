import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';

const attemptsQuery = z
  .object({
    tenant: z.string().min(1).max(100).optional(),
    alert: z.string().min(1).max(100).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

export function healingRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/healing/attempts',
    summary:
      'Self-healing attempts, newest first (of one tenant or one alert): action, target, started, finished, outcome, detail',
    tags: ['healing'],
    permission: 'tenants.read',
    query: attemptsQuery,
    handler: async ({ query }) => ({ attempts: await services.healing.list(query) }),
  });
}
