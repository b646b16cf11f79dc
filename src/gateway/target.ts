/**
 * Where a request goes: the host that picks the stage and the path sent to
 * it, decided from the request line, the Host header(s) and the TLS SNI
 * name, or a refusal with a status and a reason. Everything ambiguous is
 * refused rather than guessed at, because the gateway and the app behind it
 * must never read the same request two ways.
 */
export interface TargetInput {
  readonly method: string;
  /** The request target exactly as on the request line. */
  readonly target: string;
  /** Every Host header value, in order (zero, one, or several). */
  readonly hostHeaders: readonly string[];
  /** `1.0`, `1.1` or `2.0`. */
  readonly httpVersion: string;
  /** Whether the request came over TLS. */
  readonly tls: boolean;
  /** The SNI name the TLS client sent, if any. */
  readonly sni?: string | undefined;
  /** Longest accepted target in bytes (see gatewayLimitDefaults.maxTargetBytes). */
  readonly maxTargetBytes: number;
}

export const targetRejections = [
  'bad_target',
  'target_too_long',
  'bad_path',
  'no_host',
  'multiple_hosts',
  'bad_host',
  'misdirected',
  'method_not_allowed',
] as const;
export type TargetRejection = (typeof targetRejections)[number];

export type TargetDecision =
  | {
      readonly kind: 'route';
      /** Lower-case host name without port or trailing dot: the key for routing. */
      readonly host: string;
      /** Host with the port the client used, if any (for the upstream Host and X-Forwarded-Host). */
      readonly authority: string;
      /** The path, still percent-encoded as received (starts with `/`). */
      readonly path: string;
      /** The query without `?`, or undefined if there was none. */
      readonly query: string | undefined;
      /** Origin-form target to send upstream: path plus `?query`. */
      readonly target: string;
    }
  | {
      readonly kind: 'reject';
      readonly status: number;
      readonly code: TargetRejection;
      readonly reason: string;
    };

function reject(status: number, code: TargetRejection, reason: string): TargetDecision {
  return { kind: 'reject', status, code, reason };
}

type Host = { readonly host: string; readonly authority: string } | { readonly problem: string };

const hostNamePattern =
  /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/**
 * Normalises a Host value or an absolute-form authority: lower case, the
 * port split off (digits only, at most 65535), one trailing dot removed.
 * Refuses userinfo, empty labels, and any character outside a DNS name or
 * a bracketed IPv6 literal.
 */
export function normaliseHost(value: string): Host {
  const text = value.trim();
  if (text === '') return { problem: 'empty host' };
  if (text.includes('@')) return { problem: 'a host with userinfo' };
  let name: string;
  let port: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { problem: 'an unclosed IPv6 literal' };
    name = text.slice(0, close + 1).toLowerCase();
    if (!/^\[[0-9a-f:.]+\]$/.test(name)) return { problem: 'a bad IPv6 literal' };
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return { problem: 'characters after an IPv6 literal' };
      port = rest.slice(1);
    }
  } else {
    const colon = text.indexOf(':');
    name = (colon >= 0 ? text.slice(0, colon) : text).toLowerCase();
    if (colon >= 0) port = text.slice(colon + 1);
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (name === '' || name.length > 253) return { problem: 'a host name of bad length' };
    if (!hostNamePattern.test(name)) {
      return { problem: 'characters or labels not allowed in a host name' };
    }
  }
  if (port !== undefined && (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535)) {
    return { problem: 'a bad port' };
  }
  return { host: name, authority: port === undefined ? name : `${name}:${port}` };
}

/* eslint-disable no-control-regex -- these patterns exist to find control characters */
const rawForbidden = /[\x00-\x20\x7f-\uffff\\"<>^`{|}]/;
const encodedControl = /%(?:0[0-9a-f]|1[0-9a-f]|7f)/i;
const encodedSlash = /%(?:2f|5c)/i;
/* eslint-enable no-control-regex */

function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'a path that does not start with /';
  if (rawForbidden.test(path)) return 'a control, space, backslash or non-ASCII character in the path';
  if (/%(?![0-9a-fA-F]{2})/.test(path)) return 'a malformed percent-encoding in the path';
  // Rejected, not decoded: a backend that decodes %2f before routing would see another path than we did.
  if (encodedSlash.test(path)) return 'an encoded slash or backslash (%2f, %5c) in the path';
  if (encodedControl.test(path)) return 'an encoded control character in the path';
  if (dotSegment.test(path)) return 'a dot segment (. or ..) in the path';
  return undefined;
}

