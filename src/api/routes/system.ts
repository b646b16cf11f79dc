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
    method: 'GET',
    url: '/api/v1/system/isolation',
    summary: 'How far stages are isolated from each other and from Steward on this machine',
    tags: ['system'],
    permission: 'tenants.read',
    handler: () => Promise.resolve(services.isolation),
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
      // Signed with the new key at once, so the events the old key authenticated stay verified without it.
      await services.auditCheckpoints.runNow();
      return report;
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/secrets/master-keys',
    summary: 'The active master key and the retired ones kept for backups, with when each may be purged',
    tags: ['secrets'],
    permission: 'secrets.rotate',
    handler: async () => {
      const retired = await services.secrets.retiredKeys();
      return { activeKeyId: services.secrets.activeKeyId, ...retired };
    },
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/secrets/purge-retired-keys',
    summary: 'Drop the retired master keys older than the longest backup retention',
    tags: ['secrets'],
    permission: 'secrets.rotate',
    handler: async ({ principal }) => {
      const report = await services.secrets.purgeRetiredKeys();
      if (report.purged.length > 0) {
        await services.audit.recordAlone({
          actor: actorName(principal),
          address: principal.address,
          action: 'secrets.purge-retired-keys',
          target: 'master-key',
          details: { ...report },
        });
      }
      return report;
    },
  });
}
