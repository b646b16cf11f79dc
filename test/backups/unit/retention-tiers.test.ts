import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import { checkPolicy, defaultBackupPolicy, type BackupPolicy } from '../../../src/backups/policy.ts';
import {
  expiredBackups,
  retentionOf,
  retentionOptions,
  tieredExpiry,
  walFulls,
  type RetentionPolicy,
  type StoredBackup,
} from '../../../src/backups/retention.ts';

const full = (label: string, at: string): StoredBackup => ({
  label,
  type: 'full',
  prior: null,
  stoppedAt: new Date(at),
});
const diff = (label: string, prior: string, at: string, type: 'diff' | 'incr' = 'diff'): StoredBackup => ({
  label,
  type,
  prior,
  stoppedAt: new Date(at),
});
const tiers = (partial: Partial<RetentionPolicy>): RetentionPolicy => ({
  retainDays: 1,
  keepDaily: null,
  keepWeekly: null,
  keepMonthly: null,
  ...partial,
});

// A Monday: its ISO week runs Monday 23 to Sunday 29 November 2026.
const monday = '2026-11-23T12:00:00Z';

describe('tieredExpiry: retainDays, then the newest full of each day, ISO week and month (UTC)', () => {
  const cases: {
    name: string;
    backups: StoredBackup[];
    policy: RetentionPolicy;
    now: string;
    removed: string[];
  }[] = [
    {
      name: 'no fulls at all: nothing is removed',
      backups: [diff('D1', 'gone', '2026-10-01T00:00:00Z'), diff('D2', 'gone', '2026-10-02T00:00:00Z')],
      policy: tiers({ keepDaily: 1 }),
      now: monday,
      removed: [],
    },
    {
      name: 'within retainDays nothing is removed',
      backups: [
        full('F1', '2026-11-01T00:00:00Z'),
        diff('D1', 'F1', '2026-11-02T00:00:00Z'),
        full('F2', '2026-11-08T00:00:00Z'),
      ],
      policy: tiers({ retainDays: 30, keepDaily: 1 }),
      now: monday,
      removed: [],
    },
    {
      name: 'daily: the newest full of each of the last 3 UTC days, 23:59:59 and 00:00 on different days',
      backups: [
        full('F20', '2026-11-20T23:00:00Z'),
        full('F21a', '2026-11-21T01:00:00Z'),
        full('F21b', '2026-11-21T23:59:59Z'),
        full('F22a', '2026-11-22T00:00:00Z'),
        full('F22b', '2026-11-22T08:00:00Z'),
        full('F23', '2026-11-23T01:00:00Z'),
      ],
      policy: tiers({ keepDaily: 3 }),
      now: monday,
      // F23 is within the day kept; F22b anchors the window (and is the 22nd's newest); F21b is the 21st's.
      removed: ['F20', 'F21a', 'F22a'],
    },
    {
      name: 'weekly: ISO weeks start on Monday, so Sunday 23:59 belongs to the week before',
      backups: [
        full('Sun8', '2026-11-08T23:00:00Z'),
        full('Mon9', '2026-11-09T00:00:00Z'),
        full('Sun15', '2026-11-15T23:59:00Z'),
        full('Mon16', '2026-11-16T00:00:00Z'),
        full('Sun22', '2026-11-22T10:00:00Z'),
      ],
      policy: tiers({ keepWeekly: 3 }),
      now: monday,
      removed: ['Sun8', 'Mon9', 'Mon16'],
    },
    {
      name: 'monthly: calendar months in UTC, across a year boundary',
      backups: [
        full('Oct31', '2026-10-31T23:59:59Z'),
        full('Nov1', '2026-11-01T00:00:00Z'),
        full('Nov30', '2026-11-30T22:00:00Z'),
        full('Dec1', '2026-12-01T00:00:00Z'),
        full('Dec31', '2026-12-31T23:00:00Z'),
        full('Jan5', '2027-01-05T00:00:00Z'),
      ],
      policy: tiers({ keepMonthly: 3 }),
      now: '2027-01-10T00:00:00Z',
      // Months kept: January (Jan5, also the anchor), December (Dec31), November (Nov30).
      removed: ['Oct31', 'Nov1', 'Dec1'],
    },
    {
      name: 'tiers that keep the same full keep it once, and what no tier keeps goes',
      backups: [
        full('Oct', '2026-10-20T00:00:00Z'),
        full('Nov2', '2026-11-02T00:00:00Z'),
        full('Nov9', '2026-11-09T00:00:00Z'),
        full('Nov16', '2026-11-16T00:00:00Z'),
        full('Nov21', '2026-11-21T00:00:00Z'),
        full('Nov22', '2026-11-22T00:00:00Z'),
      ],
      // Daily (today, the 22nd): Nov22, which also anchors the window; weekly (this week has none,
      // last week's newest): Nov22 again; monthly: Nov22 again, and Oct.
      policy: tiers({ keepDaily: 2, keepWeekly: 2, keepMonthly: 2 }),
      now: monday,
      removed: ['Nov2', 'Nov9', 'Nov16', 'Nov21'],
    },
    {
      name: 'dependents go with their full; old diffs of a full kept by a tier go too',
      backups: [
        full('F1', '2026-10-05T00:00:00Z'),
        diff('F1D', 'F1', '2026-10-06T00:00:00Z'),
        full('F2', '2026-10-12T00:00:00Z'),
        diff('F2D', 'F2', '2026-10-13T00:00:00Z'),
        diff('F2DI', 'F2D', '2026-10-13T02:00:00Z', 'incr'),
        full('F3', '2026-11-20T00:00:00Z'),
        diff('F3D', 'F3', '2026-11-23T00:00:00Z'),
      ],
      // October's newest full is F2; F3 anchors the window (F3D is in it).
      policy: tiers({ keepMonthly: 2 }),
      now: monday,
      removed: ['F1', 'F1D', 'F2D', 'F2DI'],
    },
    {
      name: 'only diffs left in the window: the full they build on stays, older ones go',
      backups: [
        full('F1', '2026-11-01T00:00:00Z'),
        full('F2', '2026-11-10T00:00:00Z'),
        diff('D1', 'F2', '2026-11-20T00:00:00Z'),
        diff('I1', 'D1', '2026-11-21T00:00:00Z', 'incr'),
      ],
      policy: tiers({ retainDays: 7, keepDaily: 1 }),
      now: monday,
      removed: ['F1'],
    },
    {
      name: 'the newest full is never removed, even when no tier reaches it',
      backups: [full('F1', '2025-01-01T00:00:00Z'), full('F2', '2025-02-01T00:00:00Z')],
      policy: tiers({ keepDaily: 1, keepWeekly: 1, keepMonthly: 1 }),
      now: monday,
      removed: ['F1'],
    },
  ];
  it.each(cases)('$name', ({ backups, policy, now, removed }) => {
    expect(tieredExpiry(backups, policy, new Date(now))).toEqual(removed);
    // expiredBackups, which expireAndCheck checks against, plans the same for a tiered retention.
    expect(expiredBackups(backups, { kind: 'tiered', policy }, new Date(now))).toEqual(removed);
  });
});

