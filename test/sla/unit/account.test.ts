import { describe, expect, it } from 'vitest';
import {
  account,
  type AccountInput,
  type MaintenanceWindow,
  type OperatorExclusion,
  type SlaFigures,
  type StateInterval,
} from '../../../src/sla/account.ts';
import { parsePeriod } from '../../../src/sla/period.ts';
import { always, parseRecurring, type ServiceTime } from '../../../src/sla/service-time.ts';
import { defaultTerms, type PolicyVersion } from '../../../src/sla/terms.ts';
import type { CheckState } from '../../../src/monitoring/states.ts';

/**
 * The SLA arithmetic, table-tested: every figure below is worked out by hand
 * in the comment next to it. Times are UTC unless a row says Berlin. The
 * calendar under it (zones, periods, service time): calendar.test.ts.
 */
const utc = (text: string): number => Date.parse(`${text.replace(' ', 'T')}Z`);
const min = 60_000;
const hour = 60 * min;
const day = 24 * hour;

function inside(text: string): ServiceTime {
  return { kind: 'inside', window: parseRecurring(text, 'serviceTime'), text };
}

function policy(overrides: Partial<PolicyVersion> = {}): PolicyVersion {
  return {
    ...defaultTerms,
    version: 1,
    effectiveFrom: utc('2020-01-01 00:00'),
    target: 99.5,
    serviceTime: always,
    ...overrides,
  };
}

let ids = 0;
/** One check's intervals: up everywhere in [from, to) except the listed states. */
function states(
  from: string,
  to: string | null,
  trouble: [CheckState, string, string][] = [],
): StateInterval[] {
  const out: StateInterval[] = [];
  let cursor = utc(from);
  const end = to === null ? null : utc(to);
  for (const [state, a, b] of [...trouble].sort((x, y) => utc(x[1]) - utc(y[1]))) {
    if (utc(a) > cursor)
      out.push({ id: String(++ids), checkId: '1', state: 'up', start: cursor, end: utc(a) });
    out.push({ id: String(++ids), checkId: '1', state, start: utc(a), end: utc(b) });
    cursor = utc(b);
  }
  out.push({ id: String(++ids), checkId: '1', state: 'up', start: cursor, end });
  return out;
}

function run(input: Partial<Omit<AccountInput, 'period'>> & { period: string }): SlaFigures {
  return account({
    policies: input.policies ?? [policy()],
    period: parsePeriod(input.period),
    now: input.now ?? utc('2030-01-01 00:00'),
    states: input.states ?? [],
    maintenance: input.maintenance ?? [],
    exclusions: input.exclusions ?? [],
  });
}

function maintenance(start: string, end: string, announced: string, id = String(++ids)): MaintenanceWindow {
  return { id, start: utc(start), end: utc(end), announcedAt: utc(announced), reason: 'database upgrade' };
}

