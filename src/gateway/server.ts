import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import type { ControlDb } from '../store/db.ts';
import type { CertificateAuthority } from '../tls/ca.ts';
import { checkRequest, watchBody } from './guard.ts';
import { gatewayLimitDefaults, type GatewayLimits } from './limits.ts';
import { pages, plainBody, type GatewayPage } from './pages.ts';
import { StageForwarder, writeRawPage, type ForwardContext } from './proxy.ts';
import { buildRouteTable, normaliseHost, type Route, type RouteTable } from './routes.ts';
import { loadCertificates, loadRouteSources, routesChannel } from './state.ts';
import { ChannelListener } from '../store/listener.ts';
import { CertificateStore, tlsSettings, type OperatorCertificate } from './tls.ts';
import { logPassFailure } from '../core/logger.ts';

/**
 * The gateway: the TLS edge that routes end users to their tenant's stage.
 * Routes and certificates live in memory and are reloaded whole on every
 * NOTIFY steward_routes and on a periodic resync; a request costs one map
 * lookup and no query. Any number of gateway processes can serve the same
 * control database.
 */
export type GatewaySettings = Config['gateway'];

export interface SecretReader {
  get(name: string): Promise<string>;
}

/** One finished exchange, for metrics and the access log. */
export interface GatewayExchange {
  readonly requestId: string;
  readonly method: string;
  readonly host: string | undefined;
  readonly route: Route | undefined;
  readonly status: number;
  readonly durationMs: number;
  readonly clientAddress: string;
  /** The request target (path and query) as checked, and the client's User-Agent: for the access log. */
  readonly target?: string | undefined;
  readonly userAgent?: string | undefined;
}

/**
 * Where limits, metrics and the access log plug in. `admit` runs after the
 * route is known and before the request is forwarded: a page turns it away
 * (429 from a rate limit, for example). It must be synchronous and cheap.
 */
export interface GatewayHooks {
  readonly admit?: (req: IncomingMessage, route: Route, clientAddress: string) => GatewayPage | undefined;
  readonly observe?: (exchange: GatewayExchange) => void;
  /** Every client TCP connection, before TLS (the per-address connection cap). */
  readonly connection?: (socket: Socket) => void;
}

export interface GatewayOptions {
  readonly settings: GatewaySettings;
  readonly db: ControlDb;
  /** LISTEN needs a session of its own; it is taken from this pool and kept. */
  readonly pool: pg.Pool;
  readonly secrets: SecretReader;
  readonly ca: CertificateAuthority;
  readonly logger: Logger;
  readonly hooks?: GatewayHooks;
  /** Which ports, when taken, move to a free one instead of failing (`steward up`'s defaults). */
  readonly anyPortIfTaken?: { readonly port: boolean; readonly httpPort: boolean };
  /** Limits on clients; gatewayLimitDefaults when not given. */
  readonly limits?: GatewayLimits;
  /** Steward's own pages (the status page): a handler for a host, before any stage's route. */
  readonly site?: (host: string) => ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
}

export interface GatewayAddress {
  readonly host: string;
  readonly port: number;
  /** The redirecting plain HTTP port, when enabled. */
  readonly httpPort: number | undefined;
  /** https://<baseDomain>:<port>, for messages. */
  readonly url: string;
}

