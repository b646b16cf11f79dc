import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.ts';
import { actorName } from '../../core/policy.ts';
import { route, type Authenticator } from '../route.ts';

export function systemRoutes(
  app: FastifyInstance,
  auth: Authenticator,
  services: Services,
  version: string,
): void {
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/health',
    summary: 'Liveness and version',
    tags: ['system'],
    permission: 'public',
    handler: () => Promise.resolve({ status: 'ok', version }),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/secrets/rotate-master-key',
    summary: 'Re-wrap every secret with a new master key',
    tags: ['secrets'],
    permission: 'secrets.rotate',
    handler: async ({ principal }) => {
      const report = await services.secrets.rotateMasterKey();
      await services.audit.recordAlone({
        actor: actorName(principal),
        address: principal.address,
        action: 'secrets.rotate-master-key',
        target: 'master-key',
        details: { ...report },
      });
      return report;
    },
  });
}
