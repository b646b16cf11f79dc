import { InputError, showValue } from '../core/errors.ts';
import { redactTarget } from '../gateway/access-log.ts';
import type { GatewayMetrics, RequestObservation } from '../gateway/metrics.ts';
import { accessLogKeys, type AccessLogRecord } from './access-log.ts';
import { checkPath, stageIdOfBackend } from './names.ts';

/**
 * HAProxy's access log, Steward's side: how the record HAProxy writes for
 * every request (one JSON object) travels, and what Steward makes of it.
 * Pure: no I/O here (the receiver is access-log-receiver.ts).
 *
 * How it travels: HAProxy logs into a `ring` (a buffer in its own memory),
 * and the ring forwards to Steward over a Unix stream socket, each message
 * octet-counted (RFC 6587: `<length> <message>`). Chosen over a Unix
 * datagram socket (which Node cannot bind; it would need a socat child):
 * - HAProxy never waits on Steward: a log call only writes into the ring;
 *   the ring overwrites its oldest messages when Steward is slow or away and
 *   says so in-band (`<n> events dropped`).
 * - a Steward that restarts misses nothing the ring still holds: the ring
 *   reconnects and sends its backlog (8 MiB, some 40,000 requests).
 * - measured at 55,000 requests/s on this machine's 2 cores, a datagram
 *   socket lost 16 % of the lines (Linux queues 10 datagrams per Unix socket,
 *   net.unix.max_dgram_qlen) where the ring lost none at 68,000/s.
 * - no extra process or package: the socket is Node's own, mode 600, owned
 *   by the user HAProxy's workers run as, so nobody else can write records.
 */

// The record's keys and type are the log-format's (access-log.ts); here they are read back.
export { accessLogKeys, type AccessLogRecord };

const numberKeys: ReadonlySet<string> = new Set(['ts', 'status', 'ms', 'bytes']);

/** The ring that carries the access log, as named in haproxy.cfg. */
export const accessLogRing = 'steward_access';
/** The ring's size: what HAProxy keeps while Steward is away (about 40,000 records of ~200 bytes). */
export const accessLogRingBytes = 8 * 1024 * 1024;
/** Longest message the ring keeps (longer ones are cut, and then fail to parse): a 2 KiB path escaped several times over fits. */
export const accessLogMaxMessageBytes = 16 * 1024;

/**
 * The `ring` section that forwards the access log to Steward's socket. The
 * frontend's `log` line names it: `log ring@steward_access local0 info`.
 * HAProxy's workers connect to `socketPath` as their own user: every
 * directory above it must let that user pass (x).
 */
export function renderAccessLogRing(socketPath: string): string[] {
  checkPath('accessLog', socketPath);
  return [
    `ring ${accessLogRing}`,
    '    description "Access log for Steward"',
    '    format raw',
    `    maxlen ${accessLogMaxMessageBytes}`,
    `    size ${accessLogRingBytes}`,
    '    timeout connect 1s',
    // A Steward that stops reading for this long is dropped; the ring reconnects and resends from where it was.
    '    timeout server 10s',
    `    server steward unix@${socketPath} log-proto octet-count`,
    '',
  ];
}

/** The frontend line that sends its request log into the ring (with the JSON log-format beside it). */
export const accessLogLine = `log ring@${accessLogRing} local0 info`;

/** One message of the octet-counted stream, decoded. */
export type AccessLogMessage =
  | { readonly kind: 'record'; readonly record: AccessLogRecord }
  /** HAProxy's own notice that the ring overwrote records Steward had not read. */
  | { readonly kind: 'lost'; readonly count: number }
  /**
   * A connection that ended before any request (`<client>:<port> [<date>]
   * <frontend>/<bind>: Connection closed during SSL handshake`): HAProxy logs
   * these in its own format, not the JSON one.
   */
  | { readonly kind: 'connection'; readonly frontend: string; readonly message: string }
  | { readonly kind: 'malformed'; readonly reason: string };

