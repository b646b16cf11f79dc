import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.ts';
import { InternalError, showValue } from '../core/errors.ts';
import { genesisHash, type ChainProblem } from './chain.ts';
import { checkpointSignatureValid, signCheckpoint, type AuditKeys } from './integrity.ts';

/**
 * A signed checkpoint of the audit chain, in the manner of CloudTrail's digest
 * files: the newest event's seq and hash, the time, and the digest of the
 * previous checkpoint, signed with Ed25519. Checkpoints live outside the
 * control database (a local append-only file and the backup repositories),
 * so whoever rewrites or cuts the database's log cannot make them agree.
 */
export interface CheckpointContent {
  readonly version: 1;
  /** The newest event the checkpoint vouches for (0: none yet). */
  readonly seq: string;
  readonly hash: string;
  /** Events up to this seq were written before the database computed hashes: no MAC. */
  readonly legacySeq: string;
  readonly at: string;
  /** The digest of the previous checkpoint; genesisHash for the first. */
  readonly previous: string;
  /** The master key the signing key was derived from. */
  readonly keyId: string;
}

export interface Checkpoint extends CheckpointContent {
  /** Ed25519 over checkpointMessage(content), base64. */
  readonly signature: string;
}

/** Where checkpoints are kept: the local file, a backup repository. */
export interface CheckpointStore {
  /** `local`, `repo1`, `repo2`. */
  readonly name: string;
  append(checkpoint: Checkpoint): Promise<void>;
  /** Every checkpoint held (the local file) or the newest alone (a repository), oldest first. */
  read(): Promise<readonly StoredCheckpoint[]>;
}

/** One checkpoint as read back: parsed, or the reason it does not parse. */
export type StoredCheckpoint =
  | { readonly ok: true; readonly checkpoint: Checkpoint; readonly where: string }
  | { readonly ok: false; readonly error: string; readonly where: string };

export function checkpointMessage(content: CheckpointContent): string {
  const { version, seq, hash, legacySeq, at, previous, keyId } = content;
  return `steward-audit-checkpoint-v1\n${canonicalJson({ version, seq, hash, legacySeq, at, previous, keyId })}`;
}

/** One line of JSON: the local file's record and a repository object's body. */
export function checkpointLine(checkpoint: Checkpoint): string {
  return canonicalJson(checkpoint);
}

export function checkpointDigest(checkpoint: Checkpoint): string {
  return createHash('sha256').update(checkpointLine(checkpoint), 'utf8').digest('hex');
}

export function makeCheckpoint(
  keys: AuditKeys,
  head: { seq: string; hash: string; legacySeq: string },
  at: Date,
  previous: Checkpoint | undefined,
): Checkpoint {
  const signing = keys.signing();
  if (!signing) throw new InternalError(`the active master key ${keys.activeId} is not in the keyring`);
  const content: CheckpointContent = {
    version: 1,
    seq: head.seq,
    hash: head.hash,
    legacySeq: head.legacySeq,
    at: at.toISOString(),
    previous: previous ? checkpointDigest(previous) : genesisHash,
    keyId: signing.keyId,
  };
  return { ...content, signature: signCheckpoint(signing, checkpointMessage(content)) };
}

const seqPattern = /^\d{1,19}$/;
const hashPattern = /^[0-9a-f]{64}$/;

/** Parses one stored checkpoint; `where` names it in the error (a file and line, an object). */
export function parseCheckpoint(text: string, where: string): StoredCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, where, error: `${where} is not JSON: ${showValue(text.slice(0, 80))}` };
  }
  const c = value as Partial<Record<keyof Checkpoint, unknown>>;
  const fields: [keyof Checkpoint, (v: unknown) => boolean, string][] = [
    ['version', (v) => v === 1, '1'],
    ['seq', (v) => typeof v === 'string' && seqPattern.test(v), 'a sequence number'],
    ['hash', (v) => typeof v === 'string' && hashPattern.test(v), '64 hex digits'],
    ['legacySeq', (v) => typeof v === 'string' && seqPattern.test(v), 'a sequence number'],
    ['at', (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)), 'an ISO time'],
    ['previous', (v) => typeof v === 'string' && hashPattern.test(v), '64 hex digits'],
    ['keyId', (v) => typeof v === 'string' && v.length > 0 && v.length <= 100, 'a master key id'],
    [
      'signature',
      (v) => typeof v === 'string' && /^[A-Za-z0-9+/]{86}==$/.test(v),
      'a base64 Ed25519 signature',
    ],
  ];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, where, error: `${where} is not a checkpoint object` };
  }
  for (const [field, valid, accepted] of fields) {
    if (!valid(c[field])) {
      return {
        ok: false,
        where,
        error: `${where}: field ${field} is ${showValue(c[field])}, not ${accepted}`,
      };
    }
  }
  return { ok: true, where, checkpoint: value as Checkpoint };
}

