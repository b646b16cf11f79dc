import { sql } from 'kysely';
import type { ControlDb, Queryable } from '../store/db.ts';

/**
 * Leases: which node does a piece of singleton work, until when. The one
 * writer of the leases table. Every time is the database's clock (now()),
 * so nodes whose clocks disagree still agree on who holds what; a node only
 * measures durations on its own monotonic clock.
 *
 * A lease is taken by `insert … on conflict … do update … where expired or
 * mine`: one statement decides, and two nodes racing for a free lease cannot
 * both win. Each time another incarnation takes it its epoch grows by one,
 * so work that must not run twice can be fenced (stillHeld, in the
 * transaction that does it).
 */

/** Who asks for a lease: a node's name and this process's registration of it. */
export interface LeaseHolder {
  readonly node: string;
  /** The node row's incarnation (nodes.ts): a restarted node is a new holder. */
  readonly incarnation: string;
}

/** A held lease, from its holder's point of view. */
export interface LeaseTerm {
  readonly name: string;
  /** Grows each time another holder takes the lease. */
  readonly epoch: string;
  /** When this holder took it (the database's clock). */
  readonly acquiredAt: Date;
}

/** What one acquire-or-renew statement answered. */
export type LeaseAnswer =
  | { readonly kind: 'held'; readonly epoch: string; readonly acquiredAt: Date }
  | { readonly kind: 'taken'; readonly node: string; readonly expiresAt: Date }
  | { readonly kind: 'failed'; readonly error: string };

/** A node's view of one lease. */
export type LeaseState =
  | { readonly kind: 'follower' }
  | {
      readonly kind: 'holder';
      readonly term: LeaseTerm;
      /** On this node's monotonic clock: past this the node works no more without a renewal. */
      readonly validUntilMs: number;
    };

export type LeaseChange =
  | { readonly kind: 'none' }
  | { readonly kind: 'began'; readonly term: LeaseTerm }
  | { readonly kind: 'kept' }
  | { readonly kind: 'lost'; readonly reason: string };

export interface LeaseTiming {
  readonly ttlMs: number;
  readonly renewMs: number;
}

/** Renew every third of the ttl (at least 100 ms). */
export function leaseTiming(ttlMs: number): LeaseTiming {
  return { ttlMs, renewMs: Math.max(100, Math.floor(ttlMs / 3)) };
}

/**
 * How long a holder may work after sending a renewal that succeeded: the
 * database set expires_at = (a moment after sentAt) + ttl, so no other node
 * can take the lease before sentAt + ttl on any clock that runs at the same
 * rate. The holder stops one renew interval earlier, which leaves the pass in
 * flight that long to end before another node may begin.
 */
export function validUntil(sentAtMs: number, timing: LeaseTiming): number {
  return sentAtMs + timing.ttlMs - timing.renewMs;
}

/** The next state of a node's view of a lease after an answer to the statement it sent at sentAtMs. */
export function afterAnswer(
  state: LeaseState,
  answer: LeaseAnswer,
  sentAtMs: number,
  nowMs: number,
  timing: LeaseTiming,
  name: string,
): { readonly state: LeaseState; readonly change: LeaseChange } {
  const follower: LeaseState = { kind: 'follower' };
  switch (answer.kind) {
    case 'held': {
      const term: LeaseTerm = { name, epoch: answer.epoch, acquiredAt: answer.acquiredAt };
      const holder: LeaseState = { kind: 'holder', term, validUntilMs: validUntil(sentAtMs, timing) };
      if (holder.validUntilMs <= nowMs) {
        // The answer came too late to trust: another node may take the lease any moment.
        return state.kind === 'holder'
          ? { state: follower, change: { kind: 'lost', reason: 'the renewal answered too late' } }
          : { state: follower, change: { kind: 'none' } };
      }
      if (state.kind === 'follower') return { state: holder, change: { kind: 'began', term } };
      // Another holder had it in between (this node was paused past its term): that term ended.
      if (state.term.epoch !== answer.epoch)
        return { state: follower, change: { kind: 'lost', reason: 'another node held the lease meanwhile' } };
      return { state: holder, change: { kind: 'kept' } };
    }
    case 'taken':
      return state.kind === 'holder'
        ? { state: follower, change: { kind: 'lost', reason: `node ${answer.node} holds the lease` } }
        : { state: follower, change: { kind: 'none' } };
    case 'failed':
      if (state.kind === 'follower') return { state, change: { kind: 'none' } };
      if (nowMs >= state.validUntilMs)
        return { state: follower, change: { kind: 'lost', reason: `not renewed in time: ${answer.error}` } };
      // Still within the term: the next renewal may get through.
      return { state, change: { kind: 'none' } };
  }
}

