import type { ChangeEvent } from './topics.ts';

/**
 * Server-sent event frames (text/event-stream). A frame is built once per
 * event and written to every stream that may see it.
 */
export const sse = {
  /** The first bytes of a stream: how long a browser waits before it reconnects. */
  open: (retryMs: number): string => `retry: ${retryMs}\n\n`,
  change: (event: ChangeEvent): string =>
    `event: change\ndata: ${JSON.stringify({ topic: event.topic, op: event.op, tenant: event.tenant, id: event.id })}\n\n`,
  /** Events may have been missed (the hub listened again): refetch what is shown. */
  resync: (reason: string): string => `event: resync\ndata: ${JSON.stringify({ reason })}\n\n`,
  /** A comment: keeps proxies and the browser from timing an idle stream out. */
  keepalive: ': keepalive\n\n',
} as const;
