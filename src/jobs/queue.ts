import { sql } from 'kysely';
import type pg from 'pg';
import type { Queryable } from '../store/db.ts';

/**
 * A small PostgreSQL job queue for level-triggered work. A job is a key
 * (`stage/42`); enqueueing a key that is already waiting coalesces into one
 * job. A worker holds a session advisory lock on the job while it runs, so a
 * worker that dies (kill -9) releases its jobs at once, and an enqueue never
 * waits for a running job.
 *
 * Chosen over graphile-worker and pg-boss: reconcile keys need coalescing and
 * "run again if requested while running", enqueueing must share the caller's
 * Kysely transaction, and this fits in one table with no schema of its own.
 */
export const jobsChannel = 'steward_jobs';
const lockNamespace = 0x5737n << 40n;
/**
 * pg_locks shows a running job's advisory lock as classid (the key's high 32
 * bits: this, for job ids below 2^32) and objid (the job's id).
 */
export const jobLockClassId = Number(lockNamespace >> 32n);

export async function enqueue(tx: Queryable, kind: string, key: string, runAt?: Date): Promise<void> {
  await tx
    .insertInto('jobs')
    .values({ kind, key, run_at: runAt ?? sql<Date>`now()` })
    .onConflict((oc) =>
      oc.columns(['kind', 'key']).doUpdateSet({
        run_at: sql<Date>`least(jobs.run_at, excluded.run_at)` as unknown as Date,
        requested_at: sql<Date>`clock_timestamp()` as unknown as Date,
        attempts: 0,
      }),
    )
    .execute();
  await sql`select pg_notify(${jobsChannel}, ${kind})`.execute(tx);
}

export interface ClaimedJob {
  readonly id: string;
  readonly kind: string;
  readonly key: string;
  readonly attempts: number;
  readonly requestedAt: string;
}

export type JobOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'retry'; readonly afterMs: number; readonly error: string }
  | { readonly kind: 'requeue'; readonly afterMs: number };

/** Claims one due job on a dedicated session, or returns undefined. */
export async function claim(
  client: pg.PoolClient,
  kinds: readonly string[],
): Promise<ClaimedJob | undefined> {
  const candidates = await client.query<{
    id: string;
    kind: string;
    key: string;
    attempts: number;
    requested_at: string;
  }>(
    // requested_at as text: a JS Date would drop its microseconds and never compare equal.
    `select id, kind, key, attempts, requested_at::text as requested_at from jobs
      where run_at <= now() and kind = any($1::text[])
      order by run_at, id limit 32`,
    [kinds],
  );
  for (const row of candidates.rows) {
    const locked = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [
      (lockNamespace + BigInt(row.id)).toString(),
    ]);
    if (!locked.rows[0]?.ok) continue;
    // It may have finished between our read and our lock.
    const still = await client.query('select 1 from jobs where id = $1', [row.id]);
    if (still.rowCount === 1) {
      return {
        id: row.id,
        kind: row.kind,
        key: row.key,
        attempts: row.attempts,
        requestedAt: row.requested_at,
      };
    }
    await release(client, row.id);
  }
  return undefined;
}

export async function finish(client: pg.PoolClient, job: ClaimedJob, outcome: JobOutcome): Promise<void> {
  try {
    if (outcome.kind === 'done') {
      // A request that arrived while the job ran changed requested_at: keep the job so it runs again.
      await client.query('delete from jobs where id = $1 and requested_at = $2::timestamptz', [
        job.id,
        job.requestedAt,
      ]);
    } else {
      const error = outcome.kind === 'retry' ? outcome.error.slice(0, 2000) : null;
      const attempts = outcome.kind === 'retry' ? job.attempts + 1 : 0;
      await client.query(
        `update jobs set run_at = now() + ($2::int * interval '1 millisecond'), attempts = $3, last_error = $4
          where id = $1 and requested_at = $5::timestamptz`,
        [job.id, Math.max(0, Math.round(outcome.afterMs)), attempts, error, job.requestedAt],
      );
    }
  } finally {
    await release(client, job.id);
  }
}

async function release(client: pg.PoolClient, id: string): Promise<void> {
  await client.query('select pg_advisory_unlock($1::bigint)', [(lockNamespace + BigInt(id)).toString()]);
}
