import type { FastifyInstance } from 'fastify';
import {
  alertmanagerBodyLimit,
  alertmanagerPayloadSchema,
  receiveAlertmanager,
} from '../../alerts/alertmanager.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';

/**
 * Alertmanager's webhook receiver: point a webhook_config at
 * https://<steward>/api/alerts/alertmanager with
 * `http_config.authorization.credentials` set to a token from
 * `steward token create alertmanager --role operator --scope alertmanager`.
 */
export function alertmanagerRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  route(app, auth, {
    method: 'POST',
    url: '/api/alerts/alertmanager',
    summary:
      "Alertmanager's webhook (payload version 4): each firing alert is raised (keyed by its fingerprint; tenant, stage and severity from its labels), each resolved one cleared",
    tags: ['alerts'],
    permission: 'tenants.write',
    scope: 'alertmanager',
    body: alertmanagerPayloadSchema,
    bodyLimit: alertmanagerBodyLimit,
    handler: ({ body }) => receiveAlertmanager(services.alerts, body),
  });
}
