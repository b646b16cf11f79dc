import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Signed single-use links in page emails: acknowledge or resolve an alert
 * without signing in. The token names the alert, the action, the recipient
 * (who the action is recorded as) and an expiry, with a random nonce that
 * the single use is recorded by; HMAC-SHA256 under a key from the secret
 * store. Pure but for the nonce.
 */
export const linkActions = ['acknowledge', 'resolve'] as const;
export type LinkAction = (typeof linkActions)[number];

export interface LinkClaims {
  readonly alert: string;
  readonly action: LinkAction;
  readonly recipient: string;
  readonly expiresAt: Date;
  readonly nonce: string;
}

export type LinkCheck =
  | { readonly ok: true; readonly claims: LinkClaims }
  | { readonly ok: false; readonly reason: 'malformed' | 'forged' | 'expired'; readonly message: string };

function mac(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(`steward-oncall-link.v1.${payload}`).digest();
}

export function signLink(key: Buffer, claims: Omit<LinkClaims, 'nonce'>): string {
  const payload = Buffer.from(
    JSON.stringify({
      a: claims.alert,
      x: claims.action,
      r: claims.recipient,
      e: Math.floor(claims.expiresAt.getTime() / 1000),
      n: randomBytes(16).toString('base64url'),
    }),
  ).toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

/** Checks the signature first: nothing in a forged token is trusted, not even to say why. */
export function verifyLink(key: Buffer, token: string, now: Date): LinkCheck {
  const malformed = {
    ok: false,
    reason: 'malformed',
    message: 'This link is not a Steward link (it may have been cut short by your mail program).',
  } as const;
  const m = /^([A-Za-z0-9_-]{10,1000})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return malformed;
  const payload = m[1] ?? '';
  const given = Buffer.from(m[2] ?? '', 'base64url');
  const expected = mac(key, payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'forged', message: 'This link was not signed by this Steward.' };
  }
  let body: { a?: unknown; x?: unknown; r?: unknown; e?: unknown; n?: unknown };
  try {
    body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof body;
  } catch {
    return malformed;
  }
  const { a, x, r, e, n } = body;
  if (
    typeof a !== 'string' ||
    typeof r !== 'string' ||
    typeof n !== 'string' ||
    typeof e !== 'number' ||
    !linkActions.includes(x as LinkAction)
  ) {
    return malformed;
  }
  const expiresAt = new Date(e * 1000);
  if (expiresAt.getTime() <= now.getTime()) {
    return {
      ok: false,
      reason: 'expired',
      message: `This link expired at ${expiresAt.toISOString()}. Use "steward alert ack ${a}" or the console instead.`,
    };
  }
  return { ok: true, claims: { alert: a, action: x as LinkAction, recipient: r, expiresAt, nonce: n } };
}
