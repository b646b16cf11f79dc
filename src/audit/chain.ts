import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.ts';

/**
 * The audit chain: each event's hash covers the previous event's hash and the
 * event's canonical JSON, so a changed, inserted or removed event breaks the
 * chain at a point `verifyChain` can name.
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
}

export function hashEvent(prevHash: string, content: AuditContent): string {
  const body = canonicalJson({
    at: content.at.toISOString(),
    actor: content.actor,
    action: content.action,
    target: content.target,
    tenant: content.tenant,
    outcome: content.outcome,
    address: content.address,
    details: content.details,
  });
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}

export type ChainProblemKind = 'changed' | 'inserted' | 'deleted';

export interface ChainProblem {
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
}

export const chainStart: ChainCursor = {
  lastHash: genesisHash,
  beforeLastHash: undefined,
  lastSeq: undefined,
  checked: 0,
};

/**
 * Checks events in order and returns the first problem. `cursor` carries
 * the tail of the part already checked, so long logs verify in batches;
 * `following` is the first event of the next batch, if any, so that an event
 * slipped in at the end of a batch is told from a deletion.
 */
export function verifyChain(
  events: readonly ChainedEvent[],
  cursor: ChainCursor = chainStart,
  following?: ChainedEvent,
): { cursor: ChainCursor; problem?: ChainProblem } {
  let { lastHash, beforeLastHash, lastSeq, checked } = cursor;
  const here = (): ChainCursor => ({ lastHash, beforeLastHash, lastSeq, checked });
  for (const [index, event] of events.entries()) {
    if (hashEvent(event.prevHash, event) !== event.hash) {
      return {
        cursor: here(),
        problem: {
          seq: event.seq,
          kind: 'changed',
          message: `audit event ${event.seq} (${event.action}) was changed after it was written: its content no longer matches its hash`,
        },
      };
    }
    if (event.prevHash !== lastHash) {
      // The event links to the one before its predecessor: the predecessor was slipped in.
      if (lastSeq !== undefined && event.prevHash === beforeLastHash) {
        return {
          cursor: here(),
          problem: {
            seq: lastSeq,
            kind: 'inserted',
            message: `audit event ${lastSeq} was inserted: event ${event.seq} links past it to the event before`,
          },
        };
      }
      // The next event links to this one's predecessor: this one was slipped in with a made-up link.
      const next = events[index + 1] ?? following;
      if (next !== undefined && next.prevHash === lastHash) {
        return {
          cursor: here(),
          problem: {
            seq: event.seq,
            kind: 'inserted',
            message: `audit event ${event.seq} (${event.action}) was inserted: event ${next.seq} links past it to the event before`,
          },
        };
      }
      return {
        cursor: here(),
        problem: {
          seq: event.seq,
          kind: 'deleted',
          message: `audit events are missing before event ${event.seq} (${event.action}): it links to a hash that is not its predecessor's${lastSeq ? ` (event ${lastSeq})` : ''}`,
        },
      };
    }
    beforeLastHash = lastHash;
    lastHash = event.hash;
    lastSeq = event.seq;
    checked += 1;
  }
  return { cursor: here() };
}
