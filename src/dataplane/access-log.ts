import {
  accessLogMaxPath,
  accessLogMaxUserAgent,
  redacted,
  secretParameterWords,
} from '../gateway/access-log.ts';

/**
 * The access log HAProxy writes: one JSON object per request, with exactly
 * the keys of AccessLogRecord (it travels to Steward through a ring that
 * forwards to a Unix stream socket: access-log-stream.ts). Built from named
 * samples only, so no cookie and no Authorization header can get in; every
 * string HAProxy did not make itself goes through its `json` converter; the
 * query keeps its shape but the value of each parameter whose name contains
 * a secret-looking word (the Node gateway's list, src/gateway/access-log.ts,
 * any case) becomes `[redacted]`.
 *
 * Limits of the redaction in HAProxy: a parameter name spelled with percent
 * escapes (`to%6Ben`) is not recognised here (Steward's receiver redacts
 * again, decoded, with the same list); a bare query value of 25 characters
 * or more (`?eyJhbGci…`) is redacted as the Node gateway does.
 */
export const accessLogKeys = [
  'ts',
  'id',
  'client',
  'method',
  'host',
  'path',
  'status',
  'ms',
  'bytes',
  'backend',
  'ua',
] as const;
export type AccessLogKey = (typeof accessLogKeys)[number];

export interface AccessLogRecord {
  /** When the connection's request arrived: epoch milliseconds. */
  readonly ts: number;
  /** The request id HAProxy made up, also sent to the stage as X-Request-Id. */
  readonly id: string;
  /** The client's address. */
  readonly client: string;
  readonly method: string;
  /** The normalised Host (lower case, no port, no trailing dot); `-` when the request had none that passed. */
  readonly host: string;
  /** Path and query, secret query values redacted. */
  readonly path: string;
  readonly status: number;
  /** Total time of the request in milliseconds (-1 when it was aborted). */
  readonly ms: number;
  /** Response bytes sent to the client. */
  readonly bytes: number;
  /** The backend that answered: a stage backend's name, be_unrouted, or the frontend's name if refused before routing. */
  readonly backend: string;
  /** The User-Agent, at most 512 characters; `-` when none. */
  readonly ua: string;
}

/** A parameter name that contains a secret-looking word, up to its `=`. */
const secretName = `[^&=]*(${secretParameterWords.join('|')})[^&=]*`;

/**
 * The sample expression for the logged path: pathq with secret values
 * replaced. The regexes are double-quoted converter arguments (their
 * parentheses and `{25}` would end or split an unquoted one); the caller
 * puts the whole expression in single quotes.
 */
export function redactedPathSample(): string {
  return [
    'pathq',
    `regsub("(?i)([?&]${secretName}=)[^&]*","\\1${redacted}",g)`,
    // A bare value (no `=`) as long as a token is treated as one.
    `regsub("([?&])[^&=]{25}[^&=]*(?=&|$)","\\1${redacted}",g)`,
    `bytes(0,${accessLogMaxPath})`,
  ].join(',');
}

export const accessLogUserAgentMax = accessLogMaxUserAgent;

/** The log-format line (a single-quoted HAProxy word: no `'` inside). */
export function accessLogFormat(): string {
  const str = (name: string) => `"%[var(txn.${name}),json(utf8s)]"`;
  const fields: Record<AccessLogKey, string> = {
    ts: '%Ts%ms',
    id: '"%ID"',
    client: '"%ci"',
    method: '"%HM"',
    host: str('host'),
    path: str('path'),
    status: '%ST',
    ms: '%Ta',
    bytes: '%B',
    backend: '"%b"',
    ua: str('ua'),
  };
  return `{${accessLogKeys.map((key) => `"${key}":${fields[key]}`).join(',')}}`;
}