describe('availability of a closed period', () => {
  const march = 31 * 1440; // minutes of March in UTC

  it('counts an outage as downtime and keeps the budget', () => {
    const f = run({
      period: '2026-03',
      states: states('2026-02-20 00:00', null, [['down', '2026-03-10 12:00', '2026-03-10 12:30']]),
    });
    expect(f.closed).toBe(true);
    expect(f.minutes).toMatchObject({
      scope: march,
      down: 30,
      measured: march,
      countedDowntime: 30,
      unknown: 0,
    });
    expect(f.availability).toBe(Math.round(((march - 30) / march) * 100 * 10_000) / 10_000);
    // 44,640 x 0.5 % = 223.2 minutes of budget, 193.2 left.
    expect(f.minutes.budget).toBe(223.2);
    expect(f.budgetLeftMinutes).toBe(193.2);
    expect(f.status).toBe('met');
    expect(f.outages).toEqual([
      expect.objectContaining({
        start: '2026-03-10T12:00:00.000Z',
        spanMinutes: 30,
        clause: 'counted',
        ongoing: false,
      }),
    ]);
  });

  it('misses when the downtime is over the budget', () => {
    const f = run({
      period: '2026-03',
      states: states('2026-02-20 00:00', null, [['down', '2026-03-10 12:00', '2026-03-10 16:00']]),
    });
    expect(f.minutes.countedDowntime).toBe(240);
    expect(f.status).toBe('missed');
    expect(f.budgetLeftMinutes).toBe(-16.8);
  });

  it.each([
    // [name, service time, outage (Berlin = UTC+1 in February), counted, outside service time]
    ['outage at night, outside 05:00-22:00', '2026-02-10 23:00', '2026-02-11 01:00', 0, 120],
    ['outage across the 22:00 edge: 21:50-22:20 Berlin', '2026-02-10 20:50', '2026-02-10 21:20', 10, 20],
    ['outage across the 05:00 edge: 04:30-05:45 Berlin', '2026-02-11 03:30', '2026-02-11 04:45', 45, 30],
  ])('service time: %s', (_name, from, to, counted, outsideMinutes) => {
    const f = run({
      period: '2026-02',
      policies: [policy({ timeZone: 'Europe/Berlin', serviceTime: inside('daily 05:00-22:00') })],
      states: states('2026-01-01 00:00', null, [['down', from, to]]),
    });
    expect(f.minutes.scope).toBe(28 * 17 * 60);
    expect(f.minutes.down).toBe(counted);
    expect(f.outages[0]?.inPeriod).toMatchObject({ counted, outsideServiceTime: outsideMinutes });
  });

  it('DST: the night of 29 March is an hour short, and an outage in it counts by real minutes', () => {
    // Service time is the night (a night shift's SLA): 22:00-05:00 Berlin; down from 23:00 CET to 04:00 CEST = 4 real hours.
    const f = run({
      period: '2026-03',
      policies: [policy({ timeZone: 'Europe/Berlin', serviceTime: inside('daily 22:00-05:00') })],
      states: states('2026-02-01 00:00', null, [['down', '2026-03-28 22:00', '2026-03-29 02:00']]),
    });
    expect(f.minutes.scope).toBe((5 + 30 * 7 - 1 + 2) * 60);
    expect(f.minutes.down).toBe(240);
  });

  it('DST: the night of 25 October is an hour long, and both 02:30s are in it', () => {
    const f = run({
      period: '2026-10',
      policies: [policy({ timeZone: 'Europe/Berlin', serviceTime: inside('daily 22:00-05:00') })],
      // 02:00 CEST (00:00Z) to 03:00 CET (02:00Z): the hour that happens twice, 2 real hours.
      states: states('2026-09-01 00:00', null, [['down', '2026-10-25 00:00', '2026-10-25 02:00']]),
    });
    expect(f.minutes.scope).toBe((5 + 30 * 7 + 1 + 2) * 60);
    expect(f.minutes.down).toBe(120);
  });

  it('weights degraded time by the partial weight', () => {
    const trouble: [CheckState, string, string][] = [['degraded', '2026-03-10 12:00', '2026-03-10 13:00']];
    const half = run({ period: '2026-03', states: states('2026-03-01 00:00', null, trouble) });
    expect(half.minutes).toMatchObject({ degraded: 60, down: 0, countedDowntime: 30 });
    const none = run({
      period: '2026-03',
      policies: [policy({ partialWeight: 0 })],
      states: states('2026-03-01 00:00', null, trouble),
    });
    expect(none.minutes.countedDowntime).toBe(0);
    const full = run({
      period: '2026-03',
      policies: [policy({ partialWeight: 1 })],
      states: states('2026-03-01 00:00', null, trouble),
    });
    expect(full.minutes.countedDowntime).toBe(60);
  });

  describe('unknown time is never up', () => {
    // The check exists from 1 March 01:00: the first hour has no interval at all; an hour on the 10th is unknown.
    const line = states('2026-03-01 01:00', null, [['unknown', '2026-03-10 12:00', '2026-03-10 13:00']]);

    it('by default it leaves the measured time and is shown apart', () => {
      const f = run({ period: '2026-03', states: line });
      expect(f.minutes).toMatchObject({
        unknown: 120,
        down: 0,
        countedDowntime: 0,
        measured: march - 120,
        up: march - 120,
      });
      expect(f.availability).toBe(100);
    });

    it('with unknownCountsAsDown it is downtime', () => {
      const f = run({ period: '2026-03', policies: [policy({ unknownCountsAsDown: true })], states: line });
      expect(f.minutes).toMatchObject({ unknown: 120, countedDowntime: 120, measured: march });
    });

    it('nothing measured at all is not-measured, not 100 %', () => {
      const f = run({ period: '2026-03', states: [] });
      expect(f.minutes.unknown).toBe(march);
      expect(f.availability).toBeNull();
      expect(f.status).toBe('not-measured');
    });
  });

  describe('outages up to N minutes, after merging outages closer than the gap', () => {
    const upTo10 = (mergeGap: number): PolicyVersion[] => [
      policy({ excludeOutagesUpToMs: 10 * min, mergeGapMs: mergeGap * min }),
    ];
    it.each([
      // [name, outages, merge gap (min), counted, excluded as short]
      ['8 min alone is excluded', [['12:00', '12:08']], 5, 0, 8],
      ['10 min exactly is excluded', [['12:00', '12:10']], 5, 0, 10],
      ['12 min is counted', [['12:00', '12:12']], 5, 12, 0],
      // 6 + 3 (up) + 6: one outage spanning 15 min, so the clause does not apply; the 3 min up stay up.
      [
        '6 and 6 min, 3 min apart, gap 5 min: one 15 min outage, counted',
        [
          ['12:00', '12:06'],
          ['12:09', '12:15'],
        ],
        5,
        12,
        0,
      ],
      [
        '6 and 6 min, 3 min apart, gap 2 min: two short outages',
        [
          ['12:00', '12:06'],
          ['12:09', '12:15'],
        ],
        2,
        0,
        12,
      ],
      [
        '3 min apart with a gap of exactly 3 min: not merged (strictly closer)',
        [
          ['12:00', '12:06'],
          ['12:09', '12:15'],
        ],
        3,
        0,
        12,
      ],
      [
        'gap 0: only touching runs merge',
        [
          ['12:00', '12:06'],
          ['12:06', '12:12'],
        ],
        0,
        12,
        0,
      ],
      [
        'three 3 min blips 4 min apart chain into one 17 min outage',
        [
          ['12:00', '12:03'],
          ['12:07', '12:10'],
          ['12:14', '12:17'],
        ],
        5,
        9,
        0,
      ],
    ] as const)('%s', (_name, outages, gap, counted, short) => {
      const f = run({
        period: '2026-03',
        policies: upTo10(gap),
        states: states(
          '2026-03-01 00:00',
          null,
          outages.map(([a, b]) => ['down', `2026-03-10 ${a}`, `2026-03-10 ${b}`]),
        ),
      });
      expect(f.minutes.down).toBe(counted);
      expect(f.minutes.shortOutages).toBe(short);
      expect(f.minutes.measured).toBe(march - short);
    });

    it('the clause is off at 0', () => {
      const f = run({
        period: '2026-03',
        states: states('2026-03-01 00:00', null, [['down', '2026-03-10 12:00', '2026-03-10 12:01']]),
      });
      expect(f.minutes.down).toBe(1);
    });
  });

  describe('outages spanning the period boundary', () => {
    const terms = [policy({ excludeOutagesUpToMs: 10 * min })];
    it('a short outage across midnight is one outage: excluded in both months', () => {
      const line = states('2026-03-01 00:00', null, [['down', '2026-03-31 23:56', '2026-04-01 00:04']]);
      const mar = run({ period: '2026-03', policies: terms, states: line });
      const apr = run({ period: '2026-04', policies: terms, states: line });
      expect([
        mar.minutes.shortOutages,
        mar.minutes.down,
        apr.minutes.shortOutages,
        apr.minutes.down,
      ]).toEqual([4, 0, 4, 0]);
      expect(mar.outages[0]).toMatchObject({ spanMinutes: 8, clause: 'short-outage' });
    });
    it('a long one counts its part in each month', () => {
      const line = states('2026-03-01 00:00', null, [['down', '2026-03-31 23:40', '2026-04-01 00:20']]);
      expect(run({ period: '2026-03', policies: terms, states: line }).minutes.down).toBe(20);
      expect(run({ period: '2026-04', policies: terms, states: line }).minutes.down).toBe(20);
      expect(run({ period: '2026-Q1', policies: terms, states: line }).outages[0]).toMatchObject({
        spanMinutes: 40,
        downMinutes: 40,
        inPeriod: expect.objectContaining({ counted: 20 }) as unknown,
      });
    });
    it('a year in Berlin ends at 23:00Z', () => {
      const line = states('2026-12-01 00:00', null, [['down', '2026-12-31 22:30', '2026-12-31 23:30']]);
      const terms2 = [policy({ timeZone: 'Europe/Berlin' })];
      expect(run({ period: '2026', policies: terms2, states: line }).minutes.down).toBe(30);
      expect(run({ period: '2027-01', policies: terms2, states: line }).minutes.down).toBe(30);
    });
  });

  describe('announced maintenance', () => {
    const clause = (o: Partial<PolicyVersion> = {}): PolicyVersion[] => [
      policy({ maintenanceNoticeMs: 7 * day, maintenanceMaxMs: 8 * hour, ...o }),
    ];

    it('excludes an outage inside a window announced in time, and the whole window from the measured time', () => {
      const f = run({
        period: '2026-03',
        policies: clause(),
        states: states('2026-03-01 00:00', null, [['down', '2026-03-10 22:30', '2026-03-10 23:30']]),
        // The window is 22:00-24:00 and the outage 22:30-23:30 lies inside it: all of it is maintenance.
        maintenance: [maintenance('2026-03-10 22:00', '2026-03-11 00:00', '2026-03-01 09:00')],
      });
      expect(f.minutes).toMatchObject({ maintenance: 120, down: 0, measured: march - 120 });
      expect(f.maintenance[0]).toMatchObject({ verdict: 'excluded', excludedMinutes: 120 });
      expect(f.outages[0]?.inPeriod).toMatchObject({ maintenance: 60, counted: 0 });
    });

    it('an outage overlapping the window counts the part outside it', () => {
      const f = run({
        period: '2026-03',
        policies: clause(),
        states: states('2026-03-01 00:00', null, [['down', '2026-03-10 21:30', '2026-03-10 22:30']]),
        maintenance: [maintenance('2026-03-10 22:00', '2026-03-11 00:00', '2026-03-01 09:00')],
      });
      expect(f.outages[0]?.inPeriod).toMatchObject({ maintenance: 30, counted: 30 });
      expect(f.minutes.down).toBe(30);
    });

    it('counts a window announced too late', () => {
      const f = run({
        period: '2026-03',
        policies: clause(),
        states: states('2026-03-01 00:00', null, [['down', '2026-03-10 22:00', '2026-03-10 23:00']]),
        maintenance: [maintenance('2026-03-10 22:00', '2026-03-11 00:00', '2026-03-05 09:00')],
      });
      expect(f.minutes).toMatchObject({ maintenance: 0, down: 60 });
      expect(f.maintenance[0]).toMatchObject({
        verdict: 'counted',
        why: 'announced 5d 13h ahead; the policy requires 7d',
      });
    });

    it('counts a window never announced', () => {
      const f = run({
        period: '2026-03',
        policies: clause(),
        states: states('2026-03-01 00:00', null, [['down', '2026-03-10 22:00', '2026-03-10 23:00']]),
        maintenance: [
          { ...maintenance('2026-03-10 22:00', '2026-03-11 00:00', '2026-03-01 00:00'), announcedAt: null },
        ],
      });
      expect(f.minutes).toMatchObject({ maintenance: 0, down: 60 });
      expect(f.maintenance[0]).toMatchObject({
        verdict: 'counted',
        why: 'never announced',
        announcedAt: null,
      });
    });

    it('caps hours per contract period, counting from its start (windows of January count in March)', () => {
      const f = run({
        period: '2026-03',
        policies: clause(),
        maintenance: [
          maintenance('2026-01-10 00:00', '2026-01-10 05:00', '2025-12-01 00:00', 'jan'),
          maintenance('2026-03-10 00:00', '2026-03-10 05:00', '2026-02-01 00:00', 'mar'),
          maintenance('2026-03-20 00:00', '2026-03-20 01:00', '2026-02-01 00:00', 'late'),
        ],
        states: states('2026-03-01 00:00', null),
      });
      // 8 h a year: January used 5, March's window gets 3 of its 5, the third none.
      expect(f.maintenance.map((m) => [m.id, m.verdict, m.excludedMinutes])).toEqual([
        ['mar', 'partly', 180],
        ['late', 'counted', 0],
      ]);
      expect(f.maintenance[0]?.why).toBe('excluded up to the cap of 8h in 2026');
      expect(f.minutes.maintenance).toBe(180);
    });

    it('caps the count per contract period (a monthly contract starts afresh)', () => {
      const windows = [
        maintenance('2026-03-02 00:00', '2026-03-02 01:00', '2026-02-01 00:00', 'a'),
        maintenance('2026-03-03 00:00', '2026-03-03 01:00', '2026-02-01 00:00', 'b'),
        maintenance('2026-04-03 00:00', '2026-04-03 01:00', '2026-02-01 00:00', 'c'),
      ];
      const f = run({
        period: '2026-Q2',
        policies: clause({ maintenanceMaxCount: 1, maintenanceMaxMs: null, period: 'month' }),
        maintenance: windows,
      });
      expect(f.maintenance.map((m) => m.verdict)).toEqual(['excluded']);
      const q1 = run({
        period: '2026-Q1',
        policies: clause({ maintenanceMaxCount: 1, maintenanceMaxMs: null, period: 'month' }),
        maintenance: windows,
      });
      expect(q1.maintenance.map((m) => [m.id, m.verdict])).toEqual([
        ['a', 'excluded'],
        ['b', 'counted'],
      ]);
      expect(q1.maintenance[1]?.why).toBe('over the cap of 1 windows in 2026-03');
    });

    it('without the clause maintenance is ordinary time', () => {
      const f = run({
        period: '2026-03',
        states: states('2026-03-01 00:00', null, [['down', '2026-03-10 22:00', '2026-03-10 23:00']]),
        maintenance: [maintenance('2026-03-10 22:00', '2026-03-11 00:00', '2026-01-01 00:00')],
      });
      expect(f.minutes.down).toBe(60);
      expect(f.maintenance[0]?.why).toBe('the policy has no maintenance clause');
    });

    it('maintenance and an operator exclusion overlapping: maintenance takes the shared minutes, each minute once', () => {
      const exclusion: OperatorExclusion = {
        id: 'x1',
        start: utc('2026-03-10 23:00'),
        end: utc('2026-03-11 02:00'),
        reason: 'upstream provider outage (ticket 123)',
        by: 'alice',
      };
      const f = run({
        period: '2026-03',
        policies: clause(),
        states: states('2026-03-01 00:00', null, [['down', '2026-03-10 22:00', '2026-03-11 03:00']]),
        maintenance: [maintenance('2026-03-10 22:00', '2026-03-11 00:00', '2026-03-01 00:00')],
        exclusions: [exclusion],
      });
      expect(f.minutes).toMatchObject({ maintenance: 120, operatorExcluded: 120, down: 60 });
      expect(f.exclusions).toEqual([
        expect.objectContaining({
          id: 'x1',
          reason: 'upstream provider outage (ticket 123)',
          by: 'alice',
          excludedMinutes: 120,
        }),
      ]);
      expect(f.outages[0]?.inPeriod).toEqual({
        outsideServiceTime: 0,
        maintenance: 120,
        operatorExcluded: 120,
        shortOutage: 0,
        counted: 60,
      });
    });
  });

  it('two policy versions: each applies to its part, the budget is the sum', () => {
    const v1 = policy({ version: 1, target: 99, effectiveFrom: utc('2025-01-01 00:00') });
    const v2 = policy({
      version: 2,
      target: 99.9,
      effectiveFrom: utc('2026-03-16 00:00'),
      excludeOutagesUpToMs: 10 * min,
    });
    const f = run({
      period: '2026-03',
      policies: [v2, v1],
      states: states('2026-03-01 00:00', null, [
        ['down', '2026-03-05 10:00', '2026-03-05 10:05'],
        ['down', '2026-03-20 10:00', '2026-03-20 10:05'],
      ]),
    });
    expect(f.parts.map((p) => [p.version, p.from, p.to, p.minutes.scope, p.minutes.down])).toEqual([
      [1, '2026-03-01T00:00:00.000Z', '2026-03-16T00:00:00.000Z', 15 * 1440, 5],
      [2, '2026-03-16T00:00:00.000Z', '2026-04-01T00:00:00.000Z', 16 * 1440, 0],
    ]);
    // 21,600 x 1 % + (23,040 - 5) x 0.1 % = 216 + 23.035
    expect(f.minutes.budget).toBe(239.035);
    expect(f.minutes.shortOutages).toBe(5);
    expect(f.target).toBe(Math.round((1 - 239.035 / (march - 5)) * 100 * 10_000) / 10_000);
  });

  it('a policy that starts in the period leaves the time before it unaccounted', () => {
    const f = run({
      period: '2026-03',
      policies: [policy({ effectiveFrom: utc('2026-03-11 00:00') })],
      states: states('2026-03-01 00:00', null),
    });
    expect(f.uncoveredMinutes).toBe(10 * 1440);
    expect(f.minutes.scope).toBe(21 * 1440);
  });

  it('several checks: the worst state at each instant', () => {
    const a = states('2026-03-01 00:00', null, [['down', '2026-03-10 12:00', '2026-03-10 12:30']]);
    const b = states('2026-03-01 00:00', null, [
      ['degraded', '2026-03-10 12:15', '2026-03-10 13:00'],
      ['unknown', '2026-03-11 00:00', '2026-03-11 01:00'],
    ]).map((s) => ({ ...s, checkId: '2' }));
    const f = run({ period: '2026-03', states: [...a, ...b] });
    // Down 12:00-12:30 wins over degraded; degraded 12:30-13:00; unknown where b knows nothing and a says up.
    expect(f.minutes).toMatchObject({ down: 30, degraded: 30, unknown: 60 });
  });

  it('leap year: February 2024 has 29 days of budget', () => {
    const f = run({ period: '2024-02', states: states('2024-01-01 00:00', null) });
    expect(f.minutes.scope).toBe(29 * 1440);
    expect(f.minutes.budget).toBe(208.8);
    // The leap day itself is accounted.
    const leap = run({
      period: '2024-02',
      states: states('2024-01-01 00:00', null, [['down', '2024-02-29 10:00', '2024-02-29 11:00']]),
    });
    expect(leap.minutes.down).toBe(60);
  });
});

