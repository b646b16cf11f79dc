import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * CSRF for the sign-in pages: a signed double-submit token (a random value
 * with an HMAC over it and the host, in a host-only cookie and in each
 * form) plus an Origin check on every POST. Pure functions of a key.
 */
export const csrfCookie = '__Host-steward-csrf';

export function newCsrfToken(key: Buffer, host: string): string {
  const nonce = randomBytes(18).toString('base64url');
  return `${nonce}.${mac(key, nonce, host)}`;
}

function mac(key: Buffer, nonce: string, host: string): string {
  return createHmac('sha256', key).update(`${nonce}\n${host}`).digest('base64url');
}

/** Whether a token is ours for this host (signature), used as the cookie's value or the form's. */
export function csrfTokenValid(key: Buffer, host: string, token: string | undefined): boolean {
  if (!token || token.length > 200) return false;
  const [nonce, tag, extra] = token.split('.');
  if (!nonce || !tag || extra !== undefined) return false;
  const expected = Buffer.from(mac(key, nonce, host));
  const given = Buffer.from(tag);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * A POST is accepted when its Origin is this host over https and the form's
 * token equals the cookie's, which is ours for this host.
 */
export function csrfAccepted(
  key: Buffer,
  input: {
    readonly host: string;
    /** The Host header as sent (with a port when not 443). */
    readonly hostHeader: string;
    readonly origin: string | undefined;
    readonly cookie: string | undefined;
    readonly form: string | undefined;
  },
): boolean {
  if (input.origin !== `https://${input.hostHeader.toLowerCase()}`) return false;
  if (!input.cookie || input.cookie !== input.form) return false;
  return csrfTokenValid(key, input.host, input.cookie);
}
