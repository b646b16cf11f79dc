import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { strippedRequestHeaders } from '../../src/gateway/headers.ts';

/**
 * The hostile-input cases, first written against the Node gateway and now
 * run against HAProxy (test/dataplane/hostile.test.ts, limits.test.ts): raw
 * requests over TLS to an edge that
 * routes two tenants, acme and globex, each to a backend that records every
 * request it receives. Each request must be refused or normalised, and
 * nothing may reach the other tenant's stage.
 */

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly complete: boolean;
}

export interface Backend {
  readonly server: Server;
  readonly port: number;
  readonly seen: Seen[];
}

export async function backend(name: string): Promise<Backend> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (chunk: string) => (body += chunk));
    const record = (complete: boolean): void => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, complete });
    };
    req.on('end', () => {
      record(true);
      // A stage that sets headers the edge owns (HSTS, the request id) or hop-by-hop ones, for /stage-sets-headers.
      const own = req.url?.startsWith('/stage-sets-headers')
        ? { 'strict-transport-security': 'max-age=0', 'x-request-id': 'stage-id', 'keep-alive': 'timeout=99' }
        : {};
      res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name, ...own });
      res.end(`${name} ${req.method} ${req.url}`);
    });
    req.on('aborted', () => record(false));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

export interface Reply {
  readonly text: string;
  readonly statuses: number[];
  /** The server closed the connection (rather than our timeout ending the wait). */
  readonly closed: boolean;
  readonly ms: number;
}

/** Sends raw bytes (chunks with pauses between them) and reads until the server closes or the wait ends. */
export async function sendRaw(
  chunks: string | readonly (string | number)[],
  options: { port: number; ca: string; sni?: string | null; waitMs?: number },
): Promise<Reply> {
  const sni = options.sni === undefined ? 'acme.localhost' : options.sni;
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: options.port,
      ...(sni === null ? {} : { servername: sni }),
      ca: options.ca,
      checkServerIdentity: () => undefined,
    });
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ text, statuses, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 5_000);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => finish(true));
    // A reset counts as the server closing; a request that needed an answer fails on its missing status.
    socket.on('error', () => finish(true));
    socket.once('secureConnect', () => {
      void (async () => {
        for (const chunk of typeof chunks === 'string' ? [chunks] : chunks) {
          if (done || socket.destroyed) return;
          if (typeof chunk === 'number') await new Promise((r) => setTimeout(r, chunk));
          else socket.write(chunk);
        }
      })();
    });
  });
}

