import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { InputError } from '../../core/errors.ts';

/**
 * Encryption of exports in the age format (age-encryption.org/v1), through the
 * reference TypeScript implementation by age's author, so that `age -d`
 * decrypts an export with the tenant's key and nothing from Steward.
 */

/** What encrypts a tenant's exports: an X25519 recipient, or a passphrase (scrypt). */
export type ExportKey =
  | { readonly kind: 'x25519'; readonly recipient: string }
  | { readonly kind: 'scrypt'; readonly passphrase: string };

/** What decrypts one: the identity (AGE-SECRET-KEY-1…) or the passphrase. */
export type ExportSecret = { readonly identity: string } | { readonly passphrase: string };

const recipientPattern = /^age1[02-9ac-hj-np-z]{58}$/;
const identityPattern = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

export function isRecipient(value: string): boolean {
  return recipientPattern.test(value);
}

export function isIdentity(value: string): boolean {
  return identityPattern.test(value);
}

/** A new key pair; the identity is shown once and never stored by Steward. */
export async function newIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** The first identity line of an age identity file (comments and blank lines skipped). */
export function identityFromFile(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const value = line.trim();
    if (value && !value.startsWith('#')) return value;
  }
  return undefined;
}

export async function encryptStream(key: ExportKey, plaintext: Readable): Promise<Readable> {
  const encrypter = new Encrypter();
  if (key.kind === 'x25519') encrypter.addRecipient(key.recipient);
  else encrypter.setPassphrase(key.passphrase);
  const web = Readable.toWeb(plaintext) as unknown as ReadableStream<Uint8Array>;
  const out = await encrypter.encrypt(web);
  return Readable.fromWeb(out as unknown as WebReadableStream<Uint8Array>);
}

/**
 * Decrypts a stream. The header is checked before this resolves, so a wrong
 * key fails here, before anything is done with the content; a changed byte
 * later in the file fails the stream when that chunk is reached.
 */
export async function decryptStream(secret: ExportSecret, ciphertext: Readable): Promise<Readable> {
  const decrypter = new Decrypter();
  if ('identity' in secret) {
    if (!isIdentity(secret.identity)) {
      throw new InputError(
        'field "identity": this is not an age identity; give the key file\'s "AGE-SECRET-KEY-1…" line',
        { field: 'identity' },
      );
    }
    decrypter.addIdentity(secret.identity);
  } else {
    decrypter.addPassphrase(secret.passphrase);
  }
  const web = Readable.toWeb(ciphertext) as unknown as ReadableStream<Uint8Array>;
  try {
    const out = await decrypter.decrypt(web);
    return Readable.fromWeb(out as unknown as WebReadableStream<Uint8Array>);
  } catch (error) {
    const field = 'identity' in secret ? 'identity' : 'passphrase';
    throw new InputError(
      `field "${field}": this ${field} does not open the export (${error instanceof Error ? error.message : String(error)}); use the tenant's export key`,
      { field, cause: error },
    );
  }
}
