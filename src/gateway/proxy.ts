import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { htmlBody, pages, type GatewayPage } from './pages.ts';
import type { Route } from './routes.ts';
import { hopByHopHeaders } from '../system/http-headers.ts';
import { bodyLimit } from './body-limit.ts';
import { isStrippedRequestHeader } from './headers.ts';

/**
 * Forwards requests to a stage's published endpoint (127.0.0.1:<port>):
 * a keep-alive pool per stage, bodies streamed both ways, WebSocket upgrades
 * piped as raw sockets. The stage proxy behind it holds requests while the
 * stage starts, so the gateway only has to wait, not retry.
 */
export interface ForwardContext {
  readonly route: Route;
  readonly requestId: string;
  readonly clientAddress: string;
  /** The normalised host the client asked for. */
  readonly host: string;
  readonly method: string;
}

const hopByHop = hopByHopHeaders;

/**
 * The request headers for the stage, as a flat raw list (names keep their
 * case and order): client headers minus hop-by-hop and gateway-owned ones,
 * plus the gateway's own. What is stripped is one list, in headers.ts.
 */
export function forwardRequestHeaders(
  rawHeaders: readonly string[],
  context: ForwardContext,
  options: { readonly upgrade?: boolean } = {},
): string[] {
  const out: string[] = [];
  let connectionListed: Set<string> | undefined;
  let chunked = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      for (const token of (rawHeaders[i + 1] ?? '').split(',')) {
        const listed = token.trim().toLowerCase();
        if (listed && listed !== 'upgrade' && listed !== 'close' && listed !== 'keep-alive') {
          (connectionListed ??= new Set()).add(listed);
        }
      }
    }
    if (lower === 'transfer-encoding') chunked = true;
  }
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const value = rawHeaders[i + 1] ?? '';
    const lower = name.toLowerCase();
    if (hopByHop.has(lower)) {
      if (options.upgrade && lower === 'upgrade') out.push(name, value);
      continue;
    }
    if (isStrippedRequestHeader(lower) || connectionListed?.has(lower)) continue;
    out.push(name, value);
  }
  if (options.upgrade) out.push('Connection', 'Upgrade');
  // The body is re-framed on the way out: the stage sees one framing, the gateway's.
  else if (chunked) out.push('Transfer-Encoding', 'chunked');
  out.push(
    'X-Forwarded-For',
    context.clientAddress,
    'X-Forwarded-Proto',
    'https',
    'X-Forwarded-Host',
    context.host,
    'X-Request-Id',
    context.requestId,
  );
  return out;
}

export function forwardResponseHeaders(rawHeaders: readonly string[], extra: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const lower = name.toLowerCase();
    if (hopByHop.has(lower) || lower === 'strict-transport-security' || lower === 'x-request-id') continue;
    out.push(name, rawHeaders[i + 1] ?? '');
  }
  for (const value of extra) out.push(value);
  return out;
}

export interface StageForwarderOptions {
  readonly logger: Logger;
  /** Headers the gateway adds to every response (HSTS), as a flat raw list. */
  readonly responseHeaders: readonly string[];
  /** How long to wait for the stage's response headers before a 504. */
  readonly upstreamTimeoutMs: number;
  /** Largest request body the stage may receive, counted as it streams (chunked bodies announce no size). */
  readonly maxBodyBytes: number;
  /** Called with every finished exchange (access log and metrics hook). */
  readonly onResponse?: (context: ForwardContext, status: number, startedAt: number) => void;
}

export class StageForwarder {
  readonly #o: StageForwarderOptions;
  readonly #agents = new Map<number, Agent>();

  constructor(options: StageForwarderOptions) {
    this.#o = options;
  }

