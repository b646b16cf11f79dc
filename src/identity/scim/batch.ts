import type { Directory, DirectoryWriter } from '../directory/index.ts';
import type { ScimCaller } from './tokens.ts';

/**
 * Group PATCHes that arrive together (an identity provider pushes
 * membership changes many at a time) share one transaction and one audit
 * event: the audit chain takes one lock per event until its commit, so an
 * event per request would make every PATCH wait for the one before it to
 * reach the disk. Each PATCH still answers only once its change is
 * committed with its audit record. If one PATCH of a batch fails, the batch
 * is rolled back and each is run alone, so one bad request fails only
 * itself.
 */
export interface BatchJob<S> {
  readonly caller: ScimCaller;
  readonly run: (w: DirectoryWriter) => Promise<S>;
}

export type BatchRecorder<S> = (
  w: DirectoryWriter,
  caller: ScimCaller,
  summaries: readonly S[],
) => Promise<void>;

interface Queued<S> extends BatchJob<S> {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Most PATCHes in one transaction. */
export const maxBatch = 100;

export class WriteBatcher<S> {
  readonly #directory: Directory;
  readonly #record: BatchRecorder<S>;
  #queue: Queued<S>[] = [];
  #draining = false;

  constructor(directory: Directory, record: BatchRecorder<S>) {
    this.#directory = directory;
    this.#record = record;
  }

  submit(job: BatchJob<S>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ ...job, resolve, reject });
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (;;) {
        const first = this.#queue[0];
        if (!first) return;
        // One caller (a tenant's token) a batch: one audit actor, one tenant.
        const batch: Queued<S>[] = [];
        const rest: Queued<S>[] = [];
        for (const job of this.#queue) {
          if (batch.length < maxBatch && job.caller.tokenId === first.caller.tokenId) batch.push(job);
          else rest.push(job);
        }
        this.#queue = rest;
        await this.#run(batch);
      }
    } finally {
      this.#draining = false;
    }
  }

  async #run(batch: readonly Queued<S>[]): Promise<void> {
    const caller = (batch[0] as Queued<S>).caller;
    if (batch.length > 1) {
      try {
        await this.#directory.write(async (w) => {
          const summaries: S[] = [];
          for (const job of batch) summaries.push(await job.run(w));
          await this.#record(w, caller, summaries);
        });
        for (const job of batch) job.resolve();
        return;
      } catch {
        // Rolled back whole: each on its own below, so the failure lands on the request that caused it.
      }
    }
    for (const job of batch) {
      try {
        await this.#directory.write(async (w) => this.#record(w, job.caller, [await job.run(w)]));
        job.resolve();
      } catch (error) {
        job.reject(error);
      }
    }
  }
}
