import { canonicalAddress } from './allow-list.ts';
import { hopByHopHeaders } from '../system/http-headers.ts';
import type { GatewayLimits } from './limits.ts';

/**
 * The header set sent to a stage, built from the client's: framing checked
 * (no request smuggling), hop-by-hop and spoofable headers dropped, and the
 * gateway's own forwarding headers set. The app behind the gateway trusts
 * `X-Steward-User-*` for identity and `X-Forwarded-*` for the client, so a
 * client can never send any of them through.
 */
export type HeaderPair = readonly [name: string, value: string];

export interface UpstreamHeadersInput {
  /** Header fields as received, flat `[name, value, name, value, …]` (Node's `rawHeaders`). */
  readonly rawHeaders: readonly string[];
  /** The client's address, as the socket reports it. */
  readonly clientAddress: string;
  /** How the client reached the gateway. */
  readonly proto: 'https' | 'http';
  /** The routed authority (host and the client's port, if any): upstream Host and X-Forwarded-Host. */
  readonly authority: string;
  /** The id this request carries in logs, upstream and in the response. */
  readonly requestId: string;
  /** Keep `Upgrade` and `Connection: upgrade` for a WebSocket handshake. */
  readonly upgrade?: boolean;
  readonly limits: Pick<GatewayLimits, 'maxHeaderCount' | 'maxHeaderBytes' | 'maxBodyBytes'>;
}

export type RequestBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly bytes: number }
  | { readonly kind: 'chunked' };

export const headerRejections = [
  'too_many_headers',
  'headers_too_large',
  'bad_header_name',
  'bad_header_value',
  'length_and_chunked',
  'bad_content_length',
  'body_too_large',
  'bad_transfer_encoding',
  'bad_connection',
] as const;
export type HeaderRejection = (typeof headerRejections)[number];

export type HeaderDecision =
  | { readonly kind: 'ok'; readonly headers: readonly HeaderPair[]; readonly body: RequestBody }
  | {
      readonly kind: 'reject';
      readonly status: number;
      readonly code: HeaderRejection;
      readonly reason: string;
    };

/**
 * Every request header the gateway strips from a client's request, in one
 * list that both request paths (plain and upgrade) use. Two kinds: those the
 * gateway sets itself, and those that some app stack trusts as if a proxy
 * had set them (a client address, the original URL or method, an
 * authenticated user, a client certificate). A client's copy of any of them
 * would let it pose as another address, host, user or request. Method
 * overrides are on the list too: a stage that honours one acts on another
 * method than the one the gateway checked and logged, and no client needs
 * one here, since the gateway forwards every method but CONNECT.
 */
export const strippedRequestHeaders = {
  /** Exact names, lower case. */
  names: [
    // Set by the gateway.
    'forwarded',
    'x-real-ip',
    'x-request-id',
    // A client's address, as CDNs and load balancers pass it on.
    'true-client-ip',
    'x-client-ip',
    'x-cluster-client-ip',
    'cf-connecting-ip',
    'cf-connecting-ipv6',
    'fastly-client-ip',
    'x-proxyuser-ip',
    'x-originating-ip',
    'x-remote-ip',
    'x-remote-addr',
    'client-ip',
    'wl-proxy-client-ip',
    'x-envoy-external-address',
    'x-azure-clientip',
    'x-azure-socketip',
    'x-appengine-user-ip',
    'x-original-forwarded-for',
    // The original host, URL or method, as rewriting proxies pass them on.
    'x-host',
    'x-original-host',
    'x-http-host-override',
    'x-original-url',
    'x-rewrite-url',
    'x-original-uri',
    'x-original-method',
    'x-http-method-override',
    'x-http-method',
    'x-method-override',
    // An authenticated user or client certificate, as auth proxies pass them on.
    'remote-user',
    'x-remote-user',
    'x-webauth-user',
    'x-client-cert',
    'x-client-verify',
    'ssl-client-cert',
    'x-arr-clientcert',
    // httpoxy: CGI-style apps turn a `Proxy` header into HTTP_PROXY.
    'proxy',
  ],
  /** Name prefixes, lower case: every header that starts with one. */
  prefixes: ['x-forwarded-', 'x-steward-', 'x-auth-request-', 'x-ssl-'],
} as const;

const strippedNames: ReadonlySet<string> = new Set(strippedRequestHeaders.names);

/** Whether the gateway drops this (lower-case) request header name before forwarding. */
export function isStrippedRequestHeader(lowerName: string): boolean {
  return strippedNames.has(lowerName) || strippedRequestHeaders.prefixes.some((p) => lowerName.startsWith(p));
}

/**
 * Headers a `Connection` list may not name. Dropping Content-Length on the
 * way out would leave the body unframed on a pooled connection to the stage,
 * where it is read as a request of its own (smuggled past every check, with
 * any X-Steward-User-* it likes), and its response handed to the next client.
 */
const notConnectionListable = new Set(['host', 'content-length', 'transfer-encoding']);

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/* eslint-disable-next-line no-control-regex -- finding control characters is the point */
const badValuePattern = /[\x00-\x08\x0a-\x1f\x7f]/;

function reject(
  status: number,
  code: HeaderRejection,
  reason: string,
): Extract<HeaderDecision, { kind: 'reject' }> {
  return { kind: 'reject', status, code, reason };
}

