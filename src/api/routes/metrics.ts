import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from '../../gateway/metrics.ts';
import { route, type Authenticator } from '../route.ts';

/**
 * `/metrics`: the gateway's Prometheus exposition (requests per tenant,
 * stage and status class, latency, open connections, refusals). It names
 * every tenant, so it needs an API token like any other route; Prometheus
 * sends one with `authorization: { credentials_file: … }` in its scrape config.
 */
export function metricsRoutes(app: FastifyInstance, auth: Authenticator, metrics: GatewayMetrics): void {
  route(app, auth, {
    method: 'GET',
    url: '/metrics',
    summary: 'Gateway metrics in the Prometheus text format',
    tags: ['system'],
    permission: 'authenticated',
    handler: async ({ reply }) => {
      const text = await metrics.render();
      void reply.type(metrics.contentType);
      return text;
    },
  });
}