/**
 * Parses one record; anything but the exact shape (keys and types) is
 * malformed, never half-read. The path is redacted again with Steward's own
 * (wider) list of secret parameter names: HAProxy's rules are the first
 * line, not the only one.
 */
export function parseAccessLogMessage(text: string): AccessLogMessage {
  const trimmed = text.trim();
  const lost = /^(\d{1,15}) events dropped$/.exec(trimmed);
  if (lost) return { kind: 'lost', count: Number(lost[1]) };
  const connection = /^\S+ \[[^\]]{1,40}\] ([A-Za-z0-9_.-]{1,64})\/\S{1,64}: (.{1,200})$/.exec(trimmed);
  if (connection?.[1] !== undefined && connection[2] !== undefined)
    return { kind: 'connection', frontend: connection[1], message: connection[2] };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return { kind: 'malformed', reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { kind: 'malformed', reason: 'not an object' };
  const fields = value as Record<string, unknown>;
  for (const key of accessLogKeys) {
    const field = fields[key];
    const ok = numberKeys.has(key)
      ? typeof field === 'number' && Number.isFinite(field)
      : typeof field === 'string';
    if (!ok) return { kind: 'malformed', reason: `key ${key} missing or of the wrong type` };
  }
  const record = Object.fromEntries(accessLogKeys.map((key) => [key, fields[key]]));
  record['path'] = redactTarget(String(fields['path']));
  return { kind: 'record', record: record as unknown as AccessLogRecord };
}

/**
 * Splits the octet-counted stream (`<length> <message>`, RFC 6587) into
 * messages. A length that is not a number, or longer than `maxBytes`, is a
 * broken stream: `push` throws and the connection must go (HAProxy opens a
 * new one and resends from its ring).
 */
export class OctetCountDecoder {
  readonly #maxBytes: number;
  #pending: Buffer = Buffer.alloc(0);

  constructor(maxBytes = 4 * accessLogMaxMessageBytes) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: Buffer): string[] {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const messages: string[] = [];
    for (;;) {
      const space = data.indexOf(0x20);
      if (space < 0) {
        if (data.length > 10) throw this.#broken(data.subarray(0, 10).toString('latin1'));
        break;
      }
      const head = data.subarray(0, space).toString('latin1');
      if (!/^[1-9][0-9]{0,9}$/.test(head) || Number(head) > this.#maxBytes) throw this.#broken(head);
      const end = space + 1 + Number(head);
      if (data.length < end) break;
      messages.push(data.subarray(space + 1, end).toString('utf8'));
      data = data.subarray(end);
    }
    // A copy, so that the big chunk it came from is not kept alive by a small remainder.
    this.#pending = Buffer.from(data);
    return messages;
  }

  #broken(head: string): InputError {
    return new InputError(
      `access log stream: message length ${showValue(head)} is not accepted: use an octet count from 1 to ${this.#maxBytes} followed by a space`,
      { field: 'length' },
    );
  }
}

/** A stage's tenant and stage names, as labels. */
export interface StageNames {
  readonly tenant: string;
  readonly stage: string;
}

/** Who a stage id belongs to (the data plane's desired state knows); undefined when it knows no such stage. */
export type StageLookup = (stageId: string) => StageNames | undefined;

/**
 * What the gateway metrics count for one record: the stage's tenant and
 * name, or none (unrouted, Steward's own pages, a stage not known (yet)).
 */
export function observationOf(record: AccessLogRecord, lookup: StageLookup): RequestObservation {
  const stageId = stageIdOfBackend(record.backend);
  const names = stageId === undefined ? undefined : lookup(stageId);
  return {
    tenant: names?.tenant,
    stage: names?.stage,
    status: record.status,
    durationSeconds: Math.max(0, record.ms) / 1000,
  };
}

/** The receiver's `onRecord` that counts each request in the gateway metrics (steward_gateway_requests_total and its duration histogram). */
export function countRequests(
  metrics: Pick<GatewayMetrics, 'observeRequest'>,
  lookup: StageLookup,
): (record: AccessLogRecord) => void {
  return (record) => metrics.observeRequest(observationOf(record, lookup));
}
