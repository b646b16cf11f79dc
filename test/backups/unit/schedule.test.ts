import { describe, expect, it } from 'vitest';
import { checkPolicy, type BackupPolicy, type PhysicalPolicy } from '../../../src/backups/policy.ts';
import { expiredBackups, retentionOptions, type StoredBackup } from '../../../src/backups/retention.ts';
import { dueBackup, type CompletedBackup } from '../../../src/backups/schedule.ts';

const now = new Date('2026-11-23T12:00:00Z');
const noTiers = { keepDaily: null, keepWeekly: null, keepMonthly: null };
const ago = (hours: number): Date => new Date(now.getTime() - hours * 3_600_000);
const weekly: BackupPolicy = {
  full: 'weekly',
  diff: 'daily',
  incr: '2h',
  retainDays: 30,
  keepDaily: null,
  keepWeekly: null,
  keepMonthly: null,
  exports: 'weekly',
};

describe('dueBackup', () => {
  const cases: {
    name: string;
    policy: PhysicalPolicy;
    done: CompletedBackup[];
    want: { kind: 'due'; type: string } | { kind: 'wait'; until: Date };
  }[] = [
    { name: 'nothing yet: a full', policy: weekly, done: [], want: { kind: 'due', type: 'full' } },
    {
      name: 'only diffs and incrs (their full expired): a full',
      policy: weekly,
      done: [{ type: 'diff', finishedAt: ago(1) }],
      want: { kind: 'due', type: 'full' },
    },
    {
      name: 'a fresh full: the next incr in 2 h',
      policy: weekly,
      done: [{ type: 'full', finishedAt: ago(0.5) }],
      want: { kind: 'wait', until: ago(-1.5) },
    },
    {
      name: 'full a week old: a full, not a diff',
      policy: weekly,
      done: [
        { type: 'full', finishedAt: ago(24 * 7) },
        { type: 'diff', finishedAt: ago(1) },
      ],
      want: { kind: 'due', type: 'full' },
    },
    {
      name: 'last covering backup a day old: a diff',
      policy: weekly,
      done: [
        { type: 'full', finishedAt: ago(50) },
        { type: 'diff', finishedAt: ago(24) },
        { type: 'incr', finishedAt: ago(1) },
      ],
      want: { kind: 'due', type: 'diff' },
    },
    {
      name: 'an incr is due 2 h after the newest backup of any kind',
      policy: weekly,
      done: [
        { type: 'full', finishedAt: ago(30) },
        { type: 'diff', finishedAt: ago(6) },
        { type: 'incr', finishedAt: ago(2) },
      ],
      want: { kind: 'due', type: 'incr' },
    },
    {
      name: 'no incr in the policy: wait for the diff',
      policy: { ...weekly, incr: null },
      done: [{ type: 'full', finishedAt: ago(5) }],
      want: { kind: 'wait', until: ago(5 - 24) },
    },
    {
      name: 'daily full, nothing else: wait a day from the full',
      policy: { full: 'daily', diff: null, incr: null, retainDays: 7, ...noTiers },
      done: [{ type: 'full', finishedAt: ago(23) }],
      want: { kind: 'wait', until: ago(-1) },
    },
    {
      name: 'daily full is due at exactly 24 h',
      policy: { full: 'daily', diff: null, incr: null, retainDays: 7, ...noTiers },
      done: [{ type: 'full', finishedAt: ago(24) }],
      want: { kind: 'due', type: 'full' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = dueBackup(c.policy, c.done, now);
      expect(got).toMatchObject(c.want);
    });
  }
});

describe('checkPolicy', () => {
  it('names the field and the value it refuses', () => {
    expect(() => checkPolicy({ ...weekly, retainDays: 0 })).toThrow(/retainDays .* not 0/);
    expect(() => checkPolicy({ ...weekly, full: 'hourly' as never })).toThrow(
      /full must be one of weekly, daily/,
    );
    expect(() => checkPolicy({ ...weekly, exports: 'hourly' as never })).toThrow(
      /exports must be daily, weekly or null \(off\), not hourly/,
    );
    expect(checkPolicy(weekly)).toBe(weekly);
    expect(checkPolicy({ ...weekly, exports: null }).exports).toBeNull();
  });
});

describe('retention', () => {
  const backup = (
    label: string,
    type: StoredBackup['type'],
    prior: string | null,
    hours: number,
  ): StoredBackup => ({
    label,
    type,
    prior,
    stoppedAt: ago(hours),
  });
  const chain = [
    backup('F1', 'full', null, 24 * 40),
    backup('F1_D1', 'diff', 'F1', 24 * 39),
    backup('F1_I1', 'incr', 'F1_D1', 24 * 38),
    backup('F2', 'full', null, 24 * 33),
    backup('F2_I1', 'incr', 'F2', 24 * 32),
    backup('F3', 'full', null, 24 * 26),
    backup('F3_D1', 'diff', 'F3', 24 * 1),
  ];
  const cases = [
    {
      name: 'time, 30 days: older fulls go but the newest of them stays',
      retention: { kind: 'time', days: 30 },
      want: ['F1', 'F1_D1', 'F1_I1'],
    },
    { name: 'time, 50 days: nothing goes', retention: { kind: 'time', days: 50 }, want: [] },
    {
      name: 'time, 1 day: all but the newest full older than a day',
      retention: { kind: 'time', days: 1 },
      want: ['F1', 'F1_D1', 'F1_I1', 'F2', 'F2_I1'],
    },
    {
      name: 'count 1: only the newest full and its dependents stay',
      retention: { kind: 'count', fulls: 1 },
      want: ['F1', 'F1_D1', 'F1_I1', 'F2', 'F2_I1'],
    },
    { name: 'count 5: nothing goes', retention: { kind: 'count', fulls: 5 }, want: [] },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      expect(expiredBackups(chain, c.retention, now)).toEqual(c.want);
    });
  }
  it('renders pgBackRest options per repository', () => {
    expect(retentionOptions(2, { kind: 'time', days: 30 })).toEqual({
      'repo2-retention-full-type': 'time',
      'repo2-retention-full': '30',
    });
    expect(retentionOptions(1, { kind: 'count', fulls: 2 })).toEqual({
      'repo1-retention-full-type': 'count',
      'repo1-retention-full': '2',
    });
  });
});