/** `.` or `..` as a whole segment, also with the dots percent-encoded (`%2e`). */
const dotSegment = /\/(?:\.|%2e){1,2}(?=\/|$)/i;

/* eslint-disable-next-line no-control-regex -- finding control characters is the point */
const queryForbidden = /[\x00-\x20\x7f-\uffff]/;

/** Decides the route host and the upstream path of one request, or refuses it. */
export function routeTarget(input: TargetInput): TargetDecision {
  const { target } = input;
  // Characters, not bytes: a target with anything beyond ASCII is refused further down anyway.
  if (target.length > input.maxTargetBytes) {
    return reject(414, 'target_too_long', `request target longer than ${input.maxTargetBytes} bytes`);
  }
  if (input.method === 'CONNECT') return reject(405, 'method_not_allowed', 'CONNECT is not supported');
  if (target.includes('#')) return reject(400, 'bad_target', 'a fragment (#) in the request target');

  let fromTarget: Host | undefined;
  let pathAndQuery: string;
  const absolute = /^https?:\/\//i.exec(target);
  if (absolute) {
    const rest = target.slice(absolute[0].length);
    const end = rest.search(/[/?]/);
    const authority = end < 0 ? rest : rest.slice(0, end);
    fromTarget = normaliseHost(authority);
    if ('problem' in fromTarget) {
      return reject(400, 'bad_host', `absolute-form target with ${fromTarget.problem}`);
    }
    pathAndQuery = end < 0 ? '/' : rest.slice(end);
    if (pathAndQuery.startsWith('?')) pathAndQuery = `/${pathAndQuery}`;
  } else if (target.startsWith('/')) {
    pathAndQuery = target;
  } else if (target === '*') {
    return reject(400, 'bad_target', 'asterisk-form (OPTIONS *) is not served');
  } else {
    return reject(400, 'bad_target', 'a request target that is neither a path nor an http(s) URL');
  }

  // RFC 9112 3.2: a request has one Host; HTTP/1.1 requires it even with an absolute-form target, and
  // the gateway requires it of HTTP/1.0 too (the stage is always spoken to in HTTP/1.1).
  if (input.hostHeaders.length > 1) return reject(400, 'multiple_hosts', 'more than one Host header');
  const hostHeader = input.hostHeaders[0];
  let routed: { readonly host: string; readonly authority: string };
  if (fromTarget) {
    if (hostHeader === undefined) {
      return reject(400, 'no_host', 'no Host header');
    }
    // RFC 9112 3.2.2: the authority of an absolute-form target wins over Host.
    routed = fromTarget as { host: string; authority: string };
  } else {
    if (hostHeader === undefined || hostHeader.trim() === '') {
      // Even HTTP/1.0: the stage needs a Host, and the SNI name alone is not one the client sent.
      return reject(400, 'no_host', hostHeader === undefined ? 'no Host header' : 'an empty Host header');
    } else {
      const host = normaliseHost(hostHeader);
      if ('problem' in host) return reject(400, 'bad_host', `Host header with ${host.problem}`);
      routed = host;
    }
  }

  if (input.tls && input.sni) {
    const sni = normaliseHost(input.sni);
    if ('problem' in sni || sni.host !== routed.host) {
      return reject(421, 'misdirected', 'the request names a different host than the TLS connection (SNI)');
    }
  }

  const question = pathAndQuery.indexOf('?');
  const path = question < 0 ? pathAndQuery : pathAndQuery.slice(0, question);
  const query = question < 0 ? undefined : pathAndQuery.slice(question + 1);
  const problem = pathProblem(path);
  if (problem) return reject(400, 'bad_path', problem);
  if (query !== undefined && queryForbidden.test(query)) {
    return reject(400, 'bad_target', 'a control, space or non-ASCII character in the query');
  }
  return {
    kind: 'route',
    host: routed.host,
    authority: routed.authority,
    path,
    query,
    target: query === undefined ? path : `${path}?${query}`,
  };
}
