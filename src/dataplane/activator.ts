import { randomUUID } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { htmlBody, type GatewayPage } from '../gateway/pages.ts';
import { hopByHopHeaders } from '../system/http-headers.ts';
import type { Listen } from './config.ts';
import type { ActivatorPort } from './endpoints.ts';
import { checkAddress, stageIdOfBackend } from './names.ts';

/**
 * Steward's activator: every stage backend's backup server, so HAProxy sends
 * it the requests of a stage with no instance taking requests (scaled to
 * zero, not started yet). It wakes the stage once, holds its requests
 * (bounded in number and time), and when the stage serves again forwards each
 * to one of the stage's instances directly and streams the answer back. Only
 * the requests that arrive while a stage wakes take this hop: once its
 * instances are ready in HAProxy, HAProxy sends the next ones straight to them.
 *
 * HAProxy names the stage in X-Steward-Stage (its backend, `st_<stage id>`),
 * which it sets itself; the activator listens on loopback, out of the
 * tenants' reach (the sandbox), so nobody else can name one.
 */

export interface ActivatorOptions {
  readonly address?: string;
  /** 0 (the default) takes a free port; `listen()` says which. */
  readonly port?: number;
  /** How long a request waits for its stage to serve before it gets 503 with Retry-After. */
  readonly holdTimeoutMs?: number;
  /** Requests held per stage at most; more get 503 at once. */
  readonly maxHeldPerStage?: number;
  readonly retryAfterSeconds?: number;
  readonly logger?: Logger;
}

/** The header HAProxy names the stage's backend in. */
export const stageHeader = 'x-steward-stage';

/** Added to every request the activator forwards (RFC 9110 §7.6.3): the app can tell a woken request. */
export const activatorVia = '1.1 steward-activator';

const startingPage: GatewayPage = {
  status: 503,
  title: 'Starting',
  message: 'The application is starting. Please try again in a few seconds.',
};

interface Waiter {
  /** Sends the request on to this port. */
  release(port: number): void;
  /** Answers 503: the stage did not serve in time, or is gone. */
  fail(): void;
}

interface StageHold {
  ports: readonly number[];
  next: number;
  readonly waiters: Set<Waiter>;
  /** When the wake handlers were last told; undefined once the stage serves or sleeps again. */
  wokenAt: number | undefined;
}

export class Activator implements ActivatorPort {
  readonly #o: ActivatorOptions;
  readonly #server: Server;
  readonly #stages = new Map<string, StageHold>();
  readonly #wakeHandlers: ((stageId: string) => void)[] = [];
  readonly #sockets = new Set<Socket>();
  #listening: Promise<Listen> | undefined;
  #closing: Promise<void> | undefined;
  #forwarded = 0;