export const get = (host: string, path = '/', extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`;

/**
 * How HAProxy answers a case differently from the Node gateway, equally
 * safely; `why` says why it is equally safe. The stage sees `seen` (acme's
 * requests; globex never sees one).
 */
export interface HaproxyAnswer {
  readonly statuses: readonly number[];
  readonly seen: readonly string[];
  readonly why: string;
}

export interface RefusedCase {
  readonly name: string;
  readonly raw: string;
  readonly status: number;
  readonly sni?: string;
  readonly haproxy?: HaproxyAnswer;
}

export const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: globex.localhost\r\n\r\n';
export const refusedCases: readonly RefusedCase[] = [
  {
    name: 'Content-Length then Transfer-Encoding (CL.TE)',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n${smuggled}`,
    status: 400,
    haproxy: {
      statuses: [200],
      seen: ['POST /a'],
      why: 'HAProxy reads the body as chunked (RFC 9112 6.3), drops Content-Length and closes the connection after the answer: the smuggled request is never read',
    },
  },
  {
    name: 'Transfer-Encoding then Content-Length (TE.CL)',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n${smuggled}`,
    status: 400,
    haproxy: {
      statuses: [200],
      seen: ['POST /a'],
      why: 'as CL.TE: read as chunked, Content-Length dropped, the connection closed after the answer',
    },
  },
  {
    name: 'an obfuscated Transfer-Encoding next to Content-Length',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    status: 400,
  },
  {
    name: 'Transfer-Encoding gzip, chunked',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
    haproxy: {
      statuses: [422],
      seen: [],
      why: 'HAProxy refuses a coding other than chunked itself, with 422, before any rule runs: refused all the same',
    },
  },
  {
    name: 'Transfer-Encoding twice',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: 'two equal Content-Lengths',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd`,
    status: 400,
    haproxy: {
      statuses: [200],
      seen: ['POST /a'],
      why: 'HAProxy merges equal Content-Lengths into one (RFC 9110 8.6) and sends the stage one',
    },
  },
  {
    name: 'two different Content-Lengths',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 0\r\nContent-Length: 51\r\n\r\n${smuggled}`,
    status: 400,
  },
  {
    name: 'a negative Content-Length',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: -1\r\n\r\n`,
    status: 400,
  },
  {
    name: 'a Content-Length that is not a number',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 4x\r\n\r\nabcd`,
    status: 400,
  },
  {
    name: 'a Content-Length list',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 4, 4\r\n\r\nabcd`,
    status: 400,
    haproxy: {
      statuses: [200],
      seen: ['POST /a'],
      why: 'HAProxy reads a list of equal values as that one value (RFC 9110 8.6) and sends the stage one Content-Length',
    },
  },
  {
    name: 'a Content-Length over the body limit',
    raw: `POST /a HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 10485761\r\nConnection: close\r\n\r\n`,
    status: 413,
  },
  {
    name: 'an absolute-form target naming the other tenant',
    raw: get('acme.localhost', 'https://globex.localhost/steal'),
    status: 421,
    haproxy: {
      statuses: [400],
      seen: [],
      why: "HAProxy's parser refuses an absolute-form authority other than Host before any rule runs",
    },
  },
  {
    name: 'an absolute-form target naming the other tenant, Host naming it too',
    raw: get('globex.localhost', 'https://globex.localhost/steal'),
    status: 421,
  },
  { name: 'SNI of acme, Host of globex', raw: get('globex.localhost', '/steal'), status: 421 },
  {
    name: 'SNI of globex, Host of acme',
    raw: get('acme.localhost', '/steal'),
    sni: 'globex.localhost',
    status: 421,
  },
  {
    name: 'SNI of acme, Host of globex with upper case, port and trailing dot',
    raw: get('GLOBEX.localhost.:8443', '/steal'),
    status: 421,
  },
  {
    name: 'two Host headers, acme first',
    raw: `GET /steal HTTP/1.1\r\nHost: acme.localhost\r\nHost: globex.localhost\r\nConnection: close\r\n\r\n`,
    status: 400,
  },
  { name: 'a Host with userinfo', raw: get('globex.localhost@acme.localhost', '/steal'), status: 400 },
  { name: 'a dot-dot segment', raw: get('acme.localhost', '/a/../admin'), status: 400 },
  { name: 'an encoded dot-dot segment', raw: get('acme.localhost', '/a/%2e%2E/admin'), status: 400 },
  { name: 'an encoded slash', raw: get('acme.localhost', '/a%2f..%2fadmin'), status: 400 },
  { name: 'an encoded backslash', raw: get('acme.localhost', '/a%5c..%5cadmin'), status: 400 },
  { name: 'an encoded NUL', raw: get('acme.localhost', '/a%00.txt'), status: 400 },
  { name: 'a fragment in the target', raw: get('acme.localhost', '/a#frag'), status: 400 },
  {
    name: 'a header over 16 KiB',
    raw: get('acme.localhost', '/big', `X-Big: ${'x'.repeat(17 * 1024)}\r\n`),
    status: 431,
  },
  {
    name: '150 header fields',
    raw: get('acme.localhost', '/many', Array.from({ length: 150 }, (_, i) => `X-H${i}: v\r\n`).join('')),
    status: 431,
  },
  {
    name: 'a folded header (obs-fold)',
    raw: `GET /fold HTTP/1.1\r\nHost: acme.localhost\r\nX-Folded: one\r\n two\r\nConnection: close\r\n\r\n`,
    status: 400,
    haproxy: {
      statuses: [200],
      seen: ['GET /fold'],
      why: 'HAProxy replaces the fold with a space (RFC 9112 5.2 allows a proxy to) and sends the stage one line',
    },
  },
  {
    name: 'a header name with a space',
    raw: `GET /name HTTP/1.1\r\nHost: acme.localhost\r\nX Bad: one\r\nConnection: close\r\n\r\n`,
    status: 400,
  },
  {
    name: 'a bare LF line ending',
    raw: `GET /lf HTTP/1.1\nHost: acme.localhost\nConnection: close\n\n`,
    status: 400,
    haproxy: {
      statuses: [200],
      seen: ['GET /lf'],
      why: 'HAProxy reads a bare LF as a line end (RFC 9112 2.2 allows it) and sends the stage CRLF',
    },
  },
  { name: 'no Host on HTTP/1.1', raw: `GET / HTTP/1.1\r\nConnection: close\r\n\r\n`, status: 400 },
  {
    name: 'a Connection header that names Content-Length (a body the stage would read as a request)',
    raw: `GET /a HTTP/1.1\r\nHost: acme.localhost\r\nConnection: content-length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    status: 400,
  },
  {
    name: 'a Connection header that names Host',
    raw: `GET /a HTTP/1.1\r\nHost: acme.localhost\r\nConnection: host, close\r\n\r\n`,
    status: 400,
  },
  { name: 'an empty Host', raw: get('', '/'), status: 400 },
  { name: 'a lower-case method', raw: `get / HTTP/1.1\r\nHost: acme.localhost\r\n\r\n`, status: 400 },
  { name: 'an HTTP/0.9 request line', raw: `GET /\r\n\r\n`, status: 400 },
  { name: 'an unknown HTTP version', raw: `GET / HTTP/1.7\r\nHost: acme.localhost\r\n\r\n`, status: 400 },
  {
    name: 'a space in the request target',
    raw: `GET /a b HTTP/1.1\r\nHost: acme.localhost\r\n\r\n`,
    status: 400,
  },
  {
    name: 'a WebSocket upgrade with the Host of globex',
    raw: `GET /socket HTTP/1.1\r\nHost: globex.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    status: 421,
  },
];

