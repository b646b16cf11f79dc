import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import { total } from '../../../src/sla/intervals.ts';
import { parsePeriod, periodSpan } from '../../../src/sla/period.ts';
import { always, parseRecurring, serviceSpans, type ServiceTime } from '../../../src/sla/service-time.ts';
import { localToInstant, offsetAt } from '../../../src/sla/zone.ts';

/** The SLA's calendar, table-tested: Intl time zones across DST, periods (leap years), service time. */
const utc = (text: string): number => Date.parse(`${text.replace(' ', 'T')}Z`);
const min = 60_000;
const hour = 60 * min;

function inside(text: string): ServiceTime {
  return { kind: 'inside', window: parseRecurring(text, 'serviceTime'), text };
}
function outside(text: string): ServiceTime {
  return { kind: 'outside', window: parseRecurring(text, 'maintenanceWindow'), text };
}

describe('time zones by Intl', () => {
  it.each([
    // Berlin skips 02:00-03:00 on 29 March 2026: 02:30 does not exist and moves forward to 03:30 CEST (01:30Z).
    [
      '2026-03-29 02:30 (gap)',
      { year: 2026, month: 3, day: 29, hour: 2, minute: 30 },
      '2026-03-29T01:30:00.000Z',
    ],
    [
      '2026-03-29 03:00 (after the gap)',
      { year: 2026, month: 3, day: 29, hour: 3, minute: 0 },
      '2026-03-29T01:00:00.000Z',
    ],
    // 02:30 happens twice on 25 October 2026: the first (CEST) is taken.
    [
      '2026-10-25 02:30 (twice)',
      { year: 2026, month: 10, day: 25, hour: 2, minute: 30 },
      '2026-10-25T00:30:00.000Z',
    ],
    [
      '2026-10-25 03:00 (after)',
      { year: 2026, month: 10, day: 25, hour: 3, minute: 0 },
      '2026-10-25T02:00:00.000Z',
    ],
    [
      '2026-07-01 00:00 (summer)',
      { year: 2026, month: 7, day: 1, hour: 0, minute: 0 },
      '2026-06-30T22:00:00.000Z',
    ],
    [
      '2026-12-31 24:00 (the next midnight)',
      { year: 2026, month: 12, day: 31, hour: 24, minute: 0 },
      '2026-12-31T23:00:00.000Z',
    ],
  ])('Berlin %s', (_name, local, expected) => {
    expect(new Date(localToInstant(local, 'Europe/Berlin')).toISOString()).toBe(expected);
  });

  it('reads offsets on both sides of a change', () => {
    expect(offsetAt(utc('2026-03-29 00:59'), 'Europe/Berlin')).toBe(hour);
    expect(offsetAt(utc('2026-03-29 01:00'), 'Europe/Berlin')).toBe(2 * hour);
    expect(offsetAt(utc('2026-10-25 00:59'), 'Europe/Berlin')).toBe(2 * hour);
    expect(offsetAt(utc('2026-10-25 01:00'), 'Europe/Berlin')).toBe(hour);
  });
});

describe('periods', () => {
  it.each([
    // March in Berlin loses an hour, October gains one.
    ['2026-03', 'Europe/Berlin', 31 * 1440 - 60],
    ['2026-10', 'Europe/Berlin', 31 * 1440 + 60],
    ['2026-02', 'Europe/Berlin', 28 * 1440],
    // Leap years.
    ['2024-02', 'UTC', 29 * 1440],
    ['2024', 'UTC', 366 * 1440],
    ['2024', 'Europe/Berlin', 366 * 1440],
    ['2026', 'Europe/Berlin', 365 * 1440],
    // January + February + March, with March's short day.
    ['2026-Q1', 'Europe/Berlin', 90 * 1440 - 60],
    ['2026-Q4', 'Europe/Berlin', 92 * 1440 + 60],
    ['2024-Q1', 'UTC', 91 * 1440],
  ])('%s in %s has %i minutes', (name, zone, minutes) => {
    const span = periodSpan(parsePeriod(name), zone);
    expect((span.end - span.start) / min).toBe(minutes);
  });

  it('starts at local midnight', () => {
    expect(new Date(periodSpan(parsePeriod('2026'), 'Europe/Berlin').start).toISOString()).toBe(
      '2025-12-31T23:00:00.000Z',
    );
    expect(new Date(periodSpan(parsePeriod('2026-q3'), 'Europe/Berlin').start).toISOString()).toBe(
      '2026-06-30T22:00:00.000Z',
    );
  });

  it.each(['26', '2026-13', '2026-Q5', '2026-1', 'last-month', ''])(
    'refuses %j, naming what is accepted',
    (text) => {
      expect(() => parsePeriod(text)).toThrow(InputError);
      expect(() => parsePeriod(text)).toThrow(
        /field "period": .* is not a period; use a year \(2026\), a month \(2026-03\) or a quarter \(2026-Q1\)/,
      );
    },
  );
});

