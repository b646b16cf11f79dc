import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ConflictError } from '../core/errors.ts';
import { OctetCountDecoder, parseAccessLogMessage, type AccessLogRecord } from './access-log-stream.ts';
import { checkPath } from './names.ts';

/**
 * Steward's end of the access log: a Unix stream socket that HAProxy's ring
 * connects to (see access-log.ts for why a ring and a stream). It only
 * reads: HAProxy's workers never wait on it, and a Steward that is down or
 * slow costs records (counted by HAProxy, reported here), never requests.
 */

/** What became of each message on the access log stream: a closed set of label values. */
export const accessLogOutcomes = [
  'record',
  'connection_error',
  'malformed',
  'lost',
  'broken_stream',
] as const;
export type AccessLogOutcome = (typeof accessLogOutcomes)[number];

export interface AccessLogMetrics {
  count(outcome: AccessLogOutcome, n?: number): void;
}

const accessLogMessagesMetric = 'steward_dataplane_access_log_messages_total';

/** steward_dataplane_access_log_messages_total{outcome}, in Steward's registry: lost records show on /metrics. */
export function createAccessLogMetrics(registry: Registry): AccessLogMetrics {
  // A second receiver in the same process (a restart in tests) counts on in the same series.
  const existing = registry.getSingleMetric(accessLogMessagesMetric);
  if (existing instanceof Counter) return { count: (outcome, n = 1) => existing.inc({ outcome }, n) };
  const messages = new Counter({
    name: accessLogMessagesMetric,
    help: "HAProxy's access log as Steward received it, by outcome: record (counted in the gateway metrics), connection_error (a connection that ended before a request), malformed, lost (overwritten in HAProxy's ring before Steward read it), broken_stream (a connection closed on bad framing).",
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of accessLogOutcomes) messages.inc({ outcome }, 0);
  return { count: (outcome, n = 1) => messages.inc({ outcome }, n) };
}

export interface AccessLogReceiverOptions {
  readonly socketPath: string;
  /**
   * The user HAProxy's workers run as: the socket's owner, mode 600, so that
   * only it (and root) can write records. Unset: the socket stays Steward's
   * own (HAProxy then has to run as Steward's user).
   */
  readonly owner?: { readonly uid: number; readonly gid: number };
  readonly onRecord: (record: AccessLogRecord) => void;
  readonly metrics?: AccessLogMetrics;
  readonly logger?: Logger;
}

export interface AccessLogCounts {
  /** Records read and handed on. */
  readonly received: number;
  /** Connections that ended before a request (a TLS handshake that failed or was abandoned). */
  readonly connectionErrors: number;
  /** Messages that were not a record of the agreed shape (or that `onRecord` threw on). */
  readonly malformed: number;
  /** Records HAProxy's ring overwrote before Steward read them (it says so in the stream). */
  readonly lost: number;
  /** Connections closed because their framing broke. */
  readonly brokenStreams: number;
  /** HAProxy connections open now (one per worker; two during a reload). */
  readonly connections: number;
}

/** One per worker, old and new during a reload, with room to spare; more is not HAProxy. */
const maxConnections = 16;

/** Is something answering on this socket path? */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export class AccessLogReceiver {
  readonly #o: AccessLogReceiverOptions;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #starting: Promise<void> | undefined;
  #counts = { received: 0, connectionErrors: 0, malformed: 0, lost: 0, brokenStreams: 0 };

  constructor(options: AccessLogReceiverOptions) {
    checkPath('accessLog', options.socketPath);
    this.#o = options;
  }

  get socketPath(): string {
    return this.#o.socketPath;
  }

  counts(): AccessLogCounts {
    return { ...this.#counts, connections: this.#sockets.size };
  }

  /** Listens on the socket; a second call shares the first one's promise. */
  start(): Promise<void> {
    this.#starting ??= this.#start().catch((error: unknown) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const path = this.#o.socketPath;
    const existing = await lstat(path).catch(() => undefined);
    if (existing) {
      // Only a socket left by an earlier Steward goes; a file of any other kind is not ours to delete.
      if (!existing.isSocket()) {
        throw new ConflictError(
          `access log socket ${path} exists and is not a socket; move it away or choose another path`,
        );
      }
      if (await answers(path)) {
        throw new ConflictError(
          `another process receives the access log at ${path}; stop it first (is a second Steward running on this data directory?)`,
        );
      }
      await unlink(path);
    }
    const server = createServer((socket) => this.#accept(socket));
    server.maxConnections = maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.#o.logger?.warn({ err: error }, 'access log socket failed'));
    this.#server = server;
    await chmod(path, 0o600);
    if (this.#o.owner) await chown(path, this.#o.owner.uid, this.#o.owner.gid);
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    const decoder = new OctetCountDecoder();
    socket.on('data', (chunk: Buffer) => {
      let messages: string[];
      try {
        messages = decoder.push(chunk);
      } catch (error) {
        this.#counts.brokenStreams += 1;
        this.#o.metrics?.count('broken_stream');
        this.#o.logger?.warn({ err: error }, 'access log stream broken; closing it (HAProxy reconnects)');
        socket.destroy();
        return;
      }
      for (const text of messages) this.#handle(text);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.#sockets.delete(socket));
  }

  #handle(text: string): void {
    const message = parseAccessLogMessage(text);
    if (message.kind === 'connection') {
      this.#counts.connectionErrors += 1;
      this.#o.metrics?.count('connection_error');
      return;
    }
    if (message.kind === 'lost') {
      this.#counts.lost += message.count;
      this.#o.metrics?.count('lost', message.count);
      this.#o.logger?.warn(
        { lost: message.count },
        'HAProxy dropped access log records Steward had not read',
      );
      return;
    }
    if (message.kind === 'malformed') {
      this.#counts.malformed += 1;
      this.#o.metrics?.count('malformed');
      this.#o.logger?.debug({ reason: message.reason }, 'an access log message is not a record');
      return;
    }
    try {
      this.#o.onRecord(message.record);
      this.#counts.received += 1;
      this.#o.metrics?.count('record');
    } catch (error) {
      this.#counts.malformed += 1;
      this.#o.metrics?.count('malformed');
      this.#o.logger?.warn({ err: error }, 'an access log record could not be handled');
    }
  }

  /** Stops reading and removes the socket; HAProxy keeps its records in the ring until the next start. */
  async stop(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    const server = this.#server;
    this.#server = undefined;
    this.#starting = undefined;
    if (!server) return;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.#o.socketPath).catch(() => undefined);
  }
}
