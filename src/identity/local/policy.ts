import { InputError, showValue } from '../../core/errors.ts';
import { minPasswordLength, passwordProblem } from '../credentials.ts';
import type { LoginLimits } from '../lockout.ts';

/**
 * The rules of local users as plain functions over plain data (no I/O):
 * the password policy, the lockout's backoff, and the lifetimes of mailed links.
 */

/** Operators' limits (config `login`), plus how long a lock may grow with backoff. */
export interface LocalLoginLimits extends LoginLimits {
  /** The longest lock: each lock of an account from one prefix doubles the last, up to this. */
  readonly maxLockoutSeconds: number;
}

export function localLimits(limits: LoginLimits): LocalLoginLimits {
  return { ...limits, maxLockoutSeconds: Math.max(limits.lockoutSeconds, limits.lockoutSeconds * 16) };
}

/**
 * How long the next lock lasts, after `previousLocks` locks of the same
 * account from the same prefix with no sign-in between: the base lockout,
 * doubled each time, capped.
 */
export function lockSeconds(limits: LocalLoginLimits, previousLocks: number): number {
  const doubled = limits.lockoutSeconds * 2 ** Math.min(Math.max(previousLocks, 0), 30);
  return Math.min(doubled, limits.maxLockoutSeconds);
}

/** What a new password is checked against besides its length. */
export interface PasswordContext {
  readonly userName: string;
  readonly email: string | null;
  /**
   * Passwords known from breaches, lower case. No packaged list is installed
   * on this machine (npm's @zxcvbn-ts/language-common ships one): empty by default.
   */
  readonly denylist?: ReadonlySet<string>;
}

/** Why a new password is refused (safe to show the user; it never repeats the password), or undefined. */
export function passwordPolicyProblem(password: string, context: PasswordContext): string | undefined {
  const length = passwordProblem(password);
  if (length) return length;
  const lower = password.toLowerCase();
  if (new Set(lower).size < 4) return 'a password needs at least 4 different characters';
  const names = [context.userName, context.email, context.email?.split('@')[0]]
    .filter((n): n is string => typeof n === 'string' && n.length >= 4)
    .map((n) => n.toLowerCase());
  if (names.some((n) => lower.includes(n)))
    return 'a password may not contain the user name or e-mail address';
  if (context.denylist?.has(lower)) return 'this password is known from breaches; choose another';
  return undefined;
}

export { minPasswordLength };

export const linkKinds = ['invitation', 'reset'] as const;
export type LinkKind = (typeof linkKinds)[number];

/** How long a mailed link stays good: an invitation a week, a reset an hour. */
export const linkLifetimeSeconds: Readonly<Record<LinkKind, number>> = {
  invitation: 7 * 86_400,
  reset: 3_600,
};

/** The sub-path of `/.steward/auth/` a link of each kind lands on. */
export const linkPage: Readonly<Record<LinkKind, 'invite' | 'reset'>> = {
  invitation: 'invite',
  reset: 'reset',
};

/** Why a mailed link cannot be used, from its row (undefined: it can). */
export function linkProblem(
  link:
    { readonly expiresAt: Date; readonly usedAt: Date | null; readonly revokedAt: Date | null } | undefined,
  now: Date,
): 'unknown' | 'used' | 'superseded' | 'expired' | undefined {
  if (!link) return 'unknown';
  if (link.usedAt) return 'used';
  if (link.revokedAt) return 'superseded';
  if (link.expiresAt <= now) return 'expired';
  return undefined;
}

/** The message a link page shows for each problem: it tells what to do next, and nothing of other users. */
export const linkProblemMessage: Readonly<Record<NonNullable<ReturnType<typeof linkProblem>>, string>> = {
  unknown: 'This link is not valid. Ask your administrator for a new one.',
  used: 'This link was used already. Ask your administrator for a new one.',
  superseded: 'A newer link was sent; use the newest e-mail.',
  expired: 'This link has expired. Ask your administrator for a new one.',
};

/** The login log's reading: `--since 7d`, `12h`, `30m` or an ISO time. */
export function parseSince(value: string, now: Date): Date {
  const relative = /^(\d{1,4})([mhd])$/.exec(value);
  if (relative) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(relative[1]) * unit);
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) {
    throw new InputError(
      `field "since": ${showValue(value)} is not accepted; use a duration back from now (30m, 12h, 7d) or an ISO time (2026-12-01T00:00:00Z)`,
      { field: 'since' },
    );
  }
  return at;
}