describe('service time', () => {
  const minutesOf = (service: ServiceTime, period: string, zone = 'Europe/Berlin'): number =>
    total(serviceSpans(service, periodSpan(parsePeriod(period), zone), zone)) / min;

  it.each([
    // 17 h a day; the clocks change at 02:00 and 03:00, outside the service time.
    ['daily 05:00-22:00 inside, March', inside('daily 05:00-22:00'), '2026-03', 31 * 17 * 60],
    ['daily 05:00-22:00 inside, October', inside('daily 05:00-22:00'), '2026-10', 31 * 17 * 60],
    // The same service time written as a recurring maintenance window that crosses midnight.
    ['daily 22:00-05:00 outside, March', outside('daily 22:00-05:00'), '2026-03', 31 * 17 * 60],
    ['daily 22:00-05:00 outside, October', outside('daily 22:00-05:00'), '2026-10', 31 * 17 * 60],
    // The nights themselves: 1 March 00-05 (from February's last night) = 5 h, the nights
    // starting 1..30 March = 30 x 7 h less the hour skipped on 29 March, 31 March 22-24 = 2 h.
    ['daily 22:00-05:00 inside, March', inside('daily 22:00-05:00'), '2026-03', (5 + 30 * 7 - 1 + 2) * 60],
    // October: the night into 25 October is 8 h.
    ['daily 22:00-05:00 inside, October', inside('daily 22:00-05:00'), '2026-10', (5 + 30 * 7 + 1 + 2) * 60],
    ['mon-fri 08:00-18:00, March 2026 (22 weekdays)', inside('mon-fri 08:00-18:00'), '2026-03', 22 * 10 * 60],
    ['weekdays 08:00-18:00 equals mon-fri', inside('weekdays 08:00-18:00'), '2026-03', 22 * 10 * 60],
    [
      'sat,sun 00:00-24:00, March 2026 (9 weekend days, one of them 23 h)',
      inside('sat,sun 00:00-24:00'),
      '2026-03',
      9 * 1440 - 60,
    ],
    // Friday 22:00 to Saturday 02:00 across a year edge: 2027-01-01 is a Friday, 2026-12-31 a Thursday.
    [
      'fri 22:00-02:00 in December 2026 (4 Fridays, the 4th, 11th, 18th, 25th)',
      inside('fri 22:00-02:00'),
      '2026-12',
      4 * 4 * 60,
    ],
    ['always', always, '2024-02', 29 * 1440],
  ])('%s', (_name, service, period, minutes) => {
    expect(minutesOf(service, period)).toBe(minutes);
  });

  it('cuts a window across the period edge at the edge', () => {
    // thu 22:00-02:00: four whole Thursday nights (3rd-24th), and 31 December 22:00 until the year ends at 24:00 (2 h).
    expect(minutesOf(inside('thu 22:00-02:00'), '2026-12')).toBe((4 * 4 + 2) * 60);
    // January 2027 starts on a Friday: the Thursday night of 31 December gives it 00:00-02:00.
    expect(minutesOf(inside('thu 22:00-02:00'), '2027-01')).toBe((2 + 4 * 4) * 60);
  });

  it.each([
    ['daily 5:00-22:00', /is not a recurring window/],
    ['daily 05:00-25:00', /has no valid time "25:00" \(HH:MM\)/],
    ['nightly 22:00-05:00', /names no day "nightly"/],
    ['daily 05:00-05:00', /is empty/],
    ['daily 24:00-05:00', /24:00 only ends a window/],
    ['mon-fri', /is not a recurring window/],
  ])('refuses %j', (text, why) => {
    expect(() => parseRecurring(text, 'serviceTime')).toThrow(why);
    expect(() => parseRecurring(text, 'serviceTime')).toThrow(
      /field "serviceTime": .*; use 'daily 05:00-22:00'/,
    );
  });
});
