import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { ConnectionLimiter } from './connection-limit.ts';
import type { Logger } from 'pino';
import { accessLogEntry } from './access-log.ts';
import { checkHeaderFraming } from './headers.ts';
import type { GatewayLimits } from './limits.ts';
import type { GatewayMetrics, RejectionCode } from './metrics.ts';
import { TokenBucketLimiter } from './rate-limit.ts';
import { routeTarget } from './target.ts';

/**
 * The gateway's admission checks wired together: request target, Host and
 * SNI (target.ts), header framing and sizes (headers.ts), then the rate
 * limits per client address and per tenant; and the observation side,
 * metrics and the access log. It speaks the shape of the server's hooks
 * (`admit` before forwarding, `observe` after) with structural types, so it
 * depends on nothing but the request facts Node gives.
 */
export type GuardRequest = IncomingMessage;

export interface GuardRoute {
  readonly host: string;
  readonly tenant: string;
  readonly stage: string;
}

export interface GuardPage {
  readonly status: number;
  readonly title: string;
  readonly message: string;
  /** For a 429: the `Retry-After` the server should send with the page. */
  readonly retryAfterSeconds?: number;
}

export interface GuardExchange {
  readonly requestId: string;
  readonly method: string;
  readonly host: string | undefined;
  readonly route: GuardRoute | undefined;
  readonly status: number;
  readonly durationMs: number;
  readonly clientAddress: string;
  readonly target?: string | undefined;
  readonly userAgent?: string | undefined;
}

export interface GatewayGuardOptions {
  readonly limits: GatewayLimits;
  readonly metrics?: GatewayMetrics;
  /** Where access-log lines go (one `info` per request); none: no access log. */
  readonly accessLog?: Logger;
  /** Milliseconds now; injected so tests move time. */
  readonly now?: () => number;
}

const titles: Readonly<Record<number, string>> = {
  400: 'Bad request',
  405: 'Method not allowed',
  413: 'Content too large',
  414: 'URI too long',
  421: 'Misdirected request',
  429: 'Too many requests',
  431: 'Request header fields too large',
};

/** A refusal page: the reason is ours (never an echo of the client's bytes). */
export function refusalPage(status: number, reason: string): GuardPage {
  return { status, title: titles[status] ?? 'Bad request', message: `The request was refused: ${reason}.` };
}

export type CheckedRequest =
  | {
      readonly kind: 'ok';
      /** The host to route by: lower case, no port, no trailing dot; the absolute-form authority wins over Host. */
      readonly host: string;
      /** The host with the client's port, for the upstream Host and X-Forwarded-Host. */
      readonly authority: string;
      readonly hasBody: boolean;
    }
  | { readonly kind: 'refuse'; readonly page: GuardPage; readonly code: RejectionCode };

/**
 * The checks every request passes before its route is looked up: request
 * target, Host and SNI (a Host other than the TLS connection's SNI name is
 * 421), then header framing and sizes. On success `req.url` is rewritten to
 * the origin-form target that was checked, so the stage sees exactly that.
 */
export function checkRequest(
  req: IncomingMessage,
  limits: Pick<GatewayLimits, 'maxTargetBytes' | 'maxHeaderCount' | 'maxHeaderBytes' | 'maxBodyBytes'>,
  clientAddress = '',
  metrics?: GatewayMetrics,
): CheckedRequest {
  // Checked once: the server may check before its route lookup and the admit hook again after it.
  const earlier = checked.get(req);
  if (earlier) return earlier;
  const result = checkOnce(req, limits, clientAddress, metrics);
  checked.set(req, result);
  return result;
}

/** Per request, so that a second check sees the verdict of the first (the target was rewritten by then). */
const checked = new WeakMap<IncomingMessage, CheckedRequest>();

function checkOnce(
  req: IncomingMessage,
  limits: Pick<GatewayLimits, 'maxTargetBytes' | 'maxHeaderCount' | 'maxHeaderBytes' | 'maxBodyBytes'>,
  clientAddress: string,
  metrics: GatewayMetrics | undefined,
): CheckedRequest {
  const refuse = (status: number, code: RejectionCode, reason: string): CheckedRequest => {
    metrics?.rejected(code);
    return { kind: 'refuse', page: refusalPage(status, reason), code };
  };
  const hostHeaders: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === 'host') hostHeaders.push(req.rawHeaders[i + 1] ?? '');
  }
  const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean; servername?: unknown };
  const tls = socket.encrypted === true;
  const sni = typeof socket.servername === 'string' ? socket.servername : undefined;
  const target = routeTarget({
    method: req.method ?? '',
    target: req.url ?? '',
    hostHeaders,
    httpVersion: req.httpVersion,
    tls,
    sni,
    maxTargetBytes: limits.maxTargetBytes,
  });
  if (target.kind === 'reject') return refuse(target.status, target.code, target.reason);
  const headers = checkHeaderFraming(req.rawHeaders, limits);
  if (headers.kind === 'reject') return refuse(headers.status, headers.code, headers.reason);
  if (req.url !== target.target) {
    // Absolute-form: its authority won over Host (RFC 9112 3.2.2), so the stage gets that as Host too.
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]?.toLowerCase() === 'host') req.rawHeaders[i + 1] = target.authority;
    }
    req.headers.host = target.authority;
    req.url = target.target;
  }
  return {
    kind: 'ok',
    host: target.host,
    authority: target.authority,
    hasBody: headers.body.kind !== 'none',
  };
}