export type FramingDecision =
  | {
      readonly kind: 'ok';
      readonly body: RequestBody;
      /** Header names (lower case) the client's Connection header lists: hop-by-hop for this request. */
      readonly connectionListed: ReadonlySet<string>;
    }
  | Extract<HeaderDecision, { kind: 'reject' }>;

const noneListed: ReadonlySet<string> = new Set();

/**
 * Checks the client's header fields without building anything: names and
 * values, count and size, and the body framing. Runs on every request, so it
 * walks the raw list once and lower-cases only names that might matter.
 */
export function checkHeaderFraming(
  rawHeaders: readonly string[],
  limits: UpstreamHeadersInput['limits'],
): FramingDecision {
  if (rawHeaders.length / 2 > limits.maxHeaderCount) {
    return reject(431, 'too_many_headers', `more than ${limits.maxHeaderCount} header fields`);
  }
  let bytes = 0;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let lengths = 0;
  let encodings = 0;
  let connectionListed: Set<string> | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const value = rawHeaders[i + 1] ?? '';
    bytes += name.length + value.length + 4;
    // HTTP/2 pseudo-headers (`:path`, `:authority`) were already read into the request line.
    if (name.startsWith(':')) continue;
    if (!tokenPattern.test(name)) {
      return reject(400, 'bad_header_name', 'a header name with characters outside RFC 9110 tokens');
    }
    // CR or LF in a value is a folded (obs-fold) or injected line; other controls have no place either.
    if (badValuePattern.test(value)) {
      return reject(400, 'bad_header_value', `a control character or line break in header ${name}`);
    }
    if (name.length !== 14 && name.length !== 17 && name.length !== 10) continue;
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      lengths++;
      contentLength = value;
    } else if (lower === 'transfer-encoding') {
      encodings++;
      transferEncoding = value;
    } else if (lower === 'connection') {
      for (const token of value.split(',')) {
        const listed = token.trim().toLowerCase();
        if (notConnectionListable.has(listed)) {
          return reject(400, 'bad_connection', `a Connection header that names ${listed}`);
        }
        if (listed !== '') (connectionListed ??= new Set()).add(listed);
      }
    }
  }
  if (bytes > limits.maxHeaderBytes) {
    return reject(431, 'headers_too_large', `header fields larger than ${limits.maxHeaderBytes} bytes`);
  }

  // RFC 9112 6.1 and 6.3: both framings at once is the smuggling pattern; refuse, do not pick one.
  if (lengths > 0 && encodings > 0) {
    return reject(400, 'length_and_chunked', 'both Content-Length and Transfer-Encoding');
  }
  let body: RequestBody = { kind: 'none' };
  if (encodings > 0) {
    if (encodings > 1 || transferEncoding?.trim().toLowerCase() !== 'chunked') {
      return reject(400, 'bad_transfer_encoding', 'a Transfer-Encoding other than exactly "chunked"');
    }
    body = { kind: 'chunked' };
  } else if (lengths > 0) {
    if (lengths > 1) {
      return reject(400, 'bad_content_length', 'more than one Content-Length');
    }
    const text = (contentLength ?? '').trim();
    if (!/^[0-9]{1,15}$/.test(text)) {
      return reject(400, 'bad_content_length', 'a Content-Length that is not one whole number');
    }
    const length = Number(text);
    if (length > limits.maxBodyBytes) {
      return reject(413, 'body_too_large', `a body larger than ${limits.maxBodyBytes} bytes`);
    }
    if (length > 0) body = { kind: 'length', bytes: length };
  }
  return { kind: 'ok', body, connectionListed: connectionListed ?? noneListed };
}

/** Builds the upstream header set, or refuses the request with a status and a reason. */
export function upstreamHeaders(input: UpstreamHeadersInput): HeaderDecision {
  const { rawHeaders } = input;
  const framing = checkHeaderFraming(rawHeaders, input.limits);
  if (framing.kind === 'reject') return framing;
  const { body, connectionListed } = framing;
  const pairs: HeaderPair[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    pairs.push([rawHeaders[i] ?? '', rawHeaders[i + 1] ?? '']);
  }

  const headers: HeaderPair[] = [];
  headers.push(['Host', input.authority]);
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (lower === 'host' || lower.startsWith(':')) continue;
    if (hopByHopHeaders.has(lower) || connectionListed.has(lower) || isStrippedRequestHeader(lower)) continue;
    headers.push([name, value]);
  }
  if (input.upgrade) {
    const upgrade = pairs.find(([name]) => name.toLowerCase() === 'upgrade');
    if (upgrade) headers.push(['Connection', 'upgrade'], ['Upgrade', upgrade[1]]);
  }
  headers.push(
    ['X-Forwarded-For', canonicalAddress(input.clientAddress) ?? input.clientAddress],
    ['X-Forwarded-Proto', input.proto],
    ['X-Forwarded-Host', input.authority],
    ['X-Request-Id', input.requestId],
  );
  return { kind: 'ok', headers, body };
}

/** Flattens header pairs into the `[name, value, …]` array that `http.request({ headers })` accepts. */
export function flattenHeaders(headers: readonly HeaderPair[]): string[] {
  return headers.flatMap(([name, value]) => [name, value]);
}
