import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { GatewayMetrics } from '../gateway/metrics.ts';
import type { SystemUser } from '../system/exec.ts';
import { AccessLogFile } from './access-log-file.ts';
import { AccessLogReceiver, createAccessLogMetrics, type AccessLogCounts } from './access-log-receiver.ts';
import { countRequests, type AccessLogRecord, type StageLookup } from './access-log-stream.ts';

/**
 * The access log's whole Steward side behind one start/stop: the receiver on
 * the socket HAProxy's ring writes to (DataPlaneState.accessLog), each record
 * counted in the gateway metrics by tenant, stage and status class, what the
 * receiver got in steward_dataplane_access_log_messages_total, and, when
 * `fileDir` is set, the records on disk (a file per day, bounded).
 */
export interface DataPlaneAccessLogOptions {
  /** The socket HAProxy's ring forwards to: the same path as DataPlaneState.accessLog. */
  readonly socketPath: string;
  /** The user HAProxy's workers run as (DataPlaneState.runAs): the socket's owner. */
  readonly haproxyUser?: SystemUser;
  /** Stage id -> tenant and stage names, from the data plane's desired state. */
  readonly stages: StageLookup;
  /** Where steward_gateway_requests_total and its histogram live (createGatewayMetrics). */
  readonly gatewayMetrics: Pick<GatewayMetrics, 'observeRequest'>;
  /** Steward's registry (StewardMetrics.registry), for the receiver's own counter. */
  readonly registry: Registry;
  /** A directory of Steward's own for `access-<day>.jsonl` files; unset: no files. */
  readonly fileDir?: string;
  readonly logger?: Logger;
  /** Each record at info, as the Node gateway wrote its access log into Steward's log (component gateway-access). */
  readonly recordLog?: Logger;
}

export class DataPlaneAccessLog {
  readonly #receiver: AccessLogReceiver;
  readonly #file: AccessLogFile | undefined;

  constructor(options: DataPlaneAccessLogOptions) {
    const count = countRequests(options.gatewayMetrics, options.stages);
    const file = options.fileDir
      ? new AccessLogFile({ dir: options.fileDir, ...(options.logger ? { logger: options.logger } : {}) })
      : undefined;
    this.#file = file;
    const onRecord = (record: AccessLogRecord) => {
      count(record);
      file?.write(record);
      options.recordLog?.info({ ...record }, 'request');
    };
    this.#receiver = new AccessLogReceiver({
      socketPath: options.socketPath,
      ...(options.haproxyUser
        ? { owner: { uid: options.haproxyUser.uid, gid: options.haproxyUser.gid } }
        : {}),
      onRecord,
      metrics: createAccessLogMetrics(options.registry),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  get socketPath(): string {
    return this.#receiver.socketPath;
  }

  counts(): AccessLogCounts & { readonly fileWritten: number; readonly fileDropped: number } {
    const file = this.#file?.counts() ?? { written: 0, dropped: 0 };
    return { ...this.#receiver.counts(), fileWritten: file.written, fileDropped: file.dropped };
  }

  /** Listens for HAProxy; safe twice. Start it before HAProxy or after: the ring reconnects. */
  start(): Promise<void> {
    return this.#receiver.start();
  }

  /** Stops listening (HAProxy keeps serving and holds records in its ring) and closes the day's file. */
  async stop(): Promise<void> {
    await this.#receiver.stop();
    await this.#file?.close();
  }
}
