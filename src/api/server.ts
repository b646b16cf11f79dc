import type { AllowList } from '../gateway/allow-list.ts';
import { metricsRoutes, type MetricsSource } from './routes/metrics.ts';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { isStewardError, type ErrorBody, type StewardError } from '../core/errors.ts';
import { isContractMismatch, type Authenticator } from './route.ts';
import { securitySchemes } from './openapi-security.ts';
import { auditRoutes } from './routes/audit.ts';
import { backupRoutes } from './routes/backups.ts';
import { checkRoutes } from './routes/checks.ts';
import { alertRoutes } from './routes/alerts.ts';
import { slaRoutes } from './routes/sla.ts';
import { statusRoutes } from './routes/status.ts';
import { incidentRoutes } from './routes/incidents.ts';
import { healingRoutes } from './routes/healing.ts';
import { alertmanagerRoutes } from './routes/alertmanager.ts';
import { maintenanceRoutes } from './routes/maintenance.ts';
import { restoreRoutes } from './routes/restores.ts';
import { drillRoutes } from './routes/drills.ts';
import { nodeLossRoutes } from './routes/node-loss.ts';
import { exportRoutes } from './routes/exports.ts';
import { eventRoutes, type EventRouteOptions } from './routes/events.ts';
import { gatewayRoutes } from './routes/gateway.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { oncallRoutes } from './routes/oncall.ts';
import { identityRoutes } from './routes/identity.ts';
import { ldapDirectoryRoutes } from './routes/ldap-directory.ts';
import { scimRoutes } from './routes/scim.ts';
import { tenantAdminRoutes } from './routes/tenant-admins.ts';
import { identityOidcRoutes } from './routes/identity-oidc.ts';
import { identitySettingsRoutes } from './routes/identity-settings.ts';
import { identityRoleRoutes } from './routes/identity-roles.ts';
import { releaseRoutes } from './routes/releases.ts';
import { runtimeRoutes } from './routes/runtime.ts';
import { systemRoutes } from './routes/system.ts';
import { nodeRoutes } from './routes/nodes.ts';
import { settingsRoutes } from './routes/settings.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { userRoutes } from './routes/users.ts';
import { consoleRoutes } from './routes/console.ts';
import type { Services } from '../services.ts';
import { answer, isApiPath, type ConsoleSite } from '../console/site.ts';
import { edgeClientAddress } from '../console/edge.ts';

export interface ApiServerOptions {
  readonly services: Services;
  readonly logger: Logger;
  readonly https?: { readonly key: string; readonly cert: string };
  readonly version: string;
  /** Steward's metrics (with the gateway's when it runs in this process), served at /metrics. */
  readonly metrics?: MetricsSource;
  /** Addresses that may scrape /metrics without a token (config metrics.allow). */
  readonly metricsAllow?: AllowList;
  /** HAProxy's Prometheus exporter (src/dataplane/exporter.ts), served at /metrics/haproxy with /metrics' guard. */
  readonly haproxyMetrics?: MetricsSource;
  /** Turns a lost control database connection into a 503 that says why (the watchdog). */
  /** The built console (web/dist), served at `/` outside /api; none: it is not built. */
  readonly console?: ConsoleSite | undefined;
  /**
   * The key Steward's own data plane vouches for the client's address with
   * (header x-steward-edge beside x-forwarded-for) when it passes the console
   * host's requests on: the lockout and the logs see the browser's address.
   */
  readonly edgeKey?: string;
  readonly controlDatabase?: {
    unavailable(error: unknown): Promise<StewardError | undefined>;
  };
  /** Live updates for consoles (GET /api/v1/events): the process's event hub and its stream settings. */
  readonly events?: EventRouteOptions;
}

/**
 * The API: thin routes over the services, one error shape, OpenAPI at
 * /api/openapi.json. TLS 1.2 and 1.3 only.
 */
