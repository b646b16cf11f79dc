import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.ts';

/**
 * The audit chain: each event's hash covers the previous event's hash and the
 * event's canonical JSON, so a changed, inserted or removed event breaks the
 * chain at a point `verifyChain` can name.
 *
 * Since migration 0012 the database computes the hash (a trigger owned by
 * steward_audit) over seq, body (the canonical JSON), mac_key and mac, and
 * Steward adds the MAC, with a key the database never sees, over seq, the
 * previous hash and the body. Events before it ("legacy") keep the hash the
 * app computed and have no MAC.
 */
export const genesisHash = '0'.repeat(64);

export const auditOutcomes = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof auditOutcomes)[number];

export interface AuditContent {
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly tenant: string | null;
  readonly outcome: AuditOutcome;
  readonly address: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface ChainedEvent extends AuditContent {
  readonly seq: string;
  readonly prevHash: string;
  readonly hash: string;
  /** What the database hashed; null on legacy events. */
  readonly body?: string | null;
  /** The master key id the MAC was made with; null on legacy events. */
  readonly macKey?: string | null;
  readonly mac?: string | null;
}

/** The canonical JSON of an event's content: what legacy hashes and new MACs and hashes cover. */
export function eventBody(content: AuditContent): string {
  return canonicalJson({
    at: content.at.toISOString(),
    actor: content.actor,
    action: content.action,
    target: content.target,
    tenant: content.tenant,
    outcome: content.outcome,
    address: content.address,
    details: content.details,
  });
}

/** A legacy event's hash, as the app computed it before migration 0012. */
export function hashEvent(prevHash: string, content: AuditContent): string {
  return createHash('sha256')
    .update(`${prevHash}\n${eventBody(content)}`)
    .digest('hex');
}

/** A new event's hash, exactly as the database's trigger (audit.chain) computes it. */
export function chainHash(prevHash: string, seq: string, body: string, macKey: string, mac: string): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n${body}\n${macKey}\n${mac}`, 'utf8').digest('hex');
}

export const chainProblemKinds = [
  'changed',
  'inserted',
  'deleted',
  'forged',
  'rewritten',
  'truncated',
  'checkpoint',
] as const;
export type ChainProblemKind = (typeof chainProblemKinds)[number];

export interface ChainProblem {
  /** The event the problem is at (for `checkpoint`, the checkpoint's seq). */
  readonly seq: string;
  readonly kind: ChainProblemKind;
  readonly message: string;
}

/** Where a batched verification has got to. */
export interface ChainCursor {
  readonly lastHash: string;
  readonly beforeLastHash: string | undefined;
  readonly lastSeq: string | undefined;
  readonly checked: number;
  /** Of `checked`, the legacy events: chained, but without a MAC. */
  readonly legacy: number;
  /** The checkpoint's event was found with the checkpoint's hash. */
  readonly anchored: boolean;
}

export const chainStart: ChainCursor = {
  lastHash: genesisHash,
  beforeLastHash: undefined,
  lastSeq: undefined,
  checked: 0,
  legacy: 0,
  anchored: false,
};

export type MacVerdict = 'ok' | 'bad' | 'unknown-key';

/** How to read the events: which are legacy, how to check a MAC, which checkpoint to hold them to. */
export interface ChainRules {
  /** Events up to this seq are legacy; null: every event is (a log from before migration 0012). */
  readonly legacySeq: bigint | null;
  readonly checkMac: (keyId: string, input: string, mac: string) => MacVerdict;
  readonly macInput: (seq: string, prevHash: string, body: string) => string;
  /** The newest signed checkpoint: the event at its seq must carry its hash. */
  readonly checkpoint?: { readonly seq: string; readonly hash: string } | undefined;
}

export const legacyRules: ChainRules = {
  legacySeq: null,
  checkMac: () => 'bad',
  macInput: () => '',
};

function seqOf(seq: string): bigint | undefined {
  return /^-?\d{1,19}$/.test(seq) ? BigInt(seq) : undefined;
}

function isLegacy(event: ChainedEvent, rules: ChainRules): boolean {
  if (rules.legacySeq === null) return true;
  const seq = seqOf(event.seq);
  return seq !== undefined && seq <= rules.legacySeq;
}

/** Whether the event's own fields hash to its hash; a message saying why not. */
function selfCheck(event: ChainedEvent, rules: ChainRules): string | undefined {
  const what = `audit event ${event.seq} (${event.action})`;
  if (isLegacy(event, rules)) {
    return hashEvent(event.prevHash, event) === event.hash
      ? undefined
      : `${what} was changed after it was written: its content no longer matches its hash`;
  }
  const { body, macKey, mac } = event;
  if (body == null || macKey == null || mac == null) {
    return `${what} has no body or MAC: it was written around the database's chain trigger`;
  }
  if (body !== eventBody(event)) {
    return `${what} was changed after it was written: its fields no longer match the body that was hashed`;
  }
  if (chainHash(event.prevHash, event.seq, body, macKey, mac) !== event.hash) {
    return `${what} was changed after it was written: its content no longer matches its hash`;
  }
  return undefined;
}

/**
 * `pinned`: the event is at or before the signed checkpoint the log is held
 * to. Its MAC was checked before that checkpoint was signed, and its hash
 * (which covers the MAC) leads to the checkpoint's, so a MAC key the keyring
 * has since dropped (a master key rotated away) leaves it verified. After the
 * checkpoint, a MAC that cannot be checked is a problem: anyone can name a
 * key Steward does not hold.
 */
