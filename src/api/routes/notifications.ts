import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendListPage, sendPage } from '../pagination.ts';
import { notificationStatuses } from '../../notifications/index.ts';

const channelBody = z
  .object({
    kind: z.string().min(1).max(20),
    /** An email address, or the webhook's URL. */
    target: z.string().min(1).max(2000),
    name: z.string().min(1).max(100).optional(),
    preset: z.string().min(1).max(20).optional(),
    /** The webhook's HMAC signing secret: kept sealed in the secret store, never shown again. */
    secret: z.string().min(1).max(1000).optional(),
  })
  .strict();
const channelParams = z.object({ channel: z.string().min(1).max(100) }).strict();
const logQuery = pageQuery({
  sorts: ['id'],
  order: 'desc',
  filters: { status: z.enum(notificationStatuses).optional() },
});
const channelListQuery = pageQuery({ sorts: ['position', 'name'] });

export function notificationRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const { notifications } = services;
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/notification-channels',
    summary: 'Notification channels, in failover order (webhook URLs shown by origin only)',
    tags: ['notifications'],
    permission: 'tenants.read',
    query: channelListQuery,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await notifications.listChannels(),
        (c, sort) => ({ key: sort === 'name' ? c.name : c.position, id: Number(c.id) }),
        (items) => ({ channels: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/notification-channels',
    summary:
      'Add an email or webhook (slack, teams, generic; optionally HMAC-signed) channel at the end of the failover chain',
    tags: ['notifications'],
    permission: 'notifications.write',
    body: channelBody,
    status: 201,
    handler: ({ body, principal }) => notifications.addChannel(body, principal),
  });
  route(app, auth, {
    method: 'PATCH',
    url: '/api/v1/notification-channels/:channel',
    summary: 'Enable or disable a channel (a disabled one is left out of the default route)',
    tags: ['notifications'],
    permission: 'notifications.write',
    params: channelParams,
    body: z.object({ enabled: z.boolean() }).strict(),
    handler: ({ params, body, principal }) =>
      notifications.setEnabled(params.channel, body.enabled, principal),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/notification-channels/:channel',
    summary: 'Remove a notification channel (and its signing secret)',
    tags: ['notifications'],
    permission: 'notifications.write',
    params: channelParams,
    handler: ({ params, principal }) => notifications.removeChannel(params.channel, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/notification-channels/:channel/test',
    summary: 'Send a test notification through one channel now and show its delivery',
    tags: ['notifications'],
    permission: 'notifications.write',
    params: channelParams,
    handler: ({ params, principal }) => notifications.test(params.channel, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/notifications',
    summary: 'The delivery log: notifications, newest first, each with its attempts',
    tags: ['notifications'],
    permission: 'tenants.read',
    query: logQuery,
    handler: async ({ query, request, reply }) => {
      const page = pageRequest(query);
      const found = await notifications.logPage({ status: query.status }, page);
      return sendPage({ request, reply }, page, found, (items) => ({ notifications: items }));
    },
  });
}
