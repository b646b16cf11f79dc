import type { FastifyInstance } from 'fastify';
import { nodeLossResultSchema, recordNodeLoss } from '../../appliance/index.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';

/** The appliance's node-loss drill hands its measurements to a surviving node: judged and kept as evidence. */
export function nodeLossRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/drills/node-loss',
    summary:
      'Record a node-loss drill of the appliance (steward drill node-loss): seconds until the API and every tenant were back, and what was lost; judged passed or failed',
    tags: ['drills'],
    permission: 'tenants.write',
    body: nodeLossResultSchema,
    status: 201,
    handler: ({ body, principal }) =>
      recordNodeLoss({ store: services.drills.store, audit: services.audit }, body, principal),
  });
}
