import { describe, expect, it } from 'vitest';
import {
  accountVerdict,
  addressPrefix,
  addressVerdict,
  type AccountCount,
  type LoginLimits,
} from '../../src/identity/lockout.ts';

const limits: LoginLimits = {
  maxFailuresPerAccount: 3,
  lockoutSeconds: 60,
  maxFailuresPerAddress: 10,
  addressWindowSeconds: 120,
  maxUntrustedFailuresPerAccount: 20,
};
const now = new Date('2026-12-06T12:00:00Z');

describe('failed-login counters', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7/32'],
    ['::ffff:192.0.2.7', '192.0.2.7/32'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8:1:3::1', '2001:db8:1:3::/64'],
    ['::1', '::/64'],
    ['not an address', 'not an address'],
  ])('keys %s as %s', (address, prefix) => {
    expect(addressPrefix(address)).toBe(prefix);
  });

  it('throttles an address past its limit until its window ends', () => {
    const windowStart = new Date(now.getTime() - 20_000);
    expect(addressVerdict({ failures: 10, windowStart }, limits, now)).toEqual({ kind: 'open' });
    expect(addressVerdict({ failures: 11, windowStart }, limits, now)).toEqual({
      kind: 'throttled',
      retryAfterSeconds: 100,
    });
  });

  const count = (change: Partial<AccountCount>): AccountCount => ({
    failures: 1,
    lockedUntil: null,
    trusted: false,
    untrustedFailures: 1,
    ...change,
  });
  it.each<[string, Partial<AccountCount>, ReturnType<typeof accountVerdict>]>([
    ['a first failure', {}, { kind: 'open', attempt: 1, lockOnFailure: false }],
    ['the last allowed attempt', { failures: 3 }, { kind: 'open', attempt: 3, lockOnFailure: true }],
    [
      'a concurrent attempt past the limit',
      { failures: 4 },
      { kind: 'locked', reason: 'account locked for this address', lockNow: true },
    ],
    [
      'a lock that has not run out',
      { lockedUntil: new Date(now.getTime() + 1000) },
      { kind: 'locked', reason: 'account locked for this address', lockNow: false },
    ],
    [
      'a lock that ran out',
      { lockedUntil: new Date(now.getTime() - 1) },
      { kind: 'open', attempt: 1, lockOnFailure: false },
    ],
    [
      'many new addresses',
      { untrustedFailures: 21 },
      { kind: 'locked', reason: 'too many failed logins from new addresses', lockNow: false },
    ],
    [
      // Concurrent guesses: the last allowed one met the new-address bound first, yet the prefix still locks.
      'the last allowed attempt, when many new addresses failed meanwhile',
      { failures: 3, untrustedFailures: 21 },
      { kind: 'locked', reason: 'too many failed logins from new addresses', lockNow: true },
    ],
    [
      'many new addresses, from a known one',
      { untrustedFailures: 21, trusted: true },
      { kind: 'open', attempt: 1, lockOnFailure: false },
    ],
  ])('decides %s', (_name, change, verdict) => {
    expect(accountVerdict(count(change), limits, now)).toEqual(verdict);
  });
});
