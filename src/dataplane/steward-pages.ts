import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { normaliseHost } from '../gateway/routes.ts';

/**
 * Steward's own pages behind HAProxy: a Node HTTP server on loopback that
 * HAProxy sends `status.<base>` and every host's `/.steward/…` to (backend
 * be_steward), so later pages (sign-in) need no second edge. HAProxy has
 * already terminated TLS and applied the edge's checks and limits.
 */
export type PageHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface StewardPagesOptions {
  /** A handler for a host Steward serves itself (the status page), if any. */
  readonly site?: (host: string) => PageHandler | undefined;
  /** Handlers for `/.steward/<name>` on every host, by the first path segment after `/.steward/`. */
  readonly paths?: Readonly<Record<string, PageHandler>>;
  /**
   * Handlers for a path prefix outside `/.steward/` (`/scim/v2`: the prefix
   * itself and everything below it), on the hosts HAProxy sends it from.
   */
  readonly prefixes?: Readonly<Record<string, PageHandler>>;
}

export class StewardPages {
  readonly #o: StewardPagesOptions;
  readonly #server: Server;

  constructor(options: StewardPagesOptions) {
    this.#o = options;
    this.#server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) =>
      this.#handle(req, res),
    );
  }

  /** Listens on 127.0.0.1 at `port` (0 or taken: any free one); returns the port. */
  async listen(port: number): Promise<number> {
    try {
      return await listenOn(this.#server, port);
    } catch (error) {
      if (port === 0 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      return listenOn(this.#server, 0);
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (url.startsWith('/.steward/')) {
      const name = url.slice('/.steward/'.length).split(/[/?]/)[0] ?? '';
      const handler = Object.hasOwn(this.#o.paths ?? {}, name) ? this.#o.paths?.[name] : undefined;
      if (handler) return handler(req, res);
      return notFound(res);
    }
    for (const [prefix, handler] of Object.entries(this.#o.prefixes ?? {})) {
      if (url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`))
        return handler(req, res);
    }
    const host = normaliseHost(req.headers.host);
    const site = host === undefined ? undefined : this.#o.site?.(host);
    if (site) return site(req, res);
    notFound(res);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end('404 Not found\n');
}

function listenOn(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
