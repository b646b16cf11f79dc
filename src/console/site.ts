import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

/**
 * The built console (web/dist) as the API server serves it at `/`: read
 * once at start into memory (a few hundred KiB), so that a request never
 * touches the file system and no path can leave the directory. `answer` is
 * a pure function of the loaded files and the request.
 */
export interface ConsoleFile {
  readonly type: string;
  readonly body: Buffer;
  /** Precompressed by the build (`<file>.br`, `<file>.gz`), when it made them. */
  readonly br?: Buffer;
  readonly gzip?: Buffer;
  readonly etag: string;
}

export interface ConsoleSite {
  readonly dir: string;
  /** By URL path: `/index.html`, `/assets/index-3f2a1c.js`. */
  readonly files: ReadonlyMap<string, ConsoleFile>;
}

export interface ConsoleRequest {
  readonly method: string;
  /** The URL's path and query as sent. */
  readonly url: string;
  readonly acceptEncoding: string | undefined;
  readonly ifNoneMatch: string | undefined;
}

export interface ConsoleAnswer {
  readonly status: 200 | 304 | 404;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
}

/**
 * No inline script, no other origin: the console's scripts and its API are
 * this host's. Inline styles are allowed (components set them); scripts never.
 */
export const consoleCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

const types: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Vite names what it builds into `assets/` by content hash: those never change under their name. */
const immutablePrefix = '/assets/';

/** The built console in `dir`, or undefined when it is not built (no index.html). */
export async function loadConsole(dir: string): Promise<ConsoleSite | undefined> {
  if (!existsSync(join(dir, 'index.html'))) return undefined;
  const files = new Map<string, ConsoleFile>();
  const raw = new Map<string, Buffer>();
  const walk = async (at: string, prefix: string): Promise<void> => {
    for (const name of await readdir(at)) {
      const path = join(at, name);
      const stat = await lstat(path);
      // Only what the build wrote: plain files and directories, no links.
      if (stat.isDirectory()) await walk(path, `${prefix}${name}/`);
      else if (stat.isFile()) raw.set(`${prefix}${name}`, await readFile(path));
    }
  };
  await walk(dir, '/');
  for (const [path, body] of raw) {
    if (path.endsWith('.br') || path.endsWith('.gz')) continue;
    const br = raw.get(`${path}.br`);
    const gzip = raw.get(`${path}.gz`);
    files.set(path, {
      type: types[extname(path).toLowerCase()] ?? 'application/octet-stream',
      body,
      ...(br ? { br } : {}),
      ...(gzip ? { gzip } : {}),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  return { dir, files };
}

/** Whether a path is the API's: the console never answers those, not even with its page. */
export function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

/**
 * The answer to a GET or HEAD outside /api: the file by its path, else the
 * console's page (a route of the single-page app: `/tenants/acme`), but a
 * missing hashed asset is a 404 (a page in its place would only be
 * misread as a script).
 */
export function answer(site: ConsoleSite, request: ConsoleRequest): ConsoleAnswer {
  const path = request.url.split('?')[0] ?? '/';
  let file = path === '/' ? undefined : site.files.get(path);
  let cache = path.startsWith(immutablePrefix)
    ? 'public, max-age=31536000, immutable'
    : // Revalidated each time: a new build's page names its new assets at once.
      'no-cache';
  if (!file) {
    if (path.startsWith(immutablePrefix)) return notFound();
    file = site.files.get('/index.html');
    cache = 'no-cache';
    if (!file) return notFound();
  }
  const headers: Record<string, string> = {
    'content-type': file.type,
    'cache-control': cache,
    etag: file.etag,
    'content-security-policy': consoleCsp,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'same-origin',
  };
  if (file.br || file.gzip) headers.vary = 'accept-encoding';
  if (request.ifNoneMatch !== undefined && request.ifNoneMatch.split(/\s*,\s*/).includes(file.etag)) {
    return { status: 304, headers, body: undefined };
  }
  const accepted = encodings(request.acceptEncoding);
  let body = file.body;
  if (file.br && accepted.has('br')) {
    body = file.br;
    headers['content-encoding'] = 'br';
  } else if (file.gzip && accepted.has('gzip')) {
    body = file.gzip;
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = String(body.length);
  return { status: 200, headers, body: request.method === 'HEAD' ? undefined : body };
}

/** The codings a client accepts (those it names without q=0). */
function encodings(header: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    out.add(name);
  }
  return out;
}

function notFound(): ConsoleAnswer {
  return {
    status: 404,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    body: Buffer.from('404 Not found\n'),
  };
}