/** Chunked bodies that are malformed after the head: nothing may complete. */
export const badChunkCases: readonly (readonly [string, string])[] = [
  ['bad chunk size', 'zz\r\nabc\r\n0\r\n\r\n'],
  ['negative chunk size', '-1\r\nabc\r\n0\r\n\r\n'],
  ['hex prefix in a chunk size', '0x3\r\nabc\r\n0\r\n\r\n'],
  ['overflowing chunk size', 'ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n'],
  ['chunk longer than its size', '3\r\nabcdef\r\n0\r\n\r\n'],
];

/** Host spellings that route to acme: [name, Host, SNI (null: none), what acme sees]. */
export const normalisedCases: readonly (readonly [string, string, string | null, string])[] = [
  ['an upper-case Host with the port', 'ACME.LOCALHOST:8443', 'acme.localhost', 'GET /case'],
  ['a Host with one trailing dot', 'acme.localhost.', 'acme.localhost', 'GET /case'],
  ['no SNI (a connection by address)', 'acme.localhost', null, 'GET /case'],
  ['the stage host of prod', 'prod.acme.localhost', 'prod.acme.localhost', 'GET /case'],
];

/** An edge under test as the shared scenarios see it: raw requests in, the two tenants' recording backends. */
export interface HostileEdge {
  send(
    chunks: string | readonly (string | number)[],
    options?: { sni?: string | null; waitMs?: number },
  ): Promise<Reply>;
  readonly acme: Backend;
  readonly globex: Backend;
}

export function seenBy(b: Backend): string[] {
  return b.seen.map((s) => `${s.method} ${s.url}${s.complete ? '' : ' (aborted)'}`);
}

/** A malformed chunked body: cut, and no whole request reaches a stage (its head may have). */
export async function expectBadChunkCut(edge: HostileEdge, body: string): Promise<void> {
  const reply = await edge.send(
    `POST /chunks HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${body}${smuggled}`,
  );
  expect(
    reply.statuses.every((s) => s >= 400),
    reply.text.slice(0, 300),
  ).toBe(true);
  expect(reply.text).not.toContain('acme POST /chunks');
  expect(reply.closed).toBe(true);
  expect(edge.acme.seen.filter((s) => s.complete)).toEqual([]);
  expect(seenBy(edge.globex)).toEqual([]);
}

