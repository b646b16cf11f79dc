import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { EventSink } from './hub.ts';
import { sse } from './sse.ts';

export interface EventStreamOptions {
  /** Bytes a stream may have waiting for a slow reader; past it the stream is closed. */
  readonly bufferBytes: number;
  readonly keepaliveMs: number;
  /** What the browser waits before reconnecting (the stream's `retry:`). */
  readonly retryMs: number;
  /** The request's logger: a stream cut off is logged with its request id. */
  readonly logger: Pick<FastifyBaseLogger, 'info'>;
  /** Runs once when the stream ends, however it ends. */
  readonly onEnd: () => void;
}

/**
 * One console's server-sent event stream on an HTTP response. Its buffer is
 * bounded: a reader that falls behind by more than bufferBytes (a laptop
 * asleep, a stalled proxy) is cut off, not waited for, so that it never holds
 * up the others or grows Steward's memory; its browser reconnects and
 * refetches.
 */
export class EventStream implements EventSink {
  readonly #response: ServerResponse;
  readonly #o: EventStreamOptions;
  #keepalive: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(response: ServerResponse, options: EventStreamOptions) {
    this.#response = response;
    this.#o = options;
  }

  /** Sends the headers and the retry interval, and keeps the stream alive from here on. */
  open(): void {
    this.#response.on('close', () => this.#finish());
    this.#response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // Proxies that buffer responses (nginx) must pass each event on at once.
      'x-accel-buffering': 'no',
    });
    this.#response.flushHeaders();
    this.write(sse.open(this.#o.retryMs));
    this.#keepalive = setInterval(() => this.write(sse.keepalive), this.#o.keepaliveMs);
    this.#keepalive.unref();
  }

  write(frame: string): boolean {
    if (this.#ended || this.#response.destroyed) return false;
    this.#response.write(frame);
    if (this.#response.writableLength > this.#o.bufferBytes) {
      this.#o.logger.info(
        { waitingBytes: this.#response.writableLength, bufferBytes: this.#o.bufferBytes },
        'a console event stream fell behind; closed (its browser reconnects and refetches)',
      );
      this.#response.destroy();
      this.#finish();
      return false;
    }
    return true;
  }

  end(): void {
    if (this.#ended) return;
    this.#response.end();
    this.#finish();
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#keepalive) clearInterval(this.#keepalive);
    this.#o.onEnd();
  }
}