export interface CheckpointReading {
  /** The newest checkpoint with a good signature, and the stores that hold it. */
  readonly newest: Checkpoint | undefined;
  readonly stores: readonly string[];
  readonly problems: readonly ChainProblem[];
  /** Not tampering, but worth knowing: a repository behind the local file (a failed upload). */
  readonly warnings: readonly string[];
}

function checkpointProblem(seq: string, message: string): ChainProblem {
  return { seq, kind: 'checkpoint', message };
}

/**
 * Checks what each store holds, newest first. The newest must carry a
 * signature by a key the keyring holds; each older one is held by the digest
 * the next names (so one signed with a master key since rotated away still
 * counts) or by its own signature. The newest good checkpoint of all stores
 * is the one the log is held to. The local file is written first, so a
 * repository ahead of it means the file lost its newest lines.
 */
export function readCheckpoints(
  keys: AuditKeys,
  stores: readonly { readonly name: string; readonly stored: readonly StoredCheckpoint[] }[],
): CheckpointReading {
  const problems: ChainProblem[] = [];
  const warnings: string[] = [];
  const newestOf = new Map<string, Checkpoint>();
  for (const store of stores) {
    const parsed: { checkpoint: Checkpoint; where: string }[] = [];
    for (const item of store.stored) {
      // Not a problem in itself (a line torn by a crash reads so): what counts is that the
      // checkpoints around it still name each other, which the loop below checks.
      if (item.ok) parsed.push(item);
      else warnings.push(`skipped checkpoint ${item.error}`);
    }
    let next: { checkpoint: Checkpoint; where: string } | undefined;
    for (const item of parsed.reverse()) {
      const { checkpoint, where } = item;
      const signing = keys.signing(checkpoint.keyId);
      const signed = signing
        ? checkpointSignatureValid(signing, checkpointMessage(checkpoint), checkpoint.signature)
        : undefined;
      const named = next !== undefined && next.checkpoint.previous === checkpointDigest(checkpoint);
      if (signed === false) {
        problems.push(
          checkpointProblem(
            checkpoint.seq,
            `checkpoint ${where} (event ${checkpoint.seq}) does not carry Steward's signature: it was changed or made by someone else`,
          ),
        );
        continue;
      }
      if (next !== undefined && !named) {
        problems.push(
          checkpointProblem(
            next.checkpoint.seq,
            `checkpoint ${next.where} (event ${next.checkpoint.seq}) does not name the checkpoint before it (event ${checkpoint.seq}): checkpoints were removed or reordered`,
          ),
        );
      }
      if (signed === undefined && !named) {
        problems.push(
          checkpointProblem(
            checkpoint.seq,
            `checkpoint ${where} (event ${checkpoint.seq}) is signed with master key ${checkpoint.keyId}, which the keyring does not hold`,
          ),
        );
        continue;
      }
      if (!newestOf.has(store.name)) newestOf.set(store.name, checkpoint);
      next = item;
    }
  }
  let newest: Checkpoint | undefined;
  for (const checkpoint of newestOf.values()) {
    if (!newest || BigInt(checkpoint.seq) > BigInt(newest.seq)) newest = checkpoint;
  }
  if (!newest) return { newest: undefined, stores: [], problems, warnings };
  const top = newest;
  const local = newestOf.get('local');
  for (const store of stores) {
    const held = newestOf.get(store.name);
    if (held && checkpointDigest(held) === checkpointDigest(top)) continue;
    if (store.name === 'local') {
      const at = held ? `event ${held.seq}` : 'no checkpoint';
      problems.push(
        checkpointProblem(
          top.seq,
          `the local checkpoint file ends at ${at}, but a repository holds a signed checkpoint at event ${top.seq}: the file lost its newest checkpoints`,
        ),
      );
    } else if (local && checkpointDigest(local) === checkpointDigest(top)) {
      // A repository is written from the first checkpoint after its stanza exists, so it may lag.
      const holds = held ? `checkpoints up to event ${held.seq}` : 'no checkpoint yet';
      warnings.push(
        `${store.name} holds ${holds}, the local file up to event ${top.seq}; the next checkpoint copies it there`,
      );
    }
  }
  const holders = [...newestOf.entries()]
    .filter(([, c]) => checkpointDigest(c) === checkpointDigest(top))
    .map(([name]) => name);
  return { newest: top, stores: holders, problems, warnings };
}
