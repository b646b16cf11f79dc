import { createHash, randomBytes } from 'node:crypto';
import { InputError, showValue } from '../../core/errors.ts';

/**
 * The pure rules of tenant admins and break-glass access: what a reason, a
 * lifetime and a link token must look like, and what state a grant is in.
 * No I/O: the services in this folder read the rows and act on the answers.
 */

/** A tenant admin's invitation works this long unless the operator says otherwise. */
export const defaultInvitationHours = 72;
export const maxInvitationHours = 14 * 24;

/** Break-glass access is short: an hour unless asked, never more than a working day. */
export const defaultBreakGlassMinutes = 60;
export const maxBreakGlassMinutes = 8 * 60;
export const maxReasonLength = 500;
const minReasonLength = 10;

/** One-time link tokens: 256 random bits, a prefix that says what they open, stored as SHA-256. */
export const linkPrefixes = { invitation: 'sti_', breakGlass: 'stb_' } as const;
export type LinkKind = keyof typeof linkPrefixes;

export function newLinkToken(kind: LinkKind): { readonly token: string; readonly hash: string } {
  const token = `${linkPrefixes[kind]}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashLinkToken(token) };
}

export function hashLinkToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function looksLikeLinkToken(kind: LinkKind, value: string): boolean {
  return (
    value.length === linkPrefixes[kind].length + 43 &&
    value.startsWith(linkPrefixes[kind]) &&
    /^[A-Za-z0-9_-]+$/.test(value.slice(4))
  );
}

/** The reason an operator gives for break-glass access: the tenant reads it, so it must say something. */
export function checkReason(value: string): string {
  const reason = value.trim().replace(/\s+/g, ' ');
  if (reason.length < minReasonLength || reason.length > maxReasonLength) {
    throw new InputError(
      `field "reason": ${showValue(value)} is not accepted: say why the access is needed in ${minReasonLength} to ${maxReasonLength} characters (the tenant reads it)`,
      { field: 'reason' },
    );
  }
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(reason)) {
    throw new InputError('field "reason": control characters are not accepted', { field: 'reason' });
  }
  return reason;
}

export function checkBoundedInteger(
  field: string,
  value: number,
  min: number,
  max: number,
  unit: string,
): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted: a whole number of ${unit} from ${min} to ${max}`,
      {
        field,
      },
    );
  }
  return value;
}

export const grantStates = ['unused', 'active', 'expired', 'closed'] as const;
export type GrantState = (typeof grantStates)[number];

export interface GrantFacts {
  readonly linkUsedAt: Date | null;
  readonly expiresAt: Date;
  readonly closedAt: Date | null;
}

/** Closed wins over expired (someone ended it); an unexpired grant is active once its link was used. */
export function grantState(grant: GrantFacts, now: Date): GrantState {
  if (grant.closedAt) return 'closed';
  if (grant.expiresAt.getTime() <= now.getTime()) return 'expired';
  return grant.linkUsedAt ? 'active' : 'unused';
}

/**
 * Why a break-glass link may not open a session here and now, or undefined.
 * The link is good once, until the grant ends, and only on the host of the
 * stage it was opened for.
 */
export function redeemRefusal(
  grant: GrantFacts & { readonly tenantId: string; readonly stage: string },
  place: { readonly tenantId: string; readonly stage: string },
  now: Date,
): string | undefined {
  if (grant.tenantId !== place.tenantId || grant.stage !== place.stage)
    return 'this link is for another stage';
  const state = grantState(grant, now);
  if (state === 'closed') return 'this break-glass access was closed';
  if (state === 'expired') return 'this break-glass access has expired';
  if (state === 'active') return 'this link was already used';
  return undefined;
}

/** The invitation a new tenant admin receives (plain text; the token is the only secret in it). */
export function invitationMail(input: {
  readonly tenant: string;
  readonly email: string;
  readonly invitedBy: string;
  readonly token: string;
  readonly apiUrl: string;
  /** The invitation page on the tenant's own host. */
  readonly pageUrl: string;
  readonly expiresAt: Date;
}): { readonly subject: string; readonly body: string } {
  return {
    subject: `You are invited to administer ${input.tenant}`,
    body: [
      `${input.invitedBy} invited ${input.email} to administer the tenant ${input.tenant} on Steward:`,
      'its users, sign-in settings, SCIM tokens, login log, SLA reports, incidents and exports.',
      '',
      'Accept in your browser: choose a password and add the account to your authenticator app:',
      '',
      `  ${input.pageUrl}?token=${input.token}`,
      '',
      'Or accept with the Steward CLI; it asks for this invitation code and a new password:',
      '',
      `  steward --api-url ${input.apiUrl} tenant-admin accept`,
      `  invitation code: ${input.token}`,
      '',
      'Then enrol a second factor (an authenticator app): steward mfa enroll, then steward mfa verify <code>.',
      `The code works once, until ${input.expiresAt.toISOString()}. If you did not expect this, ignore it.`,
    ].join('\n'),
  };
}
