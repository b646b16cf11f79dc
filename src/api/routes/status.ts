import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';

const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const linkBody = z
  .object({
    rotate: z.boolean().default(false),
    /** Which stages the page shows (prod first); default: as before, prod for a new link. */
    stages: z.array(z.string().min(1).max(63)).min(1).max(20).optional(),
  })
  .strict();

export function statusRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/status/link',
    summary:
      "A tenant's private status-page link: made on first use, a new token with rotate (the old one stops working); the token is shown only here",
    tags: ['status'],
    permission: 'tenants.write',
    params: tenantParams,
    body: linkBody,
    handler: ({ params, body, principal }) =>
      services.status.link(principal, params.tenant, {
        rotate: body.rotate,
        ...(body.stages ? { stages: body.stages } : {}),
      }),
  });
}
