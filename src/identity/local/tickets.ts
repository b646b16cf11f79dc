import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MasterKeys } from '../../audit/integrity.ts';

/**
 * Short-lived signed tickets a browser carries between two steps of a
 * local sign-in: the MFA challenge between password and code (or key), the
 * TOTP secret between showing it and the first code that confirms it, and a
 * security key's registration (webauthn.ts). An HMAC
 * key derived from the master key with HKDF (never stored), named by the
 * master key's id, so a ticket stays good across a rotation while the
 * keyring holds that key. A ticket is bound to its purpose, tenant, host and
 * user, and expires; single use is the caller's part (the challenge's hash
 * is kept with the credentials and cleared when answered).
 */
export const ticketPurposes = ['mfa-challenge', 'mfa-enrolment', 'webauthn-registration'] as const;
export type TicketPurpose = (typeof ticketPurposes)[number];

export interface Ticket {
  readonly purpose: TicketPurpose;
  readonly tenantId: string;
  readonly host: string;
  readonly userId: string;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  readonly nonce: string;
  /** The TOTP secret being enrolled (mfa-enrolment only). */
  readonly secret?: string;
}

const salt = Buffer.from('steward-local-sign-in', 'utf8');

function macKey(key: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, salt, Buffer.from('ticket-hmac-v1', 'utf8'), 32));
}

export class Tickets {
  readonly #keys: MasterKeys;

  constructor(keys: MasterKeys) {
    this.#keys = keys;
  }

  issue(ticket: Omit<Ticket, 'nonce'>): string {
    const master = this.#keys.active;
    const body = Buffer.from(
      JSON.stringify({ ...ticket, nonce: randomBytes(16).toString('base64url'), kid: master.id }),
      'utf8',
    ).toString('base64url');
    return `${body}.${createHmac('sha256', macKey(master.key)).update(body).digest('base64url')}`;
  }

  /** The ticket, if its signature, purpose, place and expiry are right; else undefined. */
  open(
    value: string,
    expect: { purpose: TicketPurpose; tenantId: string; host: string },
    now: Date,
  ): Ticket | undefined {
    if (value.length > 2048) return undefined;
    const [body, mac, extra] = value.split('.');
    if (!body || !mac || extra !== undefined) return undefined;
    let parsed: Ticket & { kid?: unknown };
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Ticket & { kid?: unknown };
    } catch {
      return undefined;
    }
    const master = typeof parsed.kid === 'string' ? this.#keys.byId(parsed.kid) : undefined;
    if (!master) return undefined;
    const want = createHmac('sha256', macKey(master.key)).update(body).digest();
    const got = Buffer.from(mac, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    if (
      parsed.purpose !== expect.purpose ||
      parsed.tenantId !== expect.tenantId ||
      parsed.host !== expect.host ||
      typeof parsed.userId !== 'string' ||
      typeof parsed.expiresAt !== 'number' ||
      parsed.expiresAt * 1000 <= now.getTime()
    ) {
      return undefined;
    }
    return parsed;
  }
}

/** What the credentials row keeps of a challenge: enough to answer it once, nothing to forge one. */
export function ticketDigest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
