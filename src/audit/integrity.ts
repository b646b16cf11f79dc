import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
} from 'node:crypto';
import { InternalError } from '../core/errors.ts';

/**
 * The audit log's own keys, derived from the master key with HKDF and never
 * stored: a MAC key, with which Steward authenticates each event it writes,
 * and an Ed25519 key, with which it signs checkpoints. Each use has its own
 * HKDF info, so neither key says anything about the other or about the
 * master key. A MAC or checkpoint names the master key it was made with, so
 * both stay verifiable after a rotation for as long as the keyring keeps
 * that key (retired keys included).
 */
export interface MasterKeyView {
  readonly id: string;
  readonly key: Buffer;
}

/** What the audit log needs of the keyring: the active key, and any key it still holds by id. */
export interface MasterKeys {
  readonly active: MasterKeyView;
  byId(id: string): MasterKeyView | undefined;
}

const salt = Buffer.from('steward-audit', 'utf8');

function derive(master: MasterKeyView, use: 'event-mac-v1' | 'checkpoint-ed25519-v1'): Buffer {
  return Buffer.from(hkdfSync('sha256', master.key, salt, Buffer.from(use, 'utf8'), 32));
}

/** The fixed PKCS#8 prefix of an Ed25519 private key; the 32-byte seed follows. */
const ed25519Pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function checkpointSigningKey(master: MasterKeyView): SigningKey {
  const privateKey = createPrivateKey({
    key: Buffer.concat([ed25519Pkcs8Prefix, derive(master, 'checkpoint-ed25519-v1')]),
    format: 'der',
    type: 'pkcs8',
  });
  return { keyId: master.id, privateKey, publicKey: createPublicKey(privateKey) };
}

export function signCheckpoint(key: SigningKey, message: string): string {
  return sign(null, Buffer.from(message, 'utf8'), key.privateKey).toString('base64');
}

export function checkpointSignatureValid(key: SigningKey, message: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(message, 'utf8'), key.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * What an event's MAC covers: its place (seq and the hash it links to) and its
 * content. The place makes a copied event fail: the same content and MAC at
 * another seq do not verify.
 */
export function macInput(seq: string, prevHash: string, body: string): string {
  return `steward-audit-event-v1\n${seq}\n${prevHash}\n${body}`;
}

/** Derived keys are cached per master key id; a verify pass over a long log derives once. */
export class AuditKeys {
  readonly #keys: MasterKeys;
  readonly #macKeys = new Map<string, Buffer>();
  readonly #signing = new Map<string, SigningKey>();

  constructor(keys: MasterKeys) {
    this.#keys = keys;
    // Derived now: should a rotation drop this master key, this process can still check what it made.
    this.#macKey(keys.active.id);
    this.signing(keys.active.id);
  }

  get activeId(): string {
    return this.#keys.active.id;
  }

  #macKey(id: string): Buffer | undefined {
    let key = this.#macKeys.get(id);
    if (!key) {
      const master = this.#keys.byId(id);
      if (!master) return undefined;
      key = derive(master, 'event-mac-v1');
      this.#macKeys.set(id, key);
    }
    return key;
  }

  /** The MAC of a new event, with the active key. */
  mac(input: string): { keyId: string; mac: string } {
    const keyId = this.#keys.active.id;
    const key = this.#macKey(keyId);
    if (!key) throw new InternalError(`the active master key ${keyId} is not in the keyring`);
    return { keyId, mac: createHmac('sha256', key).update(input, 'utf8').digest('hex') };
  }

  /** `unknown-key`: the keyring no longer holds (or never held) the key named. */
  checkMac(keyId: string, input: string, mac: string): 'ok' | 'bad' | 'unknown-key' {
    const key = this.#macKey(keyId);
    if (!key) return 'unknown-key';
    const expected = createHmac('sha256', key).update(input, 'utf8').digest();
    const given = /^[0-9a-f]{64}$/.test(mac) ? Buffer.from(mac, 'hex') : Buffer.alloc(0);
    return given.length === expected.length && timingSafeEqual(given, expected) ? 'ok' : 'bad';
  }

  signing(id: string = this.#keys.active.id): SigningKey | undefined {
    let key = this.#signing.get(id);
    if (!key) {
      const master = this.#keys.byId(id);
      if (!master) return undefined;
      key = checkpointSigningKey(master);
      this.#signing.set(id, key);
    }
    return key;
  }
}
