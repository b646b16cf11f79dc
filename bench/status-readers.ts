/**
 * The readers of bench/status, in a process of their own (so that they do
 * not share Steward's event loop): `concurrency` keep-alive HTTPS clients
 * each reading one path in a loop for `seconds`. The job comes over IPC, not
 * argv: a tenant's path holds its secret token.
 */
import { Agent, request } from 'node:https';

interface Job {
  readonly port: number;
  readonly host: string;
  readonly path: string;
  readonly ca: string;
  readonly concurrency: number;
  readonly seconds: number;
  /** Each reader starts a read every intervalMs (a person refreshing the page); 0: back to back. */
  readonly intervalMs: number;
}

export interface ReaderResult {
  readonly requests: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly bytes: number;
  /** Latency of every request, ms. */
  readonly latencies: number[];
}

function run(job: Job): Promise<ReaderResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency, ca: job.ca, servername: job.host });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let bytes = 0;
  let until = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const started = performance.now();
      const req = request(
        { host: '127.0.0.1', port: job.port, path: job.path, headers: { host: job.host }, agent },
        (res) => {
          res.on('data', (chunk: Buffer) => (bytes += chunk.length));
          res.on('end', () => {
            latencies.push(performance.now() - started);
            statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            resolve();
          });
          res.on('error', () => {
            errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const reader = async (index: number): Promise<void> => {
    // Paced readers start spread over one interval, so that they do not read in lockstep.
    let next = performance.now() + (job.intervalMs * index) / job.concurrency;
    while (performance.now() < until) {
      if (job.intervalMs > 0) {
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next += job.intervalMs;
        if (performance.now() >= until) break;
      }
      await one();
    }
  };
  // Every reader connects (TLS handshake) and reads once before the measured run.
  const warm = async (): Promise<void> => {
    await Promise.all(Array.from({ length: job.concurrency }, one));
    latencies.length = 0;
    errors = 0;
    bytes = 0;
    for (const key of Object.keys(statuses)) delete statuses[key];
    until = performance.now() + job.seconds * 1000;
  };
  return warm()
    .then(() => Promise.all(Array.from({ length: job.concurrency }, (_, i) => reader(i))))
    .then(() => {
      agent.destroy();
      return { requests: latencies.length, errors, statuses, bytes, latencies };
    });
}

process.once('message', (job: Job) => {
  void run(job).then((result) => {
    process.send?.(result, () => process.exit(0));
  });
});
