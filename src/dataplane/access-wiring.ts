import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { GatewayMetrics } from '../gateway/metrics.ts';
import { lookupUser } from '../system/exec.ts';
import { AccessLogReceiver, createAccessLogMetrics } from './access-log-receiver.ts';
import { accessLogLine, countRequests, renderAccessLogRing, type StageLookup } from './access-log-stream.ts';

/**
 * The access log between HAProxy and Steward, wired: HAProxy's ring sends
 * each request's record over a Unix stream socket (dp-obs's choice, see
 * access-log-stream.ts) to a receiver that counts it in the gateway metrics
 * and writes it to Steward's log (component gateway-access), as the Node
 * gateway did.
 */
export interface AccessLogWiring {
  /** steward_gateway_requests_total and its duration histogram. */
  readonly requests: Pick<GatewayMetrics, 'observeRequest'>;
  /** Where steward_dataplane_access_log_messages_total goes. */
  readonly registry?: Registry;
  /** Each request's record, at info. */
  readonly log?: Logger;
}

export function accessLogReceiver(
  socketPath: string,
  wiring: AccessLogWiring,
  lookup: StageLookup,
  logger: Logger,
): AccessLogReceiver {
  const count = countRequests(wiring.requests, lookup);
  const user = process.getuid?.() === 0 ? lookupUser('haproxy') : undefined;
  return new AccessLogReceiver({
    socketPath,
    // Only HAProxy's workers (and root) may write records.
    ...(user ? { owner: { uid: user.uid, gid: user.gid } } : {}),
    ...(wiring.registry ? { metrics: createAccessLogMetrics(wiring.registry) } : {}),
    logger,
    onRecord: (record) => {
      count(record);
      wiring.log?.info({ ...record }, 'request');
    },
  });
}

/**
 * The rendered config with its access log sent through the ring: the
 * renderer (config.ts) names the socket as a datagram target, which Node
 * cannot receive; each such line becomes the ring's, and the ring is added.
 * Goes when the renderer writes the ring itself.
 */
export function withAccessLogRing(text: string, socketPath: string): string {
  const datagram = new RegExp(`^(\\s*)log ${escape(socketPath)} .*$`);
  const lines = text.split('\n').map((line) => {
    const match = datagram.exec(line);
    return match ? `${match[1] ?? ''}${accessLogLine}` : line;
  });
  return [...lines, '', ...renderAccessLogRing(socketPath)].join('\n');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
