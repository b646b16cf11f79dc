import { sql } from 'kysely';
import type { Clock } from '../core/clock.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import {
  chainStart,
  genesisHash,
  hashEvent,
  verifyChain,
  type AuditContent,
  type AuditOutcome,
  type ChainedEvent,
  type ChainProblem,
} from './chain.ts';

/** Serialises appends so that each event links to exactly one predecessor. */
const auditLockKey = 0x5737_a0d1;
const verifyBatch = 5000;

export interface AuditEntry {
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly tenant?: string | null;
  readonly outcome?: AuditOutcome;
  readonly address?: string | null;
  readonly details?: Record<string, unknown>;
}

export interface AuditQuery {
  readonly tenant?: string;
  readonly since?: Date;
  readonly action?: string;
  readonly limit?: number;
  readonly afterSeq?: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly checked: number;
  readonly lastSeq: string | null;
  readonly problem: ChainProblem | null;
}

export class AuditService {
  readonly #db: ControlDb;
  readonly #clock: Clock;

  constructor(db: ControlDb, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  /**
   * Appends one event. Pass the transaction that makes the change, so the
   * change and its record commit together or not at all.
   */
  async record(tx: Queryable, entry: AuditEntry): Promise<void> {
    await sql`select pg_advisory_xact_lock(${auditLockKey})`.execute(tx);
    const last = await tx
      .selectFrom('audit_events')
      .select('hash')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    // Millisecond precision, so the timestamp reads back exactly as hashed.
    const at = new Date(Math.floor(this.#clock.now().getTime()));
    const content: AuditContent = {
      at,
      actor: entry.actor,
      action: entry.action,
      target: entry.target,
      tenant: entry.tenant ?? null,
      outcome: entry.outcome ?? 'success',
      address: entry.address ?? null,
      details: entry.details ?? {},
    };
    const prevHash = last?.hash ?? genesisHash;
    await tx
      .insertInto('audit_events')
      .values({
        at,
        actor: content.actor,
        action: content.action,
        target: content.target,
        tenant: content.tenant,
        outcome: content.outcome,
        address: content.address,
        details: JSON.stringify(content.details),
        prev_hash: prevHash,
        hash: hashEvent(prevHash, content),
      })
      .execute();
  }

  /** Records in a transaction of its own: for events that change nothing else (logins, reads). */
  async recordAlone(entry: AuditEntry): Promise<void> {
    await this.#db.transaction().execute((tx) => this.record(tx, entry));
  }

  async list(query: AuditQuery = {}): Promise<ChainedEvent[]> {
    let q = this.#db.selectFrom('audit_events').selectAll();
    if (query.tenant) q = q.where('tenant', '=', query.tenant);
    if (query.since) q = q.where('at', '>=', query.since);
    if (query.action) q = q.where('action', '=', query.action);
    if (query.afterSeq) q = q.where('seq', '>', query.afterSeq);
    const rows = await q
      .orderBy('seq', 'asc')
      .limit(query.limit ?? 1000)
      .execute();
    return rows.map(toEvent);
  }

  async verify(): Promise<VerifyReport> {
    let cursor = chainStart;
    // No lower bound at first: an event written with seq 0 or below must be checked too.
    let afterSeq: string | undefined;
    for (;;) {
      let q = this.#db.selectFrom('audit_events').selectAll();
      if (afterSeq !== undefined) q = q.where(sql<boolean>`seq > ${afterSeq}::bigint`);
      const rows = await q
        .orderBy('seq', 'asc')
        .limit(verifyBatch + 1)
        .execute();
      if (rows.length === 0) break;
      // One row past the batch lets the chain tell an inserted event at the batch's end from a deletion.
      const events = rows.map(toEvent);
      const following = events.length > verifyBatch ? events.pop() : undefined;
      const result = verifyChain(events, cursor, following);
      if (result.problem) {
        return {
          ok: false,
          checked: result.cursor.checked,
          lastSeq: result.cursor.lastSeq ?? null,
          problem: result.problem,
        };
      }
      cursor = result.cursor;
      afterSeq = events[events.length - 1]?.seq ?? afterSeq;
    }
    return { ok: true, checked: cursor.checked, lastSeq: cursor.lastSeq ?? null, problem: null };
  }
}

function toEvent(row: {
  seq: string;
  at: Date;
  actor: string;
  action: string;
  target: string;
  tenant: string | null;
  outcome: string;
  address: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}): ChainedEvent {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    tenant: row.tenant,
    outcome: row.outcome as AuditOutcome,
    address: row.address,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
