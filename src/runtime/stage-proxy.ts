import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { hopByHopHeaders } from '../system/http-headers.ts';

/**
 * A stage's published endpoint: an HTTP proxy on a fixed port that forwards
 * each request to one of the stage's current web processes. Deploys switch
 * the backends between requests, so a handover drops nothing: requests
 * already sent to the old processes finish there, new ones go to the new
 * processes, and the old ones are stopped once drained. With no backend (a
 * stage scaled to zero, or starting), requests are held until one is ready.
 */
export interface StageProxyOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  /** How long a request may wait for a backend before it gets 503. */
  readonly holdTimeoutMs?: number;
  /** Called when a request arrives and no backend is set: the stage should be started. */
  readonly onWake?: () => void;
}

interface Backend {
  readonly port: number;
  readonly agent: Agent;
  inFlight: number;
}

const hopByHop = hopByHopHeaders;

export class StageProxy {
  readonly #o: StageProxyOptions;
  readonly #server: Server;
  #backends: Backend[] = [];
  readonly #retired = new Map<number, Backend>();
  #next = 0;
  #waiters: (() => void)[] = [];
  #lastRequestAt = Date.now();
  #inFlight = 0;
  readonly #sockets = new Set<Socket>();
  #listening: Promise<number> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: StageProxyOptions) {
    this.#o = options;
    this.#server = createServer(
      { keepAliveTimeout: 5000, headersTimeout: 10_000, requestTimeout: 120_000 },
      (req, res) => this.#handle(req, res),
    );
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : this.#o.port;
  }

  get backendPorts(): number[] {
    return this.#backends.map((b) => b.port);
  }

  /** Milliseconds since the last request, for scale to zero. */
  idleMs(now = Date.now()): number {
    return this.#inFlight > 0 ? 0 : now - this.#lastRequestAt;
  }

  listen(): Promise<number> {
    this.#listening ??= new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => resolve(this.port));
    });
    return this.#listening;
  }

  /** Points new requests at these web process ports; requests in flight elsewhere finish where they are. */
  setBackends(ports: readonly number[]): void {
    const kept: Backend[] = [];
    for (const port of ports) {
      const existing = this.#backends.find((b) => b.port === port) ?? this.#retired.get(port);
      this.#retired.delete(port);
      kept.push(existing ?? { port, agent: new Agent({ keepAlive: true, maxSockets: 256 }), inFlight: 0 });
    }
    for (const old of this.#backends) if (!ports.includes(old.port)) this.#retired.set(old.port, old);
    this.#backends = kept;
    if (kept.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Waits until no request is in flight to these ports (or the timeout passes), then forgets them. */
  async drain(ports: readonly number[], timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const busy = ports.some((p) => (this.#retired.get(p)?.inFlight ?? 0) > 0);
      if (!busy || Date.now() > deadline) {
        for (const port of ports) {
          this.#retired.get(port)?.agent.destroy();
          this.#retired.delete(port);
        }
        return !busy;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  #pick(): Backend | undefined {
    if (this.#backends.length === 0) return undefined;
    const backend = this.#backends[this.#next % this.#backends.length];
    this.#next = (this.#next + 1) % 1_000_000;
    return backend;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.#lastRequestAt = Date.now();
    this.#inFlight++;
    res.on('close', () => {
      this.#inFlight--;
      this.#lastRequestAt = Date.now();
    });
    const backend = this.#pick();
    if (backend) return this.#forward(backend, req, res, Date.now() + (this.#o.holdTimeoutMs ?? 30_000));
    this.#hold(req, res);
  }

  #hold(req: IncomingMessage, res: ServerResponse): void {
    this.#o.onWake?.();
    const timer = setTimeout(() => {
      this.#waiters = this.#waiters.filter((w) => w !== resume);
      if (!res.headersSent) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
        res.end('The application is starting; try again in a few seconds.\n');
      }
    }, this.#o.holdTimeoutMs ?? 30_000);
    const resume = (): void => {
      clearTimeout(timer);
      const next = this.#pick();
      if (next) this.#forward(next, req, res, Date.now() + (this.#o.holdTimeoutMs ?? 30_000));
    };
    this.#waiters.push(resume);
  }

  /**
   * A backend that refuses the connection is restarting (killed, crashed):
   * nothing reached the app, so a request without a body is held and sent
   * again, to the same or another backend, until `holdUntil`; then 502.
   */
  #forward(backend: Backend, req: IncomingMessage, res: ServerResponse, holdUntil: number): void {
    backend.inFlight++;
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      backend.inFlight--;
    };
    const bodiless =
      req.headers['transfer-encoding'] === undefined && Number(req.headers['content-length'] ?? 0) === 0;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
    }
    const upstream = httpRequest(
      {
        host: '127.0.0.1',
        port: backend.port,
        method: req.method,
        path: req.url,
        headers,
        agent: backend.agent,
      },
      (upstreamRes) => {
        const responseHeaders: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (value !== undefined && !hopByHop.has(name)) responseHeaders[name] = value;
        }
        res.writeHead(upstreamRes.statusCode ?? 502, responseHeaders);
        upstreamRes.pipe(res);
        upstreamRes.on('end', done);
        upstreamRes.on('error', done);
      },
    );
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      done();
      if (error.code === 'ECONNREFUSED' && bodiless && !res.headersSent && Date.now() < holdUntil) {
        res.off('close', onClose);
        setTimeout(() => {
          if (res.destroyed) return;
          const next = this.#pick();
          if (next) this.#forward(next, req, res, holdUntil);
          else this.#hold(req, res);
        }, 50);
        return;
      }
      this.#o.logger.warn(
        { backend: backend.port, err: error.code ?? error.message },
        'upstream request failed',
      );
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('The application did not answer.\n');
      } else {
        res.destroy();
      }
    });
    const onClose = (): void => {
      if (!res.writableFinished) upstream.destroy();
      done();
    };
    res.on('close', onClose);
    if (bodiless) {
      req.resume();
      upstream.end();
    } else req.pipe(upstream);
  }

  /**
   * A WebSocket (or other upgrade): the request goes to one web process as it
   * came, then bytes flow both ways until either side closes. While it is
   * open the stage counts as busy (no scale to zero); a deploy's drain does
   * not wait for it, so a handover closes it and the client reconnects.
   */
  #upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.#lastRequestAt = Date.now();
    this.#inFlight++;
    let open = true;
    const finish = (): void => {
      if (!open) return;
      open = false;
      this.#inFlight--;
      this.#lastRequestAt = Date.now();
    };
    socket.on('close', finish);
    socket.on('error', () => socket.destroy());
    const send = (backend: Backend): void => {
      if (socket.destroyed) return;
      const upstream = connect({ host: '127.0.0.1', port: backend.port });
      let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      }
      upstream.once('connect', () => {
        upstream.write(`${text}\r\n`);
        if (head.length > 0) upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        this.#o.logger.warn({ backend: backend.port, err: error.code ?? error.message }, 'upgrade failed');
        socket.destroy();
      });
      upstream.on('close', () => socket.destroy());
      socket.on('close', () => upstream.destroy());
    };
    const backend = this.#pick();
    if (backend) return send(backend);
    this.#o.onWake?.();
    const timer = setTimeout(() => {
      this.#waiters = this.#waiters.filter((w) => w !== resume);
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }, this.#o.holdTimeoutMs ?? 30_000);
    const resume = (): void => {
      clearTimeout(timer);
      const next = this.#pick();
      if (next) send(next);
      else socket.destroy();
    };
    this.#waiters.push(resume);
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const wake of this.#waiters) wake();
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
      setTimeout(() => {
        for (const socket of this.#sockets) socket.destroy();
      }, 2000).unref();
      for (const backend of [...this.#backends, ...this.#retired.values()]) backend.agent.destroy();
    });
    return this.#closing;
  }
}
