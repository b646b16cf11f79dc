/**
 * The web process: node:http with keep-alive, JSON API and one HTML page.
 *
 * SIGTERM drains: the listener closes (no new connections), requests in
 * flight finish, idle keep-alive connections are closed at once and busy
 * ones after their response, then the pool ends and the process exits 0.
 * Past LEDGER_SHUTDOWN_SECONDS the rest is cut and the exit code is 1.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRoutes, matchRoute } from './api.ts';
import { ConfigError, parseConfig, type Config } from './config.ts';
import { createPool } from './db.ts';
import { HttpError, sendJson } from './http.ts';
import { anonymous, IdentityVerifier } from './identity.ts';
import { Folders } from './folders.ts';
import { Ledger } from './ledger.ts';
import { createLogger, errorFields } from './log.ts';

function startFailed(error: unknown): never {
  process.stderr.write(`ledger web: ${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
}

function loadConfig(): Config {
  try {
    return parseConfig(process.env, { port: true, filesDir: true });
  } catch (error) {
    startFailed(error);
  }
}

const config = loadConfig();
const logger = createLogger(
  { process: 'web', tenant: config.tenant, stage: config.stage, release: config.release },
  { debug: config.debug },
);
function loadVerifier(): IdentityVerifier {
  try {
    return new IdentityVerifier({
      tenant: config.tenant,
      stage: config.stage,
      jwks: config.identityJwks,
      jwksUrl: config.identityJwksUrl,
      logger,
    });
  } catch (error) {
    startFailed(error);
  }
}
const verifier = loadVerifier();
const pool = createPool(config.databaseUrl, logger, 'ledger-web');
const routes = createRoutes({ config, pool, ledger: new Ledger(pool), folders: new Folders(pool) });

let draining = false;
let inFlight = 0;
/** Responses not yet started: on drain they are told to close their connection. */
const pending = new Set<ServerResponse>();
let requestSeq = 0;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const id = ++requestSeq;
  inFlight++;
  pending.add(res);
  // While draining, every response tells the client to go elsewhere next time.
  if (draining) res.setHeader('connection', 'close');
  let identity = anonymous;
  const url = new URL(req.url ?? '/', 'http://ledger.invalid');
  try {
    const verified = await verifier.identityOf(req.headers);
    identity = verified.identity;
    const { handler, params } = matchRoute(routes, req.method ?? 'GET', url.pathname);
    await handler({ req, res, url, params, identity, refused: verified.refused });
  } catch (error) {
    const known =
      error instanceof HttpError
        ? error
        : error instanceof URIError
          ? new HttpError(400, 'input', 'the path is not valid percent-encoding', 'path')
          : undefined;
    if (!known) logger.error('request failed', { id, path: url.pathname, ...errorFields(error) });
    if (!res.headersSent) {
      const failure = known ?? new HttpError(500, 'internal', 'the request failed; see the ledger logs');
      // The rest of a refused upload is not worth reading.
      if (failure.status === 413 || !req.complete) res.setHeader('connection', 'close');
      sendJson(res, failure.status, failure.toBody());
    } else {
      res.destroy();
    }
  } finally {
    inFlight--;
    pending.delete(res);
    const ms = Math.round((performance.now() - started) * 10) / 10;
    const fields = {
      id,
      method: req.method,
      path: url.pathname,
      status: res.statusCode,
      ms,
      user: identity.id,
    };
    if (url.pathname === '/healthz' && res.statusCode === 200) logger.debug('request', fields);
    else logger.info('request', fields);
    if (draining) server.closeIdleConnections();
  }
}

const server = createServer(
  { keepAlive: true, keepAliveTimeout: 5_000, requestTimeout: 120_000 },
  (req, res) => {
    void handle(req, res);
  },
);
server.on('clientError', (error, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  logger.debug('client error', errorFields(error));
});

// Responses written after drain starts close their connection once sent.
server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
  res.once('finish', () => {
    if (draining) server.closeIdleConnections();
  });
});

async function shutdown(signal: string): Promise<void> {
  if (draining) return;
  draining = true;
  logger.info('draining', { signal, inFlight });
  for (const res of pending) if (!res.headersSent) res.setHeader('connection', 'close');
  const deadline = setTimeout(() => {
    logger.error('drain deadline passed; closing the remaining connections', {
      inFlight,
      seconds: config.shutdownSeconds,
    });
    server.closeAllConnections();
    process.exitCode = 1;
  }, config.shutdownSeconds * 1000);
  deadline.unref();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await closed;
  await pool.end().catch((error: unknown) => logger.warn('closing the pool failed', errorFields(error)));
  clearTimeout(deadline);
  logger.info('stopped', { signal });
  process.exit(process.exitCode ?? 0);
}

process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

server.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info('listening', { host: config.host, port });
});
server.on('error', (error) => {
  logger.error('cannot listen', { port: config.port, ...errorFields(error) });
  process.exit(1);
});
