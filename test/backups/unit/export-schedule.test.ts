import { describe, expect, it } from 'vitest';
import { dueExport, type ExportDecision } from '../../../src/backups/logical/schedule.ts';
import type { ExportInterval } from '../../../src/backups/policy.ts';

const now = new Date('2026-11-23T12:00:00Z');
const ago = (hours: number): Date => new Date(now.getTime() - hours * 3_600_000);

describe('dueExport', () => {
  const cases: {
    name: string;
    every: ExportInterval;
    newest: Date | null;
    want: ExportDecision;
  }[] = [
    { name: 'no export yet: due', every: 'daily', newest: null, want: { kind: 'due' } },
    { name: 'weekly, none yet: due', every: 'weekly', newest: null, want: { kind: 'due' } },
    {
      name: 'daily, an hour old: wait a day from it',
      every: 'daily',
      newest: ago(1),
      want: { kind: 'wait', until: ago(-23) },
    },
    { name: 'daily, exactly 24 h old: due', every: 'daily', newest: ago(24), want: { kind: 'due' } },
    { name: 'daily, 25 h old: due', every: 'daily', newest: ago(25), want: { kind: 'due' } },
    {
      name: 'weekly, two days old: wait five more',
      every: 'weekly',
      newest: ago(48),
      want: { kind: 'wait', until: ago(48 - 7 * 24) },
    },
    { name: 'weekly, eight days old: due', every: 'weekly', newest: ago(8 * 24), want: { kind: 'due' } },
    {
      name: 'just made (still running): wait the whole interval',
      every: 'daily',
      newest: now,
      want: { kind: 'wait', until: ago(-24) },
    },
    {
      name: "newer than the clock (another worker's clock ran ahead): wait from it",
      every: 'daily',
      newest: ago(-1),
      want: { kind: 'wait', until: ago(-25) },
    },
  ];
  it.each(cases)('$name', ({ every, newest, want }) => {
    expect(dueExport(every, newest, now)).toEqual(want);
  });
});