export interface GatewayGuard {
  /**
   * For the server's `connection` event (the TCP socket, before TLS): counts
   * the client address's open connections and destroys one past the cap.
   */
  connection(socket: Socket): void;
  admit(req: GuardRequest, route: GuardRoute, clientAddress: string): GuardPage | undefined;
  observe(exchange: GuardExchange): void;
}

export function createGatewayGuard(options: GatewayGuardOptions): GatewayGuard {
  const { limits, metrics, accessLog } = options;
  const now = options.now ?? Date.now;
  const byAddress = new TokenBucketLimiter({
    ratePerSecond: limits.addressRatePerSecond,
    burst: limits.addressBurst,
    maxKeys: limits.rateLimitMaxKeys,
  });
  const byTenant = new TokenBucketLimiter({
    ratePerSecond: limits.tenantRatePerSecond,
    burst: limits.tenantBurst,
    maxKeys: limits.rateLimitMaxKeys,
  });
  const refuse = (status: number, code: RejectionCode, reason: string): GuardPage => {
    metrics?.rejected(code);
    return refusalPage(status, reason);
  };
  const connections = new ConnectionLimiter({
    maxPerAddress: limits.maxConnectionsPerAddress,
    maxAddresses: limits.maxTrackedAddresses,
  });

  return {
    connection(socket) {
      const decision = connections.acquire(socket.remoteAddress ?? '');
      if (!decision.allowed) {
        metrics?.rejected('connection_limit');
        socket.destroy();
        return;
      }
      metrics?.connectionOpened();
      socket.once('close', () => {
        decision.release();
        metrics?.connectionClosed();
      });
    },

    admit(req, route, clientAddress) {
      const request = checkRequest(req, limits, clientAddress, metrics);
      if (request.kind === 'refuse') return request.page;
      // The server picked the route by this host; anything else here is a bug or a race: refuse, never re-route.
      if (request.host !== route.host) {
        return refuse(421, 'misdirected', 'the request names another host than the one it was routed by');
      }

      const at = now();
      const address = byAddress.take(clientAddress, at);
      if (!address.allowed) {
        metrics?.rateLimited('address', route.tenant, route.stage);
        return {
          ...refusalPage(
            429,
            `too many requests from your address; retry after ${address.retryAfterSeconds} s`,
          ),
          retryAfterSeconds: address.retryAfterSeconds,
        };
      }
      const tenant = byTenant.take(route.tenant, at);
      if (!tenant.allowed) {
        metrics?.rateLimited('tenant', route.tenant, route.stage);
        return {
          ...refusalPage(
            429,
            `too many requests to this application; retry after ${tenant.retryAfterSeconds} s`,
          ),
          retryAfterSeconds: tenant.retryAfterSeconds,
        };
      }
      if (request.hasBody) watchBody(req, limits.bodyIdleTimeoutMs);
      return undefined;
    },

    observe(exchange) {
      metrics?.observeRequest({
        tenant: exchange.route?.tenant,
        stage: exchange.route?.stage,
        status: exchange.status,
        durationSeconds: exchange.durationMs / 1000,
      });
      accessLog?.info(
        accessLogEntry({
          startedAt: new Date(now() - exchange.durationMs),
          requestId: exchange.requestId,
          clientAddress: exchange.clientAddress,
          method: exchange.method,
          host: exchange.host,
          target: exchange.target ?? '',
          status: exchange.status,
          bytesSent: 0,
          durationMs: exchange.durationMs,
          tenant: exchange.route?.tenant,
          stage: exchange.route?.stage,
          userAgent: exchange.userAgent,
        }),
        'request',
      );
    },
  };
}

/**
 * Slow bodies: a request whose body stalls for `idleMs` between two reads
 * loses its connection. (Node's own timeouts cover the head, and the whole
 * request only after minutes.) Watching a request twice sets one timer.
 */
export function watchBody(req: IncomingMessage, idleMs: number): void {
  if (watched.has(req)) return;
  watched.add(req);
  const timer = setTimeout(() => req.socket.destroy(), idleMs);
  timer.unref();
  req.on('data', () => timer.refresh());
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
}

const watched = new WeakSet<IncomingMessage>();