function macProblem(event: ChainedEvent, rules: ChainRules, pinned: boolean): ChainProblem | undefined {
  if (isLegacy(event, rules) || event.body == null || event.macKey == null || event.mac == null) {
    return undefined;
  }
  const verdict = rules.checkMac(
    event.macKey,
    rules.macInput(event.seq, event.prevHash, event.body),
    event.mac,
  );
  if (verdict === 'ok' || (verdict === 'unknown-key' && pinned)) return undefined;
  return {
    seq: event.seq,
    kind: 'forged',
    message:
      verdict === 'unknown-key'
        ? `audit event ${event.seq} (${event.action}) names MAC key ${event.macKey}, which the keyring does not hold: it cannot be authenticated (restore that master key into the keyring)`
        : `audit event ${event.seq} (${event.action}) was not written by Steward: its MAC does not match (inserted with database credentials alone)`,
  };
}

/**
 * Checks events in order and returns the first problem that breaks the chain
 * (the walk stops there), and every event whose MAC fails (the walk goes on:
 * a forged event the database chained does not break what follows).
 * `cursor` carries the tail of the part already checked, so long logs verify
 * in batches; `following` is the first event of the next batch, if any, so
 * that an event slipped in at the end of a batch is told from a deletion.
 */
export function verifyChain(
  events: readonly ChainedEvent[],
  cursor: ChainCursor = chainStart,
  following?: ChainedEvent,
  rules: ChainRules = legacyRules,
): { cursor: ChainCursor; problem?: ChainProblem; forged?: ChainProblem[] } {
  let { lastHash, beforeLastHash, lastSeq, checked, legacy, anchored } = cursor;
  const forged: ChainProblem[] = [];
  const here = (): ChainCursor => ({ lastHash, beforeLastHash, lastSeq, checked, legacy, anchored });
  const stop = (problem: ChainProblem) => ({
    cursor: here(),
    problem,
    ...(forged.length > 0 ? { forged } : {}),
  });
  const checkpointSeq = rules.checkpoint ? seqOf(rules.checkpoint.seq) : undefined;
  for (const [index, event] of events.entries()) {
    const changed = selfCheck(event, rules);
    if (changed !== undefined) return stop({ seq: event.seq, kind: 'changed', message: changed });
    if (event.prevHash !== lastHash) {
      // The event links to the one before its predecessor: the predecessor was slipped in.
      if (lastSeq !== undefined && event.prevHash === beforeLastHash) {
        return stop({
          seq: lastSeq,
          kind: 'inserted',
          message: `audit event ${lastSeq} was inserted: event ${event.seq} links past it to the event before`,
        });
      }
      // The next event links to this one's predecessor: this one was slipped in with a made-up link.
      const next = events[index + 1] ?? following;
      if (next !== undefined && next.prevHash === lastHash) {
        return stop({
          seq: event.seq,
          kind: 'inserted',
          message: `audit event ${event.seq} (${event.action}) was inserted: event ${next.seq} links past it to the event before`,
        });
      }
      return stop({
        seq: event.seq,
        kind: 'deleted',
        message: `audit events are missing before event ${event.seq} (${event.action}): it links to a hash that is not its predecessor's${lastSeq ? ` (event ${lastSeq})` : ''}`,
      });
    }
    // At or before the checkpoint's event (a later one stops the walk below until it is found).
    const pinned = rules.checkpoint !== undefined && !anchored;
    if (rules.checkpoint && !anchored && checkpointSeq !== undefined) {
      const seq = seqOf(event.seq);
      if (seq !== undefined && seq >= checkpointSeq) {
        if (seq > checkpointSeq || event.hash !== rules.checkpoint.hash) {
          return stop({
            seq: event.seq,
            kind: 'rewritten',
            message:
              seq > checkpointSeq
                ? `the audit log was rewritten: the signed checkpoint names event ${rules.checkpoint.seq}, which is gone (event ${event.seq} follows event ${lastSeq ?? 'none'})`
                : `the audit log was rewritten up to event ${event.seq}: its hash is not the one the signed checkpoint holds for it`,
          });
        }
        anchored = true;
      }
    }
    const unauthentic = macProblem(event, rules, pinned);
    if (unauthentic) forged.push(unauthentic);
    if (isLegacy(event, rules)) legacy += 1;
    beforeLastHash = lastHash;
    lastHash = event.hash;
    lastSeq = event.seq;
    checked += 1;
  }
  return { cursor: here(), ...(forged.length > 0 ? { forged } : {}) };
}

/**
 * After the last event: the log must reach the signed checkpoint and the
 * database's own head (which the trigger moves with each event); a log that
 * stops short of either lost its newest events.
 */
export function checkEnd(
  cursor: ChainCursor,
  checkpoint: { readonly seq: string; readonly hash: string } | undefined,
  head: { readonly seq: string; readonly hash: string } | undefined,
): ChainProblem | undefined {
  const last = cursor.lastSeq ?? '0';
  if (checkpoint && !cursor.anchored) {
    return {
      seq: checkpoint.seq,
      kind: 'truncated',
      message: `the audit log was truncated: the signed checkpoint holds events up to ${checkpoint.seq}, the log ends at ${cursor.lastSeq ?? 'no event'}`,
    };
  }
  if (head && (head.seq !== last || head.hash !== cursor.lastHash)) {
    const headSeq = seqOf(head.seq) ?? 0n;
    const lastSeq = seqOf(last) ?? 0n;
    return headSeq > lastSeq
      ? {
          seq: head.seq,
          kind: 'truncated',
          message: `the audit log was truncated: the database's chain head is event ${head.seq}, the log ends at ${cursor.lastSeq ?? 'no event'}`,
        }
      : {
          seq: last,
          kind: 'rewritten',
          message: `the audit log's newest event ${last} is not the database's chain head (event ${head.seq}): it was written around the chain trigger`,
        };
  }
  return undefined;
}