describe('walFulls: continuous WAL for every moment of retainDays', () => {
  const backups = [
    full('F1', '2026-11-01T00:00:00Z'),
    full('F2', '2026-11-10T00:00:00Z'),
    full('F3', '2026-11-20T00:00:00Z'),
    full('F4', '2026-11-22T00:00:00Z'),
  ];
  it.each([
    ['the fulls in the window and the one before it', 7, 3],
    ['none in the window: the newest before it', 1, 1],
    ['all in the window', 30, 4],
  ] as const)('%s', (_name, days, want) => {
    expect(walFulls(backups, days, new Date(monday))).toBe(want);
  });
  it('at least one, even without fulls', () => {
    expect(walFulls([], 7, new Date(monday))).toBe(1);
  });
});

describe('a policy with tiers hands retention to Steward', () => {
  it('is tiered, and pgBackRest itself expires nothing (a count it never reaches)', () => {
    const policy = { ...defaultBackupPolicy, keepWeekly: 8 };
    const retention = retentionOf(policy);
    expect(retention).toEqual({
      kind: 'tiered',
      policy: { retainDays: 30, keepDaily: null, keepWeekly: 8, keepMonthly: null },
    });
    expect(retentionOptions(2, retention)).toEqual({
      'repo2-retention-full-type': 'count',
      'repo2-retention-full': '9999',
    });
    expect(retentionOf(defaultBackupPolicy)).toEqual({ kind: 'time', days: 30 });
  });

  it.each([
    [{ keepDaily: 0 }, 'keepDaily', /keepDaily must be a whole number of days from 1 to 3650.*not 0/],
    [{ keepWeekly: 521 }, 'keepWeekly', /weeks from 1 to 520.*not 521/],
    [{ keepMonthly: 1.5 }, 'keepMonthly', /months from 1 to 120.*not 1\.5/],
    [{ keepMonthly: '3' as unknown as number }, 'keepMonthly', /not "3"/],
  ])('refuses %o naming the field', (change, field, message) => {
    const policy = { ...defaultBackupPolicy, ...change } as BackupPolicy;
    let thrown: unknown;
    try {
      checkPolicy(policy);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).message).toMatch(message);
    expect((thrown as InputError & { field?: string }).field).toBe(field);
  });

  it('accepts whole numbers up to each maximum, and null (off)', () => {
    const policy = { ...defaultBackupPolicy, keepDaily: 3650, keepWeekly: 520, keepMonthly: 120 };
    expect(checkPolicy(policy)).toBe(policy);
    expect(checkPolicy({ ...policy, keepDaily: null })).toEqual({ ...policy, keepDaily: null });
  });
});