export async function createApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'api' }),
    bodyLimit: 1024 * 1024,
    requestIdHeader: false,
    genReqId: () => crypto.randomUUID(),
    ...(options.https
      ? { https: { key: options.https.key, cert: options.https.cert, minVersion: 'TLSv1.2' as const } }
      : {}),
    ajv: { customOptions: { strict: false } },
  });
  // Input is parsed by zod inside each route, so Fastify's own validation stays out of the way.
  app.setValidatorCompiler(() => () => true);
  // Response contracts (src/api/contracts/) document and, under tests, check the body; they never reshape it.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.setErrorHandler(async (error: unknown, request, reply) => {
    if (isStewardError(error)) {
      if ('retryAfterSeconds' in error) void reply.header('retry-after', String(error.retryAfterSeconds));
      return reply.code(error.status).send(error.toBody());
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const code = (error as { code?: string }).code ?? '';
      // Fastify's own body errors (bad JSON, wrong media type, too large) concern the body as a whole.
      const body: ErrorBody = {
        code: 'input',
        message: describeClientError(error),
        ...(code.startsWith('FST_ERR_CTP_') ? { field: 'body' } : {}),
      };
      return reply.code(status).send(body);
    }
    if (isContractMismatch(error)) {
      request.log.error({ err: error }, 'response contract broken');
      return reply.code(500).send({ code: 'internal', message: error.message } satisfies ErrorBody);
    }
    const unavailable = await options.controlDatabase?.unavailable(error);
    if (unavailable) return reply.code(unavailable.status).send(unavailable.toBody());
    request.log.error({ err: error }, 'request failed');
    const body: ErrorBody = {
      code: 'internal',
      message: `internal error; the server log has the details under request id ${request.id}`,
    };
    return reply.code(500).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if ((request.method === 'GET' || request.method === 'HEAD') && !isApiPath(path)) {
      if (options.console) {
        const served = answer(options.console, {
          method: request.method,
          url: request.url,
          acceptEncoding: request.headers['accept-encoding'],
          ifNoneMatch: request.headers['if-none-match'],
        });
        return reply.code(served.status).headers(served.headers).send(served.body);
      }
      const body: ErrorBody = {
        code: 'not_found',
        message:
          'the console is not built on this server: run "npm run build:console" (steward up builds it)',
      };
      return reply.code(404).send(body);
    }
    const body: ErrorBody = {
      code: 'not_found',
      message: `no API route ${request.method} ${request.url.split('?')[0]}`,
    };
    return reply.code(404).send(body);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Steward API', version: options.version },
      components: { securitySchemes },
    },
  });

  const edgeKey = options.edgeKey;
  if (edgeKey !== undefined) {
    app.addHook('onRequest', (request, _reply, done) => {
      const address = edgeClientAddress(request.headers, edgeKey);
      if (address !== undefined) request.edgeClientAddress = address;
      done();
    });
  }

  const authenticate: Authenticator = (token, address) =>
    options.services.operators.authenticate(token, address);
  // Fastify's instance type varies with the server and logger; routes only need the common shape.
  const api = app as unknown as FastifyInstance;
  systemRoutes(api, authenticate, options.services, options.version);
  nodeRoutes(api, authenticate, options.services);
  settingsRoutes(api, authenticate, options.services);
  tenantRoutes(api, authenticate, options.services);
  identityRoutes(api, authenticate, options.services);
  scimRoutes(api, authenticate, options.services);
  tenantAdminRoutes(api, authenticate, options.services);
  identityOidcRoutes(api, authenticate, options.services);
  identitySettingsRoutes(api, authenticate, options.services);
  identityRoleRoutes(api, authenticate, options.services);
  auditRoutes(api, authenticate, options.services);
  releaseRoutes(api, authenticate, options.services);
  runtimeRoutes(api, authenticate, options.services);
  gatewayRoutes(api, authenticate, options.services);
  exportRoutes(api, authenticate, options.services);
  backupRoutes(api, authenticate, options.services);
  restoreRoutes(api, authenticate, options.services);
  drillRoutes(api, authenticate, options.services);
  nodeLossRoutes(api, authenticate, options.services);
  notificationRoutes(api, authenticate, options.services);
  checkRoutes(api, authenticate, options.services);
  slaRoutes(api, authenticate, options.services);
  statusRoutes(api, authenticate, options.services);
  alertRoutes(api, authenticate, options.services);
  oncallRoutes(api, authenticate, options.services);
  incidentRoutes(api, authenticate, options.services);
  healingRoutes(api, authenticate, options.services);
  alertmanagerRoutes(api, authenticate, options.services);
  maintenanceRoutes(api, authenticate, options.services);
  ldapDirectoryRoutes(api, authenticate, options.services.ldap);
  userRoutes(api, authenticate, options.services);
  consoleRoutes(api, authenticate, options.services);
  eventRoutes(api, authenticate, options.events);
  if (options.metrics)
    metricsRoutes(api, authenticate, options.metrics, options.metricsAllow, options.haproxyMetrics);
  app.get('/api/openapi.json', { schema: { hide: true } }, () => app.swagger());
  return api;
}

function describeClientError(error: unknown): string {
  const code = (error as { code?: string }).code ?? '';
  const message = (error as { message?: string }).message ?? 'bad request';
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/.test(message)) {
    return `the request body is not valid JSON: ${message}`;
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return 'the request body is larger than the API accepts (1 MiB; 256 MiB for a release upload)';
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'send the request body as application/json';
  return message;
}
