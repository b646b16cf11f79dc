import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  linkProblem,
  localLimits,
  lockSeconds,
  parseSince,
  passwordPolicyProblem,
} from '../../../src/identity/local/policy.ts';
import { Tickets } from '../../../src/identity/local/tickets.ts';

const limits = localLimits({
  maxFailuresPerAccount: 3,
  lockoutSeconds: 60,
  maxFailuresPerAddress: 10,
  addressWindowSeconds: 120,
  maxUntrustedFailuresPerAccount: 20,
});
const now = new Date('2026-12-07T12:00:00Z');

describe('local users: the rules', () => {
  it.each([
    [0, 60],
    [1, 120],
    [2, 240],
    [3, 480],
    [4, 960],
    [5, 960],
    [40, 960],
  ])(
    'after %i locks without a sign-in, the next lasts %i s (backoff, capped at 16x)',
    (previous, seconds) => {
      expect(lockSeconds(limits, previous)).toBe(seconds);
    },
  );

  const who = { userName: 'marta.k', email: 'marta.k@acme.example' };
  it.each<[string, string, Partial<typeof who> & { denylist?: Set<string> }, string | undefined]>([
    ['a long passphrase', 'correct horse battery staple', {}, undefined],
    ['too short', 'Sh0rt!pass', {}, 'a password needs at least 12 characters'],
    ['too long', 'x'.repeat(257), {}, 'a password may have at most 256 characters'],
    [
      'one character over and over',
      'aaaaaaaaaaaaaaaa',
      {},
      'a password needs at least 4 different characters',
    ],
    [
      'the user name inside',
      'my-MARTA.K-password',
      {},
      'a password may not contain the user name or e-mail address',
    ],
    [
      'the e-mail inside',
      'marta.k@acme.example!',
      { userName: 'mk' },
      'a password may not contain the user name or e-mail address',
    ],
    [
      'a breached one',
      'Password1234',
      { denylist: new Set(['password1234']) },
      'this password is known from breaches; choose another',
    ],
  ])('%s', (_name, password, context, problem) => {
    expect(passwordPolicyProblem(password, { ...who, ...context })).toBe(problem);
  });

  const link = (change: Partial<{ expiresAt: Date; usedAt: Date | null; revokedAt: Date | null }>) => ({
    expiresAt: new Date(now.getTime() + 1000),
    usedAt: null,
    revokedAt: null,
    ...change,
  });
  it.each([
    ['a fresh link', link({}), undefined],
    ['no such link', undefined, 'unknown'],
    ['a used link', link({ usedAt: now }), 'used'],
    ['a link a newer one replaced', link({ revokedAt: now }), 'superseded'],
    ['an expired link', link({ expiresAt: now }), 'expired'],
  ])('%s: %s', (_name, row, problem) => {
    expect(linkProblem(row, now)).toBe(problem);
  });

  it.each([
    ['7d', '2026-11-30T12:00:00.000Z'],
    ['12h', '2026-12-07T00:00:00.000Z'],
    ['30m', '2026-12-07T11:30:00.000Z'],
    ['2026-12-01T00:00:00Z', '2026-12-01T00:00:00.000Z'],
  ])('--since %s', (value, at) => {
    expect(parseSince(value, now).toISOString()).toBe(at);
  });

  it('refuses a --since it cannot read, naming the field and what is accepted', () => {
    expect(() => parseSince('last week', now)).toThrow(
      'field "since": "last week" is not accepted; use a duration back from now (30m, 12h, 7d) or an ISO time',
    );
  });
});

describe('signed tickets (the MFA challenge, the enrolment)', () => {
  const first = { id: 'k1', key: randomBytes(32) };
  const second = { id: 'k2', key: randomBytes(32) };
  const keys = { active: first, byId: (id: string) => [first, second].find((k) => k.id === id) };
  const tickets = new Tickets(keys);
  const at = Math.floor(now.getTime() / 1000);
  const place = { purpose: 'mfa-challenge' as const, tenantId: '7', host: 'acme.example.com' };
  const issued = tickets.issue({ ...place, userId: 'u1', expiresAt: at + 300 });

  it('opens what it issued, for its purpose, tenant and host, until it expires', () => {
    expect(tickets.open(issued, place, now)?.userId).toBe('u1');
    expect(tickets.open(issued, place, new Date((at + 300) * 1000))).toBeUndefined();
  });

  it.each([
    ['another purpose', { ...place, purpose: 'mfa-enrolment' as const }],
    ['another tenant', { ...place, tenantId: '8' }],
    ['another host', { ...place, host: 'dev.acme.example.com' }],
  ])('refuses it for %s', (_name, expect_) => {
    expect(tickets.open(issued, expect_, now)).toBeUndefined();
  });

  it('refuses a changed, re-signed-elsewhere or truncated ticket', () => {
    const [body, mac] = issued.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, userId: 'u2' })).toString('base64url');
    expect(tickets.open(`${forged}.${mac}`, place, now)).toBeUndefined();
    const other = new Tickets({ active: { id: 'k1', key: randomBytes(32) }, byId: () => undefined });
    expect(
      tickets.open(other.issue({ ...place, userId: 'u1', expiresAt: at + 300 }), place, now),
    ).toBeUndefined();
    expect(tickets.open(body, place, now)).toBeUndefined();
    expect(tickets.open(`${issued}.x`, place, now)).toBeUndefined();
  });

  it('stays good after a master key rotation while the keyring keeps the old key', () => {
    const rotated = new Tickets({ active: second, byId: keys.byId });
    expect(rotated.open(issued, place, now)?.userId).toBe('u1');
  });
});
