import { sql, type Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { InternalError } from '../core/errors.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { AuditEventsTable } from '../store/schema.ts';
import {
  chainStart,
  checkEnd,
  eventBody,
  genesisHash,
  verifyChain,
  type AuditContent,
  type AuditOutcome,
  type ChainCursor,
  type ChainedEvent,
  type ChainProblem,
  type ChainRules,
} from './chain.ts';
import { makeCheckpoint, readCheckpoints, type Checkpoint, type CheckpointStore } from './checkpoints.ts';
import { macInput, type AuditKeys } from './integrity.ts';

const verifyBatch = 5000;
/** More problems than this are counted, not listed. */
const problemLimit = 100;

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
  /** Events before this time. */
  readonly until?: Date;
  readonly action?: string;
  readonly actor?: string;
  readonly limit?: number;
  readonly afterSeq?: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly checked: number;
  readonly lastSeq: string | null;
  /** Events written before the database computed hashes: chained, but unauthenticated (no MAC). */
  readonly legacy: number;
  /** The newest signed checkpoint the log was held to, and where it was found. */
  readonly checkpoint: {
    readonly seq: string;
    readonly hash: string;
    readonly at: string;
    readonly stores: readonly string[];
  } | null;
  /** The first problem (the chain walk stops at one that breaks the chain). */
  readonly problem: ChainProblem | null;
  readonly problems: readonly ChainProblem[];
  readonly warnings: readonly string[];
}

interface Head {
  readonly seq: string;
  readonly hash: string;
  readonly legacySeq: string;
}

export interface AuditServiceOptions {
  readonly db: ControlDb;
  readonly clock: Clock;
  readonly keys: AuditKeys;
  /** The local checkpoint file and, when backups are on, the repositories. */
  readonly checkpointStores: () => Promise<readonly CheckpointStore[]>;
  readonly logger: Logger;
}

/**
 * The audit log: appends (the database chains them, Steward adds a MAC),
 * lists, verifies, and signs checkpoints. Owns audit_events and audit.head.
 */
export class AuditService {
  readonly #o: AuditServiceOptions;
  /** The newest checkpoint this process wrote or read, so a pass reads the stores once. */
  #lastCheckpoint: Checkpoint | undefined;
  #checkpointing: Promise<Checkpoint | undefined> | undefined;

  constructor(options: AuditServiceOptions) {
    this.#o = options;
  }

  /**
   * Appends one event. Pass the transaction that makes the change, so the
   * change and its record commit together or not at all. reserve() locks the
   * chain's head until the transaction ends, so the MAC is made for the place
   * the trigger will give the event.
   */
  async record(tx: Queryable, entry: AuditEntry): Promise<void> {
    if (!tx.isTransaction) {
      await this.#o.db.transaction().execute((own) => this.record(own, entry));
      return;
    }
    const place = await sql<{
      seq: string;
      prev_hash: string;
    }>`select seq::text as seq, prev_hash from audit.reserve()`.execute(tx);
    const next = place.rows[0];
    if (!next) throw new InternalError('audit.reserve() returned no row');
    // Millisecond precision, so the timestamp reads back exactly as hashed.
    const at = new Date(Math.floor(this.#o.clock.now().getTime()));
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
    const body = eventBody(content);
    const { keyId, mac } = this.#o.keys.mac(macInput(next.seq, next.prev_hash, body));
    await tx
      .insertInto('audit_events')
      .values({
        seq: next.seq,
        at,
        actor: content.actor,
        action: content.action,
        target: content.target,
        tenant: content.tenant,
        outcome: content.outcome,
        address: content.address,
        details: JSON.stringify(content.details),
        prev_hash: next.prev_hash,
        body,
        mac_key: keyId,
        mac,
      })
      .execute();
  }

  /** Records in a transaction of its own: for events that change nothing else (logins, reads). */
  async recordAlone(entry: AuditEntry): Promise<void> {
    await this.#o.db.transaction().execute((tx) => this.record(tx, entry));
  }

  async list(query: AuditQuery = {}): Promise<ChainedEvent[]> {
    const rows = await this.#filtered(query)
      .orderBy('seq', 'asc')
      .limit(query.limit ?? 1000)
      .execute();
    return rows.map(toEvent);
  }

  /** One page of events in seq order (keyset on seq); the page's limit, not the query's. */
  async listPage(query: AuditQuery, page: PageRequest<'seq'>): Promise<Page<ChainedEvent>> {
    const events = await keysetPage(this.#filtered(query), { sort: 'seq', id: 'seq' }, page);
    return { ...events, items: events.items.map(toEvent) };
  }

  #filtered(query: AuditQuery) {
    let q = this.#o.db.selectFrom('audit_events').selectAll();
    if (query.tenant) q = q.where('tenant', '=', query.tenant);
    if (query.since) q = q.where('at', '>=', query.since);
    if (query.until) q = q.where('at', '<', query.until);
    if (query.action) q = q.where('action', '=', query.action);
    if (query.actor) q = q.where('actor', '=', query.actor);
    if (query.afterSeq) q = q.where('seq', '>', query.afterSeq);
    return q;
  }

  /**
   * Verifies the whole log: every hash and link, every MAC (an event
   * inserted with database credentials alone has none that verifies), and
   * the log against the newest signed checkpoint and the database's head,
   * which finds events cut off the end and a log rewritten with recomputed
   * hashes.
   */
  async verify(): Promise<VerifyReport> {
    const stores = await this.#o.checkpointStores();
    const reading = readCheckpoints(
      this.#o.keys,
      await Promise.all(stores.map(async (s) => ({ name: s.name, stored: await s.read() }))),
    );
    const newest = reading.newest;
    const walked = await this.#walk(newest);
    const problems = [...reading.problems, ...walked.problems];
    const warnings = [...reading.warnings];
    if (!newest) warnings.push('no signed checkpoint yet: events cut off the end would go unnoticed');
    return {
      ok: problems.length === 0,
      checked: walked.cursor.checked,
      lastSeq: walked.cursor.lastSeq ?? null,
      legacy: walked.cursor.legacy,
      checkpoint: newest
        ? { seq: newest.seq, hash: newest.hash, at: newest.at, stores: reading.stores }
        : null,
      problem: problems[0] ?? null,
      problems: problems.slice(0, problemLimit),
      warnings,
    };
  }

  /**
   * One checkpoint pass: verifies the events since the last checkpoint and,
   * if they hold and the chain moved, signs a checkpoint of its head and
   * writes it to the local file, then to each repository. A log that fails
   * verification gets no checkpoint: that would vouch for the tampering.
   */
  checkpoint(): Promise<Checkpoint | undefined> {
    this.#checkpointing ??= this.#checkpoint().finally(() => {
      this.#checkpointing = undefined;
    });
    return this.#checkpointing;
  }

