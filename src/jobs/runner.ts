import type pg from 'pg';
import type { Logger } from 'pino';
import { backoff, isTransient } from '../core/retry.ts';
import { ChannelListener } from '../store/listener.ts';
import { claim, finish, jobsChannel, type ClaimedJob, type JobOutcome } from './queue.ts';
import { logPassFailure } from '../core/logger.ts';

export type JobHandler = (job: ClaimedJob) => Promise<JobOutcome>;

/** How often an idle worker looks for due jobs (NOTIFY wakes it sooner). */
export const defaultJobPollMs = 1000;

/** What the runner tells metrics and the watchdog: each job's duration, and that a worker is alive. */
export interface JobObserver {
  jobFinished(kind: string, outcome: JobOutcome['kind'], seconds: number): void;
  /** A worker found nothing due: the runner keeps up. */
  idle(): void;
}

export interface JobRunnerOptions {
  readonly pool: pg.Pool;
  readonly handlers: Readonly<Record<string, JobHandler>>;
  readonly concurrency: number;
  readonly logger: Logger;
  readonly pollMs?: number;
  readonly observer?: JobObserver;
}

/**
 * Runs jobs with a fixed number of workers. Woken by NOTIFY, and polls as a
 * fallback for delayed jobs. `runOnce` is the one pass; the loops only call it.
 */
export class JobRunner {
  readonly #options: JobRunnerOptions;
  readonly #kinds: string[];
  #running = false;
  #loops: Promise<void>[] = [];
  #listener: ChannelListener | undefined;
  #wakers = new Set<() => void>();
  #starting: Promise<void> | undefined;

  constructor(options: JobRunnerOptions) {
    this.#options = options;
    this.#kinds = Object.keys(options.handlers);
  }

  /** Claims and runs one job on the given session; false when nothing was due. */
  async runOnce(client: pg.PoolClient): Promise<boolean> {
    const job = await claim(client, this.#kinds);
    if (!job) return false;
    const handler = this.#options.handlers[job.kind];
    let outcome: JobOutcome;
    const started = performance.now();
    try {
      outcome = handler ? await handler(job) : { kind: 'done' };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#options.logger.warn({ job: job.key, kind: job.kind, err: message }, 'job failed');
      outcome = {
        kind: 'retry',
        afterMs: backoff(job.attempts, 500, isTransient(error) ? 10_000 : 60_000),
        error: message,
      };
    }
    await finish(client, job, outcome);
    this.#options.observer?.jobFinished(job.kind, outcome.kind, (performance.now() - started) / 1000);
    return true;
  }

  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#running = true;
    // Survives its session (a restart of the database): listens again, then looks for what is due.
    this.#listener = new ChannelListener({
      pool: this.#options.pool,
      channel: jobsChannel,
      about: 'job',
      logger: this.#options.logger,
      onNotification: () => this.#wakeAll(),
      onResumed: () => this.#wakeAll(),
    });
    await this.#listener.start();
    for (let i = 0; i < this.#options.concurrency; i++) this.#loops.push(this.#loop(i));
  }

  #wakeAll(): void {
    for (const wake of this.#wakers) wake();
  }

  async #loop(index: number): Promise<void> {
    const pollMs = this.#options.pollMs ?? defaultJobPollMs;
    while (this.#running) {
      let client: pg.PoolClient | undefined;
      let broken = false;
      try {
        client = await this.#options.pool.connect();
        while (this.#running && (await this.runOnce(client))) {
          // Keep going while work is due.
        }
        this.#options.observer?.idle();
      } catch (error) {
        // The session may still hold a job's advisory lock: never return it to the pool.
        broken = true;
        logPassFailure(this.#options.logger, error, 'job worker pass failed', { worker: index });
      } finally {
        client?.release(broken);
      }
      if (!this.#running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollMs);
        function done(): void {
          clearTimeout(timer);
          wakers.delete(done);
          resolve();
        }
        const wakers = this.#wakers;
        wakers.add(done);
      });
    }
  }

  async stop(): Promise<void> {
    if (!this.#starting) return;
    await this.#starting.catch(() => undefined);
    this.#running = false;
    this.#wakeAll();
    await Promise.allSettled(this.#loops);
    this.#loops = [];
    this.#listener?.stop();
    this.#listener = undefined;
    this.#starting = undefined;
  }
}
