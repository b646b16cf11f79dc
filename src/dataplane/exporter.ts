import { request } from 'node:http';
import { UnavailableError } from '../core/errors.ts';
import type { Listen } from './config.ts';
import { addressWithPort, checkAddress, checkPort } from './names.ts';

/**
 * HAProxy's own Prometheus exporter (frontends, backends, servers: sessions,
 * bytes, queue, response codes, health checks), read from the loopback stats
 * listener (fe_stats `/metrics`) so that Steward's API can serve it behind
 * the same guard as its own `/metrics`. Nothing is cached: each scrape is
 * HAProxy's state now.
 */
export interface HaproxyExporterOptions {
  readonly timeoutMs?: number;
  /** Refuse answers larger than this (a runaway exposition must not fill Steward's memory). */
  readonly maxBytes?: number;
}

export class HaproxyExporter {
  /** Prometheus' text format, as HAProxy's exporter writes it. */
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8';
  readonly #stats: Listen;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;

  constructor(stats: Listen, options: HaproxyExporterOptions = {}) {
    checkAddress('stats.address', stats.address);
    checkPort('stats.port', stats.port);
    this.#stats = stats;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  }

  render(): Promise<string> {
    const where = addressWithPort(this.#stats.address, this.#stats.port);
    const unavailable = (why: string, cause?: unknown) =>
      new UnavailableError(`HAProxy's Prometheus exporter at ${where} ${why}; is the data plane running?`, {
        cause,
      });
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.#stats.address, port: this.#stats.port, path: '/metrics', agent: false },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(unavailable(`answered ${res.statusCode}`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.#maxBytes) {
              req.destroy();
              reject(unavailable(`sent more than ${this.#maxBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', (error) => reject(unavailable('broke off its answer', error)));
        },
      );
      req.setTimeout(this.#timeoutMs, () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (error) => reject(unavailable(`does not answer (${error.message})`, error)));
      req.end();
    });
  }
}
