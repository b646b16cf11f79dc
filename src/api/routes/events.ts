import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ForbiddenError, InputError, showValue, UnavailableError } from '../../core/errors.ts';
import {
  EventStream,
  eventTopics,
  isEventTopic,
  type EventHub,
  type EventTopic,
} from '../../events/index.ts';
import { route, type Authenticator } from '../route.ts';

export interface EventRouteOptions {
  readonly hub: EventHub;
  readonly keepaliveMs: number;
  readonly bufferBytes: number;
}

/** What a browser waits before it reconnects a dropped stream. */
const retryMs = 3000;

const eventsQuery = z
  .object({
    /** Comma-separated topics; default every topic the caller may see. */
    topics: z.string().max(1000).optional(),
  })
  .strict();

/** `?topics=a,b` as a set; an unknown topic is refused with the list of known ones. */
export function parseTopics(value: string | undefined): ReadonlySet<EventTopic> | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const topics = new Set<EventTopic>();
  for (const part of value.split(',')) {
    const topic = part.trim();
    if (!isEventTopic(topic)) {
      throw new InputError(
        `field "topics": ${showValue(topic)} is not a topic; accepted are: ${eventTopics.join(', ')}`,
        { field: 'topics' },
      );
    }
    topics.add(topic);
  }
  return topics;
}

export function eventRoutes(
  app: FastifyInstance,
  auth: Authenticator,
  /** Undefined where no hub runs (the OpenAPI document's build): the route is there, and says so. */
  events: EventRouteOptions | undefined,
): void {
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/events',
    summary:
      'Live updates as server-sent events (text/event-stream): `event: change` with {topic, op, tenant, id} for each change the caller may see (a tenant admin: its own tenant), `event: resync` when changes may have been missed (refetch), a keepalive comment every 15 s; ?topics=a,b keeps only those',
    tags: ['events'],
    permission: 'authenticated',
    // A tenant admin's stream carries only its own tenant's events (events/visibility.ts).
    tenantAdmin: true,
    query: eventsQuery,
    handler: async ({ principal, query, request, reply }) => {
      if (!events) throw new UnavailableError('live updates do not run in this process');
      if (principal.kind === 'tenant-admin' && !principal.tenant?.mfa) {
        throw new ForbiddenError(
          'enrol MFA first ("steward mfa enroll", then "steward mfa verify"): a tenant admin follows its tenant only with a second factor',
        );
      }
      const topics = parseTopics(query.topics);
      // The stream is written here, as it happens: Fastify sends nothing of its own.
      reply.hijack();
      let unsubscribe = (): void => undefined;
      const stream = new EventStream(reply.raw, {
        bufferBytes: events.bufferBytes,
        keepaliveMs: events.keepaliveMs,
        retryMs,
        logger: request.log,
        onEnd: () => unsubscribe(),
      });
      stream.open();
      unsubscribe = events.hub.subscribe({ principal, topics, sink: stream });
      return reply;
    },
  });
}
