import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Envelope encryption: each secret has its own data key (AES-256-GCM), and the
 * data key is wrapped by the active master key. Rotating the master key
 * re-wraps data keys only; secret ciphertexts never change.
 *
 * Layout of both blobs: 12-byte IV | 16-byte GCM tag | ciphertext.
 * The secret's name is the additional authenticated data of its ciphertext,
 * so a ciphertext moved to another secret's row fails to decrypt.
 */
export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

export interface SealedSecret {
  readonly keyId: string;
  readonly wrappedKey: Buffer;
  readonly ciphertext: Buffer;
}

function encrypt(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function decrypt(key: Buffer, blob: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(blob.subarray(12, 28));
  return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]);
}

export function seal(master: MasterKey, name: string, value: string): SealedSecret {
  const dataKey = randomBytes(32);
  return {
    keyId: master.id,
    wrappedKey: encrypt(master.key, dataKey, `steward-master:${master.id}`),
    ciphertext: encrypt(dataKey, Buffer.from(value, 'utf8'), `steward-secret:${name}`),
  };
}

export function open(master: MasterKey, name: string, sealed: SealedSecret): string {
  const dataKey = decrypt(master.key, sealed.wrappedKey, `steward-master:${master.id}`);
  return decrypt(dataKey, sealed.ciphertext, `steward-secret:${name}`).toString('utf8');
}

export function rewrap(from: MasterKey, to: MasterKey, wrappedKey: Buffer): Buffer {
  const dataKey = decrypt(from.key, wrappedKey, `steward-master:${from.id}`);
  return encrypt(to.key, dataKey, `steward-master:${to.id}`);
}

/**
 * A retired master key, sealed under the active one: it is kept (in the
 * keyring file) to read restored backups of the control database, and needs
 * the active key to be of any use.
 */
export function sealMasterKey(under: MasterKey, retired: MasterKey): Buffer {
  return encrypt(under.key, retired.key, `steward-retired:${under.id}:${retired.id}`);
}

export function openMasterKey(under: MasterKey, id: string, sealed: Buffer): MasterKey {
  return { id, key: decrypt(under.key, sealed, `steward-retired:${under.id}:${id}`) };
}

export function newMasterKey(id: string): MasterKey {
  return { id, key: randomBytes(32) };
}

/** A random secret for generated credentials: 32 bytes, URL-safe. */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
