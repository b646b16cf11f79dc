import { describe, expect, it } from 'vitest';
import type { PhysicalPolicy } from '../../../src/backups/policy.ts';
import { longestRetentionDays, retentionReachDays } from '../../../src/backups/retention.ts';

const noTiers = { keepDaily: null, keepWeekly: null, keepMonthly: null };
const weekly: PhysicalPolicy = { full: 'weekly', diff: null, incr: null, retainDays: 30, ...noTiers };

describe('retentionReachDays: how far back the oldest backup a policy keeps can be', () => {
  const cases: [string, PhysicalPolicy, number][] = [
    ['retainDays plus the weekly full before the window', weekly, 37],
    ['retainDays plus the daily full before the window', { ...weekly, full: 'daily', retainDays: 7 }, 8],
    ['a daily tier longer than the window', { ...weekly, retainDays: 7, keepDaily: 60 }, 60],
    ['a weekly tier counts 7 days a week', { ...weekly, keepWeekly: 10 }, 70],
    ['a monthly tier counts 31 days a month', { ...weekly, keepDaily: 14, keepMonthly: 12 }, 372],
    ['tiers shorter than the window change nothing', { ...weekly, keepDaily: 3, keepWeekly: 2 }, 37],
  ];
  it.each(cases)('%s', (_, policy, days) => expect(retentionReachDays(policy)).toBe(days));
});

describe('longestRetentionDays: the longest reach over the tenants', () => {
  it('is the default policy’s reach without tenants', () => expect(longestRetentionDays([])).toBe(37));
  it('is the longest of any tenant, tiers included', () =>
    expect(
      longestRetentionDays([
        weekly,
        { ...weekly, retainDays: 90 },
        { ...weekly, retainDays: 7, keepMonthly: 6 },
      ]),
    ).toBe(186));
});