  #agent(port: number): Agent {
    let agent = this.#agents.get(port);
    if (!agent) {
      // As many idle connections kept as may be open: a smaller idle cap closes connections whenever
      // the load dips and opens them again on the next burst, which under many clients overflows the
      // stage's accept queue (dropped SYNs, seconds of latency). Idle ones close on the stage's keep-alive timeout.
      agent = new Agent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 1024, scheduling: 'lifo' });
      this.#agents.set(port, agent);
    }
    return agent;
  }

  /** Closes the pools of stages that are no longer routed. */
  retain(ports: ReadonlySet<number>): void {
    for (const [port, agent] of this.#agents) {
      if (!ports.has(port)) {
        agent.destroy();
        this.#agents.delete(port);
      }
    }
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  /** Sends one of the gateway's own pages, with the request id, HSTS and no caching. */
  sendPage(res: ServerResponse, page: GatewayPage, context: { readonly requestId: string }): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = htmlBody(page, context.requestId);
    res.writeHead(page.status, [
      'Content-Type',
      'text/html; charset=utf-8',
      'Content-Length',
      String(Buffer.byteLength(body)),
      'Cache-Control',
      'no-store',
      'X-Request-Id',
      context.requestId,
      ...(page.status === 503 ? ['Retry-After', '30'] : []),
      ...this.#o.responseHeaders,
    ]);
    res.end(body);
  }

  forward(req: IncomingMessage, res: ServerResponse, context: ForwardContext): void {
    const startedAt = performance.now();
    const { route } = context;
    let answered = false;
    const upstream = httpRequest({
      host: '127.0.0.1',
      port: route.publishedPort,
      method: req.method,
      path: req.url,
      headers: forwardRequestHeaders(req.rawHeaders, context),
      agent: this.#agent(route.publishedPort),
      setHost: false,
    });
    const fail = (page: GatewayPage, reason: string): void => {
      if (answered) return;
      answered = true;
      this.#o.logger.warn(
        {
          requestId: context.requestId,
          tenant: route.tenant,
          stage: route.stage,
          status: page.status,
          reason,
        },
        'upstream request failed',
      );
      this.sendPage(res, page, context);
      this.#o.onResponse?.(context, page.status, startedAt);
    };
    upstream.setTimeout(this.#o.upstreamTimeoutMs, () => {
      if (!answered) {
        fail(pages.timeout, 'no response in time');
        upstream.destroy();
      }
    });
    upstream.on('response', (upstreamRes: IncomingMessage) => {
      if (answered) {
        upstreamRes.resume();
        return;
      }
      answered = true;
      upstream.setTimeout(0);
      const status = upstreamRes.statusCode ?? 502;
      res.writeHead(
        status,
        forwardResponseHeaders(upstreamRes.rawHeaders, [
          'X-Request-Id',
          context.requestId,
          ...this.#o.responseHeaders,
        ]),
      );
      upstreamRes.pipe(res);
      upstreamRes.on('error', () => res.destroy());
      upstreamRes.on('end', () => this.#o.onResponse?.(context, status, startedAt));
    });
    let clientGone = false;
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (clientGone) return;
      if (answered) {
        // Part of the response is out: all the client can be told is that the connection broke.
        res.destroy();
        return;
      }
      fail(pages.badGateway, error.code ?? error.message);
    });
    res.on('close', () => {
      // The client went away before the response finished: stop the stage's work too.
      if (!res.writableFinished) {
        clientGone = true;
        upstream.destroy();
      }
    });
    // Most requests have no body: end at once instead of wiring a pipe.
    const te = req.headers['transfer-encoding'];
    const cl = req.headers['content-length'];
    if (te === undefined && (cl === undefined || cl === '0')) {
      req.resume();
      upstream.end();
      return;
    }
    const limited = bodyLimit(this.#o.maxBodyBytes, () => {
      req.unpipe(limited);
      req.resume();
      clientGone = true;
      upstream.destroy();
      // Part of the stage's answer is out: all the client can be told is that the connection broke.
      if (answered) return void res.destroy();
      // The rest of the body is not read: answer and close the connection.
      res.shouldKeepAlive = false;
      fail(pages.bodyTooLarge, 'request body larger than the limit');
    });
    req.pipe(limited).pipe(upstream);
  }

  /** A WebSocket (or other) upgrade: the request goes over a fresh socket, then bytes flow both ways. */
  upgrade(req: IncomingMessage, client: Duplex, head: Buffer, context: ForwardContext): void {
    const { route } = context;
    const upstream: Socket = connect({ host: '127.0.0.1', port: route.publishedPort });
    let connected = false;
    const headers = forwardRequestHeaders(req.rawHeaders, context, { upgrade: true });
    let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    text += '\r\n';
    upstream.setNoDelay(true);
    upstream.once('connect', () => {
      connected = true;
      upstream.write(text);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      this.#o.logger.warn(
        { requestId: context.requestId, tenant: route.tenant, stage: route.stage, err: error.code },
        'upgrade to the stage failed',
      );
      if (!connected && client.writable) {
        writeRawPage(client, pages.badGateway, context.requestId, this.#o.responseHeaders);
      } else client.destroy();
    });
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}

/** A page on a socket that never became an HTTP response (upgrades). */
export function writeRawPage(
  socket: Duplex,
  page: GatewayPage,
  requestId: string,
  responseHeaders: readonly string[],
): void {
  const body = htmlBody(page, requestId);
  let text =
    `HTTP/1.1 ${page.status} ${page.title}\r\nContent-Type: text/html; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nX-Request-Id: ${requestId}\r\n`;
  for (let i = 0; i < responseHeaders.length; i += 2)
    text += `${responseHeaders[i]}: ${responseHeaders[i + 1]}\r\n`;
  socket.end(`${text}\r\n${body}`);
}