  constructor(options: ActivatorOptions = {}) {
    if (options.address !== undefined) checkAddress('activator.address', options.address);
    this.#o = options;
    // No request timeout here: HAProxy bounds slow clients in front, and a held body is read only once released.
    // Idle connections outlive HAProxy's purge of its own (5 s), so it never reuses one being closed.
    this.#server = createServer({ requestTimeout: 0, keepAliveTimeout: 30_000 }, (req, res) =>
      this.#request(req, res),
    );
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  listen(): Promise<Listen> {
    this.#listening ??= new Promise((resolve, reject) => {
      const address = this.#o.address ?? '127.0.0.1';
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port ?? 0, address, () => {
        const bound = this.#server.address();
        resolve({ address, port: typeof bound === 'object' && bound ? bound.port : 0 });
      });
    });
    return this.#listening;
  }

  /** Requests forwarded to a stage since start (each one a woken request). */
  get forwarded(): number {
    return this.#forwarded;
  }

  /** Requests held for a stage now. */
  held(stageId: string): number {
    return this.#stages.get(stageId)?.waiters.size ?? 0;
  }

  onWake(handler: (stageId: string) => void): void {
    this.#wakeHandlers.push(handler);
  }

  serve(stageId: string, ports: readonly number[]): void {
    if (ports.length === 0) return this.sleep(stageId);
    const stage = this.#stage(stageId);
    stage.ports = [...ports];
    stage.wokenAt = undefined;
    for (const waiter of [...stage.waiters]) waiter.release(this.#pick(stage) ?? 0);
  }

  sleep(stageId: string): void {
    const stage = this.#stage(stageId);
    // Asleep already: a wake under way stays told.
    if (stage.ports.length === 0) return;
    stage.ports = [];
    stage.wokenAt = undefined;
  }

  remove(stageId: string): void {
    const stage = this.#stages.get(stageId);
    this.#stages.delete(stageId);
    for (const waiter of [...(stage?.waiters ?? [])]) waiter.fail();
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const stage of this.#stages.values()) for (const waiter of [...stage.waiters]) waiter.fail();
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
      setTimeout(() => {
        for (const socket of this.#sockets) socket.destroy();
      }, 2_000).unref();
    });
    return this.#closing;
  }

  #stage(stageId: string): StageHold {
    let stage = this.#stages.get(stageId);
    if (!stage) {
      stage = { ports: [], next: 0, waiters: new Set(), wokenAt: undefined };
      this.#stages.set(stageId, stage);
    }
    return stage;
  }

  #pick(stage: StageHold): number | undefined {
    if (stage.ports.length === 0) return undefined;
    stage.next = (stage.next + 1) % stage.ports.length;
    return stage.ports[stage.next];
  }

  /** Tells the wake handlers once per sleep; again only if a hold timed out and the stage still does not serve. */
  #wake(stageId: string, stage: StageHold): void {
    const now = Date.now();
    if (stage.wokenAt !== undefined && now - stage.wokenAt < this.#holdTimeoutMs) return;
    stage.wokenAt = now;
    for (const handler of this.#wakeHandlers) {
      try {
        handler(stageId);
      } catch (error) {
        this.#o.logger?.warn({ stage: stageId, err: (error as Error).message }, 'a wake handler failed');
      }
    }
  }

  get #holdTimeoutMs(): number {
    return this.#o.holdTimeoutMs ?? 30_000;
  }

  /**
   * Holds a request until its stage serves (then `release`), or answers it
   * with `fail` when the stage holds too many already, the hold times out or
   * the stage goes away. `onClose` lets the caller stop waiting for a client that left.
   */
  #hold(
    stageId: string,
    release: (port: number) => void,
    fail: () => void,
    onClose: (gone: () => void) => void,
  ): void {
    const stage = this.#stage(stageId);
    const port = this.#pick(stage);
    if (port !== undefined) return release(port);
    if (stage.waiters.size >= (this.#o.maxHeldPerStage ?? 100)) {
      this.#wake(stageId, stage);
      return fail();
    }
    const waiter: Waiter = {
      release: (next) => {
        settle();
        release(next);
      },
      fail: () => {
        settle();
        fail();
      },
    };
    const timer = setTimeout(() => waiter.fail(), this.#holdTimeoutMs);
    const settle = (): void => {
      clearTimeout(timer);
      stage.waiters.delete(waiter);
    };
    stage.waiters.add(waiter);
    onClose(settle);
    this.#wake(stageId, stage);
  }

  #request(req: IncomingMessage, res: ServerResponse): void {
    const stageId = stageIdOfBackend(String(req.headers[stageHeader] ?? ''));
    if (stageId === undefined) {
      this.#o.logger?.warn('a request reached the activator without a stage backend in X-Steward-Stage');
      return this.#unavailable(req, res);
    }
    this.#hold(
      stageId,
      (port) => this.#forward(req, res, port),
      () => this.#unavailable(req, res),
      (gone) => res.on('close', gone),
    );
  }

  #unavailable(req: IncomingMessage, res: ServerResponse): void {
    if (res.headersSent || res.destroyed) return;
    const given = req.headers['x-request-id'];
    const requestId =
      typeof given === 'string' && /^[A-Za-z0-9._:-]{1,100}$/.test(given) ? given : randomUUID();
    res.writeHead(startingPage.status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'retry-after': String(this.#o.retryAfterSeconds ?? 5),
    });
    res.end(htmlBody(startingPage, requestId));
  }

  #forward(req: IncomingMessage, res: ServerResponse, port: number): void {
    if (res.destroyed) return;
    this.#forwarded += 1;
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.url,
        headers: forwardHeaders(req),
        agent: false,
      },
      (answer) => {
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined && !hopByHopHeaders.has(name)) headers[name] = value;
        }
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      this.#o.logger?.warn(
        { port, err: error.code ?? error.message },
        'a woken request could not be forwarded',
      );
      if (res.headersSent) res.destroy();
      else this.#unavailable(req, res);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** A WebSocket (or other upgrade) to a sleeping stage: held the same way, then bytes flow both ways. */
  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const stageId = stageIdOfBackend(String(req.headers[stageHeader] ?? ''));
    const refuse = (): void => {
      if (!socket.destroyed) {
        socket.end(
          `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${this.#o.retryAfterSeconds ?? 5}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
        );
      }
    };
    if (stageId === undefined) return refuse();
    const release = (port: number): void => {
      if (socket.destroyed) return;
      this.#forwarded += 1;
      const upstream = connect({ host: '127.0.0.1', port });
      let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
      for (let index = 0; index < req.rawHeaders.length; index += 2) {
        text += `${req.rawHeaders[index]}: ${req.rawHeaders[index + 1]}\r\n`;
      }
      upstream.once('connect', () => {
        upstream.write(`${text}Via: ${activatorVia}\r\n\r\n`);
        if (head.length > 0) upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      upstream.on('close', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
    };
    this.#hold(stageId, release, refuse, (gone) => socket.on('close', gone));
  }
}

/** The request's end-to-end headers, with the activator named in Via. */
function forwardHeaders(req: IncomingMessage): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !hopByHopHeaders.has(name)) headers[name] = value;
  }
  headers.via = headers.via === undefined ? activatorVia : `${headers.via}, ${activatorVia}`;
  return headers;
}
