import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';

/** The Steward nodes on this control database (issue 14): thin over the NodeDirectory. */
export function nodeRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/nodes',
    summary:
      'The Steward nodes on this control database (API URL, start, heartbeat age, health: live, late, gone; the leases each holds), and every lease with its epoch',
    tags: ['system'],
    permission: 'tenants.read',
    handler: async () => ({ nodes: await services.nodes.list(), leases: await services.nodes.leases() }),
  });
}
