import { describe, expect, it } from 'vitest';
import {
  repoForScheduledTest,
  batches,
  chooseTestBackup,
  describeMismatches,
  dueRestoreTests,
  fingerprintRestorePoint,
  nextRestoreTestDue,
  parseRestoreTime,
  replacementDatabaseName,
  tableChecks,
} from '../../../src/backups/restore-plan.ts';
import { compareFingerprints } from '../../../src/backups/fingerprint.ts';
import { InputError } from '../../../src/core/errors.ts';

describe('parseRestoreTime', () => {
  it.each([
    ['2026-11-23 10:15:00+01', '2026-11-23T09:15:00.000Z'],
    ['2026-11-23T10:15:00+01:00', '2026-11-23T09:15:00.000Z'],
    ['2026-11-23 10:15+0130', '2026-11-23T08:45:00.000Z'],
    ['2026-11-23T09:15:00Z', '2026-11-23T09:15:00.000Z'],
    ['2026-11-23 09:15:00.25z', '2026-11-23T09:15:00.250Z'],
    ['2026-11-23 05:15:00-04', '2026-11-23T09:15:00.000Z'],
    ['  2026-11-23 09:15:00.123456 +00 ', '2026-11-23T09:15:00.123Z'],
  ])('reads %s', (text, iso) => {
    expect(parseRestoreTime(text).toISOString()).toBe(iso);
  });

  it.each([
    [
      '2026-11-23 10:15:00',
      /"2026-11-23 10:15:00" is not a point in time; use a date, a time and a UTC offset/,
    ],
    ['yesterday', /is not a point in time/],
    ['2026-02-30 10:00:00Z', /"2026-02-30 10:00:00Z" is not a valid point in time/],
    ['2026-11-23 24:00:00Z', /is not a valid point in time/],
    ['2026-11-23 10:00:00+15', /is not a valid point in time/],
    [42, /field "toTime": "42" is not a point in time/],
  ])('refuses %s, naming the field, the value and what is accepted', (value, message) => {
    let error: unknown;
    try {
      parseRestoreTime(value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe('toTime');
    expect((error as InputError).message).toMatch(message);
    expect((error as InputError).message).toMatch(/2026-11-23 10:15:00\+01/);
  });
});

describe('names', () => {
  it('keeps a replacement database name within 63 bytes', () => {
    expect(replacementDatabaseName('t1_acme_prod', '0123abcd-ef45-6789-abcd-ef0123456789')).toBe(
      't1_acme_prod_rst_0123abcd',
    );
    const long = `t1_${'x'.repeat(60)}`;
    const name = replacementDatabaseName(long, '0123abcd-ef45-6789-abcd-ef0123456789');
    expect(Buffer.byteLength(name)).toBe(63);
    expect(name.endsWith('_rst_0123abcd')).toBe(true);
  });

  it('names fingerprint restore points after the backup label, per batch', () => {
    expect(fingerprintRestorePoint('20261123-101500F', 0)).toBe('steward-fp-20261123-101500F');
    expect(fingerprintRestorePoint('20261123-101500F_20261123-121500I', 2)).toBe(
      'steward-fp-20261123-101500F_20261123-121500I-g2',
    );
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});

describe('the restore-test schedule', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  const day = 24 * 3_600_000;
  const stages = [
    { tenant: 'acme', stage: 'prod', lastStartedAt: null, running: false },
    { tenant: 'beta', stage: 'prod', lastStartedAt: new Date(now.getTime() - day), running: false },
    { tenant: 'gamma', stage: 'prod', lastStartedAt: new Date(now.getTime() - day + 60_000), running: false },
    { tenant: 'delta', stage: 'prod', lastStartedAt: null, running: true },
  ];

  it('is due for stages never tested or tested at least a day ago, and none running', () => {
    expect(dueRestoreTests(stages, now, day).map((s) => s.tenant)).toEqual(['acme', 'beta']);
  });

  it('knows when the next falls due', () => {
    expect(nextRestoreTestDue(stages.slice(2, 3), now, day)).toEqual(new Date(now.getTime() + 60_000));
    expect(nextRestoreTestDue(stages, now, day)).toEqual(now);
    expect(nextRestoreTestDue([], now, day)).toBeNull();
  });
});

describe('chooseTestBackup', () => {
  const backups = [
    { label: '20261120-010000F', stoppedAt: new Date('2026-11-20T01:05:00Z') },
    { label: '20261121-010000F_20261121-010000D', stoppedAt: new Date('2026-11-21T01:01:00Z') },
    { label: '20261122-010000F_20261122-010000D', stoppedAt: new Date('2026-11-22T01:01:00Z') },
  ];

  it('takes the newest backup with an exact fingerprint, then one with any', () => {
    expect(
      chooseTestBackup(backups, [
        { label: '20261120-010000F', exact: true },
        { label: '20261121-010000F_20261121-010000D', exact: true },
      ])?.label,
    ).toBe('20261121-010000F_20261121-010000D');
    expect(
      chooseTestBackup(backups, [
        { label: '20261121-010000F_20261121-010000D', exact: true },
        { label: '20261122-010000F_20261122-010000D', exact: false },
      ])?.label,
    ).toBe('20261121-010000F_20261121-010000D');
    expect(
      chooseTestBackup(backups, [{ label: '20261122-010000F_20261122-010000D', exact: false }])?.label,
    ).toBe('20261122-010000F_20261122-010000D');
  });

  it('has none when no backup left in the repository has a fingerprint', () => {
    expect(chooseTestBackup(backups, [{ label: '20261101-010000F', exact: true }])).toBeUndefined();
    expect(chooseTestBackup([], [])).toBeUndefined();
  });
});

describe('tableChecks', () => {
  it('lists every table with expected and actual, and describes the ones that differ', () => {
    const expected = [
      { schema: 'public', table: 'a', rows: 2, sum: '10', xor: '3' },
      { schema: 'public', table: 'b', rows: 5, sum: '7', xor: '1' },
    ];
    const actual = [
      { schema: 'public', table: 'a', rows: 2, sum: '10', xor: '3' },
      { schema: 'public', table: 'b', rows: 4, sum: '6', xor: '2' },
      { schema: 'public', table: 'c', rows: 1, sum: '1', xor: '1' },
    ];
    const checks = tableChecks(
      expected,
      compareFingerprints({ tables: expected }, { tables: actual }),
      actual,
    );
    expect(checks.map((c) => [c.table, c.ok])).toEqual([
      ['public.a', true],
      ['public.b', false],
      ['public.c', false],
    ]);
    expect(describeMismatches(checks)).toBe(
      '2 of 3 tables differ from the fingerprint recorded at backup time: public.b has 4 rows, 5 recorded; public.c is in the restore but was not at backup time',
    );
  });
});

describe('repoForScheduledTest', () => {
  const at = (iso: string): Date => new Date(iso);
  it('takes a repository never tested first, the lower number among equals', () => {
    expect(repoForScheduledTest([1, 2], new Map())).toBe(1);
    expect(repoForScheduledTest([1, 2], new Map([[1, at('2026-11-20T00:00:00Z')]]))).toBe(2);
  });
  it('then the one tested longest ago, so both repositories take turns', () => {
    const lastTested = new Map([
      [1, at('2026-11-22T00:00:00Z')],
      [2, at('2026-11-21T00:00:00Z')],
    ]);
    expect(repoForScheduledTest([1, 2], lastTested)).toBe(2);
    lastTested.set(2, at('2026-11-23T00:00:00Z'));
    expect(repoForScheduledTest([1, 2], lastTested)).toBe(1);
  });
  it('only picks among repositories that hold a good backup', () => {
    expect(repoForScheduledTest([2], new Map([[2, at('2026-11-23T00:00:00Z')]]))).toBe(2);
    expect(repoForScheduledTest([], new Map())).toBeUndefined();
  });
});
