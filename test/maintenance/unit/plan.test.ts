import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import {
  announcementDue,
  parseAnnounceDays,
  parseLength,
  planWindow,
  type AnnounceFacts,
} from '../../../src/maintenance/plan.ts';
import { formatLocal, zonedInstant } from '../../../src/maintenance/zone.ts';

const now = new Date('2026-11-20T12:00:00Z');

function refused(f: () => unknown): InputError {
  try {
    f();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('local times in a zone', () => {
  it.each([
    ['winter in Berlin (+1)', '2026-12-05 23:00', 'Europe/Berlin', '2026-12-05T22:00:00.000Z'],
    ['summer in Berlin (+2)', '2026-07-01 23:00', 'Europe/Berlin', '2026-07-01T21:00:00.000Z'],
    ['UTC', '2026-12-05 23:00', 'UTC', '2026-12-05T23:00:00.000Z'],
    ['New York', '2026-12-05 23:00', 'America/New_York', '2026-12-06T04:00:00.000Z'],
    ['passed twice (fall back): the first', '2026-10-25 02:30', 'Europe/Berlin', '2026-10-25T00:30:00.000Z'],
    ['a leap day', '2028-02-29 01:00', 'UTC', '2028-02-29T01:00:00.000Z'],
  ])('%s', (_name, local, tz, utc) => {
    const [date, time] = local.split(' ');
    const [y, m, d] = (date ?? '').split('-').map(Number);
    const [h, min] = (time ?? '').split(':').map(Number);
    const at = zonedInstant({ year: y ?? 0, month: m ?? 0, day: d ?? 0, hour: h ?? 0, minute: min ?? 0 }, tz);
    expect(at instanceof Date ? at.toISOString() : at).toBe(utc);
    if (at instanceof Date) expect(formatLocal(at, tz)).toBe(local);
  });

  it('a time the clocks skip, and a day that does not exist', () => {
    expect(zonedInstant({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Berlin')).toBe(
      'skipped',
    );
    expect(zonedInstant({ year: 2026, month: 2, day: 30, hour: 2, minute: 30 }, 'UTC')).toBeUndefined();
  });
});

describe('planWindow', () => {
  it('plans a window in the tenant zone, announced days ahead', () => {
    expect(
      planWindow({ at: '2026-12-05 23:00', tz: 'Europe/Berlin', for: '2h', announce: '7d' }, now),
    ).toEqual({
      startsAt: new Date('2026-12-05T22:00:00Z'),
      endsAt: new Date('2026-12-06T00:00:00Z'),
      timeZone: 'Europe/Berlin',
      kind: 'planned',
      announceDays: 7,
    });
    expect(planWindow({ at: '2026-11-20T13:00:00Z', for: '30m', emergency: true }, now)).toMatchObject({
      kind: 'emergency',
      announceDays: 0,
      timeZone: 'UTC',
    });
  });

  it.each([
    [
      { at: 'tomorrow', for: '2h' },
      'at',
      /"tomorrow" is not accepted; use a local time such as "2026-12-05 23:00"/,
    ],
    [{ at: '2026-11-19 23:00', for: '2h' }, 'at', /is not in the future/],
    [{ at: '2027-03-28 02:30', tz: 'Europe/Berlin', for: '2h' }, 'at', /does not exist in Europe\/Berlin/],
    [{ at: '2026-12-05 23:00', tz: 'Mars/Olympus', for: '2h' }, 'tz', /"Mars\/Olympus" is not a time zone/],
    [{ at: '2026-12-05 23:00', tz: '+01:00', for: '2h' }, 'tz', /is not a time zone; use an IANA name/],
    [
      { at: '2026-12-05 23:00', for: '2 hours' },
      'for',
      /"2 hours" is not accepted; use a length from 1m to 72h/,
    ],
    [{ at: '2026-12-05 23:00', for: '4d' }, 'for', /use a length from 1m to 72h/],
    [{ at: '2026-12-05 23:00', for: '2h', announce: '1w' }, 'announce', /use whole days from 0d to 90d/],
    [
      { at: '2026-11-22 23:00', for: '2h', announce: '7d' },
      'announce',
      /is already past; announce at most 2d ahead/,
    ],
    [
      { at: '2026-11-22 23:00', for: '2h', announce: '1d', emergency: true },
      'announce',
      /an emergency window is announced at once/,
    ],
  ])('refuses %j naming the field', (request, field, message) => {
    const error = refused(() => planWindow(request, now));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('lengths and notice periods', () => {
    expect([parseLength('90m'), parseLength('1h30m'), parseLength('1d')]).toEqual([5400, 5400, 86_400]);
    expect([parseAnnounceDays('7d'), parseAnnounceDays('0'), parseAnnounceDays(3)]).toEqual([7, 0, 3]);
  });
});

describe('announcementDue', () => {
  const w = (patch: Partial<AnnounceFacts> = {}): AnnounceFacts => ({
    startsAt: '2026-12-05T22:00:00.000Z',
    endsAt: '2026-12-06T00:00:00.000Z',
    kind: 'planned',
    announceDays: 7,
    announcedAt: null,
    cancelledAt: null,
    ...patch,
  });
  it.each([
    ['before its notice period', w(), '2026-11-28T21:59:00Z', false],
    ['when its notice period begins', w(), '2026-11-28T22:00:00Z', true],
    ['an emergency: at once', w({ kind: 'emergency', announceDays: 0 }), '2026-11-20T12:00:00Z', true],
    [
      'once announced: never again',
      w({ announcedAt: '2026-11-28T22:00:05Z' }),
      '2026-12-01T00:00:00Z',
      false,
    ],
    ['cancelled', w({ cancelledAt: '2026-11-21T00:00:00Z' }), '2026-12-01T00:00:00Z', false],
    ['over', w(), '2026-12-06T00:00:00Z', false],
  ])('%s', (_name, facts, at, due) => {
    expect(announcementDue(facts, new Date(at))).toBe(due);
  });
});
