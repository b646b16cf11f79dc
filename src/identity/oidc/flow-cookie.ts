import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { MasterKeys } from '../../audit/integrity.ts';

/**
 * The state of one sign-in between `begin` and the callback, kept in the
 * browser (the `__Host-steward-oidc` cookie) rather than on the server:
 * sealed (AES-256-GCM, a key derived from the master key with HKDF and never
 * stored), so the browser can neither read the PKCE verifier and nonce nor
 * change the host, connection or place it is bound to. Short-lived; a used
 * state is remembered server-side until it expires (see OidcService).
 */
export interface OidcFlow {
  readonly v: 1;
  readonly connection: string;
  readonly tenantId: string;
  readonly stage: string;
  /** The host the sign-in began on: the callback must come to the same one. */
  readonly host: string;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly returnTo: string;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
}

/** The flow cookie lives ten minutes (contracts.ts). */
export const flowLifetimeSeconds = 600;

const salt = Buffer.from('steward-oidc', 'utf8');
const info = Buffer.from('flow-cookie-v1', 'utf8');
const aad = Buffer.from('steward-oidc-flow-v1', 'utf8');

function keyOf(master: { readonly key: Buffer }): Buffer {
  return Buffer.from(hkdfSync('sha256', master.key, salt, info, 32));
}

/** `<master key id>.<base64url(iv | tag | ciphertext)>`: opened after a rotation while the keyring keeps the key. */
export function sealFlow(keys: MasterKeys, flow: OidcFlow): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(keys.active), iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(JSON.stringify(flow), 'utf8'), cipher.final()]);
  return `${keys.active.id}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

/** The flow, or why there is none (for the login log): never throws on what a browser sent. */
export function openFlow(
  keys: MasterKeys,
  cookie: string | undefined,
  nowSeconds: number,
): { readonly ok: true; readonly flow: OidcFlow } | { readonly ok: false; readonly detail: string } {
  if (!cookie) return { ok: false, detail: 'no sign-in in progress (the flow cookie is missing or expired)' };
  const dot = cookie.indexOf('.');
  const master = dot > 0 && cookie.length < 4096 ? keys.byId(cookie.slice(0, dot)) : undefined;
  if (!master) return { ok: false, detail: 'the flow cookie is not one Steward sealed' };
  let flow: OidcFlow;
  try {
    const blob = Buffer.from(cookie.slice(dot + 1), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keyOf(master), blob.subarray(0, 12));
    decipher.setAAD(aad);
    decipher.setAuthTag(blob.subarray(12, 28));
    const text = Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString('utf8');
    flow = JSON.parse(text) as OidcFlow;
  } catch {
    return { ok: false, detail: 'the flow cookie is not one Steward sealed' };
  }
  if (flow.v !== 1) return { ok: false, detail: 'the flow cookie is of an older version' };
  if (flow.expiresAt <= nowSeconds)
    return { ok: false, detail: 'the sign-in took too long (the flow expired)' };
  return { ok: true, flow };
}

/** What the used-state table keeps: a hash, so the table holds nothing a browser could replay. */
export function stateHash(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('base64url');
}