  async #checkpoint(): Promise<Checkpoint | undefined> {
    const stores = await this.#o.checkpointStores();
    const local = stores.find((s) => s.name === 'local');
    if (!this.#lastCheckpoint && local) {
      const reading = readCheckpoints(this.#o.keys, [{ name: 'local', stored: await local.read() }]);
      this.#lastCheckpoint = reading.newest;
    }
    const previous = this.#lastCheckpoint;
    const walked = await this.#walk(previous, previous);
    if (walked.problems.length > 0) {
      this.#o.logger.error(
        { problems: walked.problems.map((p) => p.message) },
        'the audit log fails verification: no checkpoint signed',
      );
      return undefined;
    }
    const head = walked.head;
    if (previous && previous.seq === head.seq && previous.hash === head.hash) return undefined;
    const checkpoint = makeCheckpoint(this.#o.keys, head, this.#o.clock.now(), previous);
    for (const store of stores) {
      try {
        await store.append(checkpoint);
      } catch (error) {
        // The local file must be written; a repository that is down gets the next one.
        if (store.name === 'local') throw error;
        this.#o.logger.warn(
          { store: store.name, seq: checkpoint.seq, err: (error as Error).message },
          'audit checkpoint not written to a repository',
        );
      }
    }
    this.#lastCheckpoint = checkpoint;
    return checkpoint;
  }

  /**
   * Walks the log in one snapshot (repeatable read), so the head and the
   * events agree. `from`: start after this checkpoint's event, trusting what
   * it vouched for (the checkpoint pass); otherwise from the first event.
   */
  async #walk(
    checkpoint: Checkpoint | undefined,
    from?: Checkpoint,
  ): Promise<{ cursor: ChainCursor; problems: ChainProblem[]; head: Head }> {
    return this.#o.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (tx) => {
        const headRow = (
          await sql<Head>`select seq::text as seq, hash, legacy_seq::text as "legacySeq" from audit.head`.execute(
            tx,
          )
        ).rows[0];
        if (!headRow) throw new InternalError('audit.head has no row: migration 0012 did not run');
        const problems: ChainProblem[] = [];
        const legacySeq = checkpoint?.legacySeq ?? headRow.legacySeq;
        if (checkpoint && checkpoint.legacySeq !== headRow.legacySeq) {
          problems.push({
            seq: headRow.legacySeq,
            kind: 'rewritten',
            message: `the database says events up to ${headRow.legacySeq} have no MAC, the signed checkpoint says up to ${checkpoint.legacySeq}: the chain's head was changed`,
          });
        }
        const rules: ChainRules = {
          legacySeq: BigInt(legacySeq),
          checkMac: (keyId, input, mac) => this.#o.keys.checkMac(keyId, input, mac),
          macInput,
          ...(checkpoint && !from ? { checkpoint } : {}),
        };
        let cursor: ChainCursor = from
          ? { ...chainStart, lastHash: from.hash, lastSeq: from.seq, anchored: true }
          : // A checkpoint of the empty log holds at once; any other waits for its event.
            { ...chainStart, anchored: checkpoint?.seq === '0' && checkpoint.hash === genesisHash };
        let afterSeq = from?.seq;
        for (;;) {
          // No lower bound at first: an event written with seq 0 or below must be checked too.
          let q = tx.selectFrom('audit_events').selectAll();
          if (afterSeq !== undefined) q = q.where(sql<boolean>`seq > ${afterSeq}::bigint`);
          const rows = await q
            .orderBy('seq', 'asc')
            .limit(verifyBatch + 1)
            .execute();
          if (rows.length === 0) break;
          // One row past the batch lets the chain tell an inserted event at the batch's end from a deletion.
          const events = rows.map(toEvent);
          const following = events.length > verifyBatch ? events.pop() : undefined;
          const result = verifyChain(events, cursor, following, rules);
          problems.push(...(result.forged ?? []));
          cursor = result.cursor;
          if (result.problem) {
            problems.push(result.problem);
            return { cursor, problems, head: headRow };
          }
          afterSeq = events[events.length - 1]?.seq ?? afterSeq;
        }
        const end = checkEnd(cursor, rules.checkpoint, headRow);
        if (end) problems.push(end);
        return { cursor, problems, head: headRow };
      });
  }
}

function toEvent(row: Selectable<AuditEventsTable>): ChainedEvent {
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
    body: row.body,
    macKey: row.mac_key,
    mac: row.mac,
  };
}