describe('a period not yet ended', () => {
  const now = utc('2026-03-11 00:00'); // 10 days of 31 measured

  it('is measured to date, with the budget of the whole period', () => {
    const f = run({
      period: '2026-03',
      now,
      states: states('2026-03-01 00:00', null, [['down', '2026-03-05 10:00', '2026-03-05 11:00']]),
    });
    expect(f.closed).toBe(false);
    expect(f.asOf).toBe('2026-03-11T00:00:00.000Z');
    expect(f.minutes).toMatchObject({ scope: 10 * 1440, down: 60, measured: 10 * 1440 });
    expect(f.minutes.budget).toBe(223.2);
    expect(f.budgetLeftMinutes).toBe(163.2);
    expect(f.projected).toEqual({
      measured: 31 * 1440,
      availability: Math.round((1 - 60 / (31 * 1440)) * 100 * 10_000) / 10_000,
    });
    // 60 min in 14,400 is 99.58 %: above 99.5, on track.
    expect(f.status).toBe('on-track');
  });

  it('is at risk when the rate so far would miss, and missed once the budget is spent', () => {
    const risk = run({
      period: '2026-03',
      now,
      states: states('2026-03-01 00:00', null, [['down', '2026-03-05 10:00', '2026-03-05 11:30']]),
    });
    expect(risk.status).toBe('at-risk');
    const spent = run({
      period: '2026-03',
      now,
      states: states('2026-03-01 00:00', null, [['down', '2026-03-05 10:00', '2026-03-05 14:00']]),
    });
    expect(spent.status).toBe('missed');
  });

  it('an outage still going on is counted, however short, until it ends', () => {
    const line = states('2026-03-01 00:00', '2026-03-10 23:55').concat([
      { id: 'open', checkId: '1', state: 'down', start: utc('2026-03-10 23:55'), end: null },
    ]);
    const f = run({
      period: '2026-03',
      now,
      policies: [policy({ excludeOutagesUpToMs: 10 * min })],
      states: line,
    });
    expect(f.outages).toEqual([
      expect.objectContaining({ ongoing: true, clause: 'counted', stateIds: ['open'] }),
    ]);
    expect(f.minutes.down).toBe(5);
  });

  it('announced maintenance still to come is left out of the projected measured time', () => {
    const f = run({
      period: '2026-03',
      now,
      policies: [policy({ maintenanceNoticeMs: day })],
      states: states('2026-03-01 00:00', null),
      maintenance: [maintenance('2026-03-20 00:00', '2026-03-20 02:00', '2026-03-01 00:00')],
    });
    expect(f.projected?.measured).toBe(31 * 1440 - 120);
    expect(f.minutes.maintenance).toBe(0);
  });

  it('refuses a period that has not started', () => {
    expect(() => run({ period: '2026-04', now })).toThrow(/field "period": 2026-04 has not started yet/);
  });
});

it('refuses to account without a policy', () => {
  expect(() => run({ period: '2026-03', policies: [] })).toThrow(/the tenant has no SLA policy/);
});
