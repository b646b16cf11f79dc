import { formatAddress, parseAddress } from '../gateway/index.ts';

/**
 * Who may try a password now: plain decisions over counters, no I/O.
 *
 * Failed logins are counted twice. Per client address prefix (an IPv4
 * address, an IPv6 /64, which one subscriber usually holds whole), across
 * every account: a sprayer trying one password on many accounts is slowed
 * down. And per account and address prefix together: guesses at an account
 * lock it for that prefix only, so a stranger elsewhere cannot lock its owner
 * out, and the well-known first owner `admin` stays reachable from where its
 * owner signs in.
 *
 * Guessing one account from many prefixes is bounded too: failures from
 * prefixes the account has never signed in from are summed; past
 * `maxUntrustedFailuresPerAccount` within the lockout period, only prefixes it
 * has signed in from before may try. So a botnet gets that many guesses per
 * lockout period in all, and the owner, signing in from a known prefix, is not
 * shut out by it.
 */
export interface LoginLimits {
  /** Failed logins on one account from one address prefix, within `lockoutSeconds`, that lock it there. */
  readonly maxFailuresPerAccount: number;
  /** How long a lock lasts, and the window its failures are counted in. */
  readonly lockoutSeconds: number;
  /** Failed logins from one address prefix, on any accounts, within `addressWindowSeconds`. */
  readonly maxFailuresPerAddress: number;
  readonly addressWindowSeconds: number;
  /** Failed logins on one account from prefixes it never signed in from, within `lockoutSeconds`. */
  readonly maxUntrustedFailuresPerAccount: number;
}

/**
 * The key of an address's counters: an IPv4 address as itself (/32), an IPv6
 * address as its /64. IPv4-mapped IPv6 addresses count as IPv4.
 */
export function addressPrefix(address: string): string {
  const value = parseAddress(address);
  if (value === undefined) return address.slice(0, 64);
  if (value >> 32n === 0xffffn) return `${formatAddress(value)}/32`;
  return `${formatAddress(value & ~((1n << 64n) - 1n))}/64`;
}

/** The address prefix's counter, this attempt included. */
export interface AddressCount {
  readonly failures: number;
  readonly windowStart: Date;
}

export type AddressVerdict =
  { readonly kind: 'open' } | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

export function addressVerdict(count: AddressCount, limits: LoginLimits, now: Date): AddressVerdict {
  if (count.failures <= limits.maxFailuresPerAddress) return { kind: 'open' };
  const until = count.windowStart.getTime() + limits.addressWindowSeconds * 1000;
  return { kind: 'throttled', retryAfterSeconds: secondsUntil(until, now) };
}

/** One account's counter for one address prefix, this attempt included. */
export interface AccountCount {
  /** Failures in the current window, this attempt included (not counted while locked). */
  readonly failures: number;
  readonly lockedUntil: Date | null;
  /** The account signed in from this prefix before. */
  readonly trusted: boolean;
  /** Failures on the account from prefixes it never signed in from, within the lockout period. */
  readonly untrustedFailures: number;
}

export type AccountVerdict =
  /** Check the password; `attempt` is this attempt's number in the window, `lockOnFailure` if it is the last. */
  | { readonly kind: 'open'; readonly attempt: number; readonly lockOnFailure: boolean }
  /**
   * Refused unchecked. `lockNow` when this prefix has used up its attempts but
   * holds no lock yet: the attempt that reached the limit may itself have been
   * refused for another reason (many new addresses), and then nobody else locks.
   */
  | { readonly kind: 'locked'; readonly reason: string; readonly lockNow: boolean };

export function accountVerdict(count: AccountCount, limits: LoginLimits, now: Date): AccountVerdict {
  const lockedNow = count.lockedUntil !== null && count.lockedUntil > now;
  if (lockedNow) return { kind: 'locked', reason: 'account locked for this address', lockNow: false };
  const spent = count.failures >= limits.maxFailuresPerAccount;
  // Over the limit without a lock yet: concurrent attempts the lock has not caught up with.
  if (count.failures > limits.maxFailuresPerAccount) {
    return { kind: 'locked', reason: 'account locked for this address', lockNow: true };
  }
  if (!count.trusted && count.untrustedFailures > limits.maxUntrustedFailuresPerAccount) {
    return { kind: 'locked', reason: 'too many failed logins from new addresses', lockNow: spent };
  }
  return { kind: 'open', attempt: count.failures, lockOnFailure: spent };
}

function secondsUntil(at: number, now: Date): number {
  return Math.max(1, Math.ceil((at - now.getTime()) / 1000));
}
