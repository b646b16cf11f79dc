import type { FastifyInstance } from 'fastify';
import { UnauthorizedError } from '../../core/errors.ts';
import { allows, type AllowList } from '../../gateway/allow-list.ts';
import { checkScope, route, type Authenticator } from '../route.ts';

/** What `/metrics` serves: Steward's registry (with the gateway's series when it runs here); or HAProxy's exporter. */
export interface MetricsSource {
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
  render(): Promise<string>;
}

/**
 * `/metrics`: Prometheus exposition of Steward itself and the gateway. It
 * names every tenant, so it needs an API token like any other route (Prometheus
 * sends one with `authorization: { credentials_file: … }`), unless the scrape
 * comes from an address in `metrics.allow`. The address is the socket's: no
 * forwarding header is believed.
 */
export function metricsRoutes(
  app: FastifyInstance,
  auth: Authenticator,
  metrics: MetricsSource,
  allow: AllowList = [],
  haproxy?: MetricsSource,
): void {
  const scrape = (url: string, summary: string, source: MetricsSource) =>
    route(app, auth, {
      method: 'GET',
      url,
      summary,
      tags: ['system'],
      // Decided below: the allow list first, then the token, as every other route checks it.
      permission: 'public',
      handler: async ({ request, reply }) => {
        if (!allows(allow, request.ip)) {
          const header = request.headers.authorization;
          if (!header?.startsWith('Bearer ')) {
            throw new UnauthorizedError(
              `scraping ${url} needs an API token ("Authorization: Bearer stw_…") or a source address in the config's metrics.allow; ${request.ip} is not in it`,
            );
          }
          checkScope(await auth(header.slice(7).trim(), request.ip), undefined);
        }
        const text = await source.render();
        void reply.type(source.contentType);
        return text;
      },
    });
  scrape(
    '/metrics',
    'Steward and gateway metrics in the Prometheus text format (a token, or an address in metrics.allow)',
    metrics,
  );
  // HAProxy's exporter names every stage backend (hence every tenant): the same guard as /metrics.
  if (haproxy) {
    scrape(
      '/metrics/haproxy',
      "HAProxy's own metrics (frontends, backends, servers) from its Prometheus exporter (a token, or an address in metrics.allow)",
      haproxy,
    );
  }
}