export async function expectNormalisedRoute(
  edge: HostileEdge,
  host: string,
  sni: string | null,
  expected: string,
): Promise<void> {
  const reply = await edge.send(get(host, '/case'), { sni });
  expect(reply.statuses, reply.text.slice(0, 300)).toEqual([200]);
  expect(seenBy(edge.acme)).toEqual([expected]);
  expect(seenBy(edge.globex)).toEqual([]);
}

/** Every header on the owned list, in upper and lower case, never reaches the stage; others do. */
export async function expectOwnedHeadersStripped(edge: HostileEdge): Promise<void> {
  const forged = [
    ...strippedRequestHeaders.names,
    ...strippedRequestHeaders.prefixes.map((p) => `${p}anything`),
  ];
  const extra = forged.map((name, i) => `${i % 2 ? name.toUpperCase() : name}: forged-${i}\r\n`).join('');
  const reply = await edge.send(get('acme.localhost', '/headers', `${extra}X-Kept: yes\r\n`));
  expect(reply.statuses).toEqual([200]);
  const headers = edge.acme.seen[0]?.headers ?? {};
  expect(headers['x-kept']).toBe('yes');
  const leaked = Object.entries(headers).filter(([, v]) => String(v).includes('forged-'));
  expect(leaked).toEqual([]);
}

/** A second request on a kept-alive acme connection that names globex: 421, and globex sees nothing. */
export async function expectKeptAliveMisdirected(edge: HostileEdge): Promise<void> {
  const reply = await edge.send([
    `GET /first HTTP/1.1\r\nHost: acme.localhost\r\n\r\n`,
    200,
    `GET /second HTTP/1.1\r\nHost: globex.localhost\r\nConnection: close\r\n\r\n`,
  ]);
  expect(reply.statuses).toEqual([200, 421]);
  expect(seenBy(edge.acme)).toEqual(['GET /first']);
  expect(seenBy(edge.globex)).toEqual([]);
}

/** Slowloris and a stalled body, against an edge that gives a head 3 s and a body 2 s. */
export async function expectSlowClientsCut(edge: HostileEdge): Promise<void> {
  const trickle = (line: string, count: number): (string | number)[] =>
    Array.from({ length: count }, () => [500, line]).flat();
  const [slowHeaders, slowBody] = await Promise.all([
    // A header line every half second: never idle, never done. The head has 3 s here.
    edge.send([`GET /slow HTTP/1.1\r\nHost: acme.localhost\r\n`, ...trickle('X-Slow: 1\r\n', 40)], {
      waitMs: 20_000,
    }),
    // Three bytes of a thousand, then silence. The body may stall 2 s here.
    edge.send(
      [`POST /slow-body HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 1000\r\n\r\nabc`, 10_000, 'def'],
      { waitMs: 20_000 },
    ),
  ]);
  expect(slowHeaders.closed, 'slow headers were cut').toBe(true);
  expect(slowHeaders.ms).toBeGreaterThanOrEqual(3_000);
  expect(slowHeaders.ms).toBeLessThan(8_000);
  expect(slowBody.closed, 'slow body was cut').toBe(true);
  expect(slowBody.ms).toBeGreaterThanOrEqual(2_000);
  expect(slowBody.ms).toBeLessThan(8_000);
  expect(edge.acme.seen.filter((s) => s.complete)).toEqual([]);
  expect(seenBy(edge.globex)).toEqual([]);
}

export const chunkedHead =
  'POST /upload HTTP/1.1\r\nHost: acme.localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
export const chunk = (bytes: number): string => `${bytes.toString(16)}\r\n${'a'.repeat(bytes)}\r\n`;

/** A chunked body of exactly `limit` bytes passes whole. */
export async function expectChunkedBodyUpToLimit(edge: HostileEdge, limit: number): Promise<void> {
  const half = limit / 2;
  const reply = await edge.send([chunkedHead, chunk(half), 20, chunk(half), '0\r\n\r\n']);
  expect(reply.statuses, reply.text.slice(0, 300)).toEqual([200]);
  expect(edge.acme.seen.map((s) => [s.body.length, s.complete])).toEqual([[limit, true]]);
}
