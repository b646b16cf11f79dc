import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';

/**
 * Operators' settings, read only (issue 15): Steward's config is a file read
 * at start, so each value names the config field that sets it.
 */
export function settingsRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/settings/limits',
    summary:
      'The effective limits (edge, tenants by tier, stages, sign-in, API, operations): value, default, unit, where each is set (config field path) and whether it differs from the default',
    tags: ['system'],
    permission: 'settings.read',
    handler: () => Promise.resolve(services.settings.limits()),
  });

  route(app, auth, {
    method: 'GET',
    url: '/api/v1/regions',
    summary:
      'The configured regions with the default marked: geography, tenants and stages placed there, backup repositories in each, and whether new tenants there meet backup residency',
    tags: ['system'],
    permission: 'settings.read',
    handler: () => services.settings.regions(),
  });
}