export class Gateway {
  readonly #o: GatewayOptions;
  readonly #limits: GatewayLimits;
  readonly #logger: Logger;
  readonly #hsts: readonly string[];
  #table: RouteTable;
  readonly #certificates: CertificateStore;
  readonly #forwarder: StageForwarder;
  #https: Server | undefined;
  #http: Server | undefined;
  readonly #listener: ChannelListener;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #again = false;
  /** Upgraded connections (WebSockets) belong to no HTTP server any more: closed here on stop. */
  readonly #upgraded = new Set<Duplex>();
  #stopped = false;
  #starting: Promise<GatewayAddress> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: GatewayOptions) {
    this.#o = options;
    this.#limits = options.limits ?? gatewayLimitDefaults;
    this.#logger = options.logger.child({ component: 'gateway' });
    this.#table = buildRouteTable([], options.settings.baseDomain);
    this.#hsts =
      options.settings.hstsMaxAgeSeconds > 0
        ? ['Strict-Transport-Security', `max-age=${options.settings.hstsMaxAgeSeconds}`]
        : [];
    this.#certificates = new CertificateStore({
      ca: options.ca,
      baseDomain: options.settings.baseDomain,
      isRouted: (host) => this.#table.has(host) || options.site?.(host) !== undefined,
      logger: this.#logger,
    });
    this.#listener = new ChannelListener({
      pool: options.pool,
      channel: routesChannel,
      about: 'route',
      logger: this.#logger,
      onNotification: () => void this.refresh(),
      onResumed: () => void this.refresh(),
    });
    this.#forwarder = new StageForwarder({
      logger: this.#logger,
      responseHeaders: this.#hsts,
      upstreamTimeoutMs: options.settings.upstreamTimeoutSeconds * 1000,
      maxBodyBytes: this.#limits.maxBodyBytes,
      ...(options.hooks?.observe
        ? { onResponse: (context, status, startedAt) => this.#observe(context, status, startedAt) }
        : {}),
    });
  }

  /** The routes this process serves now. */
  get routes(): RouteTable {
    return this.#table;
  }

  start(): Promise<GatewayAddress> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<GatewayAddress> {
    const { settings } = this.#o;
    await this.#listener.start();
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), settings.resyncSeconds * 1000);
    this.#timer.unref();
    const fallback = await this.#certificates.defaultCertificate();
    const https = createHttpsServer(
      {
        ...tlsSettings,
        key: fallback.key,
        cert: fallback.cert,
        SNICallback: this.#certificates.sniCallback,
        // Slow clients (slowloris): the head must arrive within headersTimeout, checked every second.
        headersTimeout: this.#limits.headersTimeoutMs,
        requestTimeout: this.#limits.requestTimeoutMs,
        keepAliveTimeout: this.#limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: 1_000,
      },
      (req, res) => this.#handle(req, res),
    );
    https.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
    const onConnection = this.#o.hooks?.connection;
    if (onConnection) https.on('connection', onConnection);
    // A refused handshake (old protocol, weak cipher) is the client's problem, not an event worth a warning.
    https.on('tlsClientError', (error: Error) =>
      this.#logger.debug({ err: error.message }, 'TLS handshake refused'),
    );
    this.#https = https;
    const port = await this.#listenOn(https, settings.port, settings.host, this.#o.anyPortIfTaken?.port);
    let httpPort: number | undefined;
    if (settings.httpPort !== 0) {
      const http = createHttpServer({ headersTimeout: 10_000, requestTimeout: 10_000 }, (req, res) =>
        this.#redirect(req, res, port),
      );
      this.#http = http;
      httpPort = await this.#listenOn(
        http,
        settings.httpPort,
        settings.host,
        this.#o.anyPortIfTaken?.httpPort,
      );
    }
    const url = `https://${settings.baseDomain}${port === 443 ? '' : `:${port}`}`;
    this.#logger.info(
      { host: settings.host, port, httpPort, routes: this.#table.routes.length },
      'gateway listening',
    );
    return { host: settings.host, port, httpPort, url };
  }

  async #listenOn(server: Server, port: number, host: string, movable = false): Promise<number> {
    try {
      return await listen(server, port, host);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !movable) throw error;
      this.#logger.warn({ port }, 'gateway port taken; listening on a free one');
      return listen(server, 0, host);
    }
  }

  /** One pass: reload routes and certificates from desired state. Concurrent calls share a pass. */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pass();
        } while (this.#again && !this.#stopped);
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #pass(): Promise<void> {
    try {
      const [sources, stored] = await Promise.all([
        loadRouteSources(this.#o.db),
        loadCertificates(this.#o.db),
      ]);
      const table = buildRouteTable(sources, this.#o.settings.baseDomain);
      const certificates: OperatorCertificate[] = [];
      for (const certificate of stored) {
        // Keys are read only for new or replaced certificates, not on every pass.
        let keyPem: string | undefined;
        if (this.#certificates.operatorVersion(certificate.domain) !== certificate.version) {
          try {
            keyPem = await this.#o.secrets.get(certificate.keySecret);
          } catch (error) {
            this.#logger.error(
              { domain: certificate.domain, err: (error as Error).message },
              'certificate key unreadable; keeping the certificate in use, if any',
            );
          }
        }
        certificates.push({
          domain: certificate.domain,
          certPem: certificate.certPem,
          keyPem,
          version: certificate.version,
        });
      }
      this.#table = table;
      this.#certificates.setOperatorCertificates(certificates);
      this.#certificates.prune();
      this.#forwarder.retain(table.ports);
    } catch (error) {
      logPassFailure(this.#logger, error, 'route reload failed; serving the previous routes');
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const requestId = randomUUID();
    const clientAddress = plainAddress(req.socket.remoteAddress);
    // Request target, Host against SNI (421), header framing and sizes: refused before the lookup.
    const checked = checkRequest(req, this.#limits, clientAddress);
    if (checked.kind === 'refuse') {
      res.shouldKeepAlive = false;
      this.#forwarder.sendPage(res, checked.page, { requestId });
      this.#observeLocal(req, requestId, undefined, undefined, checked.page.status, clientAddress);
      return;
    }
    if (checked.hasBody) watchBody(req, this.#limits.bodyIdleTimeoutMs);
    const host = checked.host;
    const site = this.#o.site?.(host);
    if (site) {
      res.setHeader('X-Request-Id', requestId);
      for (let i = 0; i + 1 < this.#hsts.length; i += 2)
        res.setHeader(this.#hsts[i] ?? '', this.#hsts[i + 1] ?? '');
      res.once('finish', () =>
        this.#observeLocal(req, requestId, host, undefined, res.statusCode, clientAddress),
      );
      site(req, res);
      return;
    }
    const route = this.#table.get(host);
    if (!route) {
      this.#unknownHost(res, requestId);
      this.#observeLocal(req, requestId, host, undefined, 404, clientAddress);
      return;
    }
    const refused = this.#refuse(req, route, clientAddress);
    if (refused) {
      if ('retryAfterSeconds' in refused && typeof refused.retryAfterSeconds === 'number') {
        res.setHeader('Retry-After', String(refused.retryAfterSeconds));
      }
      this.#forwarder.sendPage(res, refused, { requestId });
      this.#observeLocal(req, requestId, host, route, refused.status, clientAddress);
      return;
    }
    // Target and User-Agent ride along for the access log (#observe reads them back).
    const context = {
      route,
      requestId,
      clientAddress,
      host,
      method: req.method ?? '',
      target: req.url,
      userAgent: req.headers['user-agent'],
    };
    this.#forwarder.forward(req, res, context);
  }

  /** Allow list, maintenance, then the admission hook (limits). */
  #refuse(req: IncomingMessage, route: Route, clientAddress: string): GatewayPage | undefined {
    if (!route.allows(clientAddress)) return pages.forbidden;
    if (route.maintenance) return pages.maintenance;
    return this.#o.hooks?.admit?.(req, route, clientAddress);
  }

  #unknownHost(res: ServerResponse, requestId: string): void {
    const body = plainBody(pages.unknownHost);
    res.writeHead(404, [
      'Content-Type',
      'text/plain; charset=utf-8',
      'Content-Length',
      String(Buffer.byteLength(body)),
      'Cache-Control',
      'no-store',
      'X-Request-Id',
      requestId,
      ...this.#hsts,
    ]);
    res.end(body);
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const requestId = randomUUID();
    socket.on('error', () => socket.destroy());
    const clientAddress = plainAddress(req.socket.remoteAddress);
    const checked = checkRequest(req, this.#limits, clientAddress);
    if (checked.kind === 'refuse') {
      writeRawPage(socket, checked.page, requestId, this.#hsts);
      return;
    }
    const host = checked.host;
    const route = this.#table.get(host);
    if (!route) {
      writeRawPage(socket, pages.unknownHost, requestId, this.#hsts);
      return;
    }
    const refused = this.#refuse(req, route, clientAddress);
    if (refused) {
      writeRawPage(socket, refused, requestId, this.#hsts);
      return;
    }
    this.#upgraded.add(socket);
    socket.once('close', () => this.#upgraded.delete(socket));
    this.#forwarder.upgrade(req, socket, head, {
      route,
      requestId,
      clientAddress,
      host,
      method: req.method ?? '',
    });
  }

  /** Plain HTTP answers only with a redirect to the same host and path over HTTPS. */
  #redirect(req: IncomingMessage, res: ServerResponse, httpsPort: number): void {
    const host = normaliseHost(req.headers.host);
    const target = req.url ?? '/';
    if (host === undefined || !/^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/.test(host) || !target.startsWith('/')) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end('400 Bad Request\n');
      return;
    }
    res.writeHead(308, {
      location: `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}${target}`,
      'content-length': '0',
    });
    res.end();
  }

  #observe(context: ForwardContext, status: number, startedAt: number): void {
    try {
      this.#o.hooks?.observe?.({
        requestId: context.requestId,
        method: context.method,
        host: context.host,
        route: context.route,
        status,
        durationMs: performance.now() - startedAt,
        clientAddress: context.clientAddress,
        target: 'target' in context && typeof context.target === 'string' ? context.target : undefined,
        userAgent:
          'userAgent' in context && typeof context.userAgent === 'string' ? context.userAgent : undefined,
      });
    } catch {
      // Observing never breaks a request.
    }
  }

  #observeLocal(
    req: IncomingMessage,
    requestId: string,
    host: string | undefined,
    route: Route | undefined,
    status: number,
    clientAddress: string,
  ): void {
    if (!this.#o.hooks?.observe) return;
    try {
      this.#o.hooks.observe({
        requestId,
        method: req.method ?? '',
        host,
        route,
        status,
        durationMs: 0,
        clientAddress,
        target: req.url,
        userAgent: req.headers['user-agent'],
      });
    } catch {
      // Observing never breaks a request.
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    await this.#starting?.catch(() => undefined);
    if (this.#timer) clearInterval(this.#timer);
    this.#listener.stop();
    await this.#refreshing;
    const closing = [this.#https, this.#http].map(
      (server) =>
        new Promise<void>((resolve) => {
          if (!server?.listening) return resolve();
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    );
    // In-flight requests get a moment to finish; then every connection is cut.
    const deadline = setTimeout(() => {
      this.#https?.closeAllConnections();
      this.#http?.closeAllConnections();
    }, 2000);
    for (const socket of this.#upgraded) socket.destroy();
    await Promise.all(closing);
    clearTimeout(deadline);
    this.#forwarder.close();
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Room for a burst of new clients (Node's default is 511): past it the kernel drops their
    // SYNs and each waits a second or more to retry. The kernel caps it at net.core.somaxconn.
    server.listen({ port, host, backlog: 4096 }, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d; the stage sees a.b.c.d. */
function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