/** A holder past its term stops, whether or not an answer ever came (a renewal that hangs). */
export function expire(state: LeaseState, nowMs: number): { state: LeaseState; change: LeaseChange } {
  if (state.kind === 'holder' && nowMs >= state.validUntilMs)
    return { state: { kind: 'follower' }, change: { kind: 'lost', reason: 'not renewed in time' } };
  return { state, change: { kind: 'none' } };
}

/** One lease as `steward node list` shows it. */
export interface LeaseView {
  readonly name: string;
  readonly node: string;
  readonly holder: string;
  readonly epoch: string;
  readonly acquiredAt: string;
  /** Seconds until it expires, by the database's clock; negative: expired. */
  readonly expiresInSeconds: number;
}

/** The one writer of the leases table. */
export class LeaseStore {
  readonly #db: ControlDb;

  constructor(db: ControlDb) {
    this.#db = db;
  }

  /** Takes the lease if it is free, expired or already this holder's; renews it then. */
  async acquire(name: string, holder: LeaseHolder, ttlMs: number): Promise<LeaseAnswer> {
    const held = await sql<{ epoch: string; acquired_at: Date }>`
      insert into leases as l (name, node, holder, epoch, acquired_at, renewed_at, expires_at)
      values (${name}, ${holder.node}, ${holder.incarnation}::uuid, 1, now(), now(),
              now() + ${Math.round(ttlMs)} * interval '1 millisecond')
      on conflict (name) do update set
        node = excluded.node,
        holder = excluded.holder,
        epoch = case when l.holder = excluded.holder then l.epoch else l.epoch + 1 end,
        acquired_at = case when l.holder = excluded.holder then l.acquired_at else now() end,
        renewed_at = now(),
        expires_at = excluded.expires_at
      where l.holder = excluded.holder or l.expires_at <= now()
      returning epoch::text as epoch, acquired_at`.execute(this.#db);
    const row = held.rows[0];
    if (row) return { kind: 'held', epoch: row.epoch, acquiredAt: row.acquired_at };
    const other = await this.#db
      .selectFrom('leases')
      .select(['node', 'expires_at'])
      .where('name', '=', name)
      .executeTakeFirst();
    // Between the two statements the holder may have released it: the next round takes it.
    return { kind: 'taken', node: other?.node ?? '?', expiresAt: other?.expires_at ?? new Date(0) };
  }

  /** Gives the lease up at once (a clean stop): another node may take it on its next round. The epoch stays. */
  async release(name: string, holder: LeaseHolder): Promise<boolean> {
    const done = await sql`update leases set expires_at = now()
      where name = ${name} and holder = ${holder.incarnation}::uuid and expires_at > now()`.execute(this.#db);
    return (done.numAffectedRows ?? 0n) > 0n;
  }

  /** Ends every lease a dead incarnation still holds (a node restarted after a kill -9 takes its work back at once). */
  async releaseAllOf(incarnation: string): Promise<string[]> {
    const done = await sql<{ name: string }>`update leases set expires_at = now()
      where holder = ${incarnation}::uuid and expires_at > now() returning name`.execute(this.#db);
    return done.rows.map((r) => r.name);
  }

  /**
   * Fencing: true while `term` is still the lease's current term, checked in
   * the caller's transaction. The row stays share-locked until it commits,
   * so no other node can take the lease over in between.
   */
  async stillHeld(tx: Queryable, term: LeaseTerm, holder: LeaseHolder): Promise<boolean> {
    const row = await sql<{ ok: number }>`select 1 as ok from leases
      where name = ${term.name} and holder = ${holder.incarnation}::uuid and epoch = ${term.epoch}::bigint
        and expires_at > now()
      for share`.execute(tx);
    return row.rows.length > 0;
  }

  async list(): Promise<LeaseView[]> {
    const rows = await sql<{
      name: string;
      node: string;
      holder: string;
      epoch: string;
      acquired_at: Date;
      expires_in: number;
    }>`select name, node, holder::text as holder, epoch::text as epoch, acquired_at,
         extract(epoch from expires_at - now())::float8 as expires_in
       from leases order by name`.execute(this.#db);
    return rows.rows.map((r) => ({
      name: r.name,
      node: r.node,
      holder: r.holder,
      epoch: r.epoch,
      acquiredAt: r.acquired_at.toISOString(),
      expiresInSeconds: Math.round(r.expires_in * 10) / 10,
    }));
  }
}
