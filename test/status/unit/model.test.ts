import { describe, expect, it } from 'vitest';
import { aggregate, currentState, dayBars, orderStages } from '../../../src/status/index.ts';
import { barsStart, dayMs } from '../../../src/status/model.ts';
import { renderStatusPage } from '../../../src/status/render.ts';
import type { StateInterval } from '../../../src/sla/index.ts';

const now = Date.parse('2026-03-31T12:00:00Z');
const today = Date.parse('2026-03-31T00:00:00Z');
const h = 3_600_000;
let n = 0;
const s = (state: StateInterval['state'], start: number, end: number | null): StateInterval => ({
  id: String(++n),
  checkId: '1',
  state,
  start,
  end,
});

describe('dayBars', () => {
  it('gives 90 UTC days ending today, the last one up to now', () => {
    const { days } = dayBars([s('up', today - 100 * dayMs, null)], now);
    expect(days).toHaveLength(90);
    expect(days[0]?.date).toBe('2026-01-01');
    expect(days.at(-1)?.date).toBe('2026-03-31');
    expect(barsStart(now)).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(days.every((d) => d.uptime === 100)).toBe(true);
  });

  it.each([
    [
      'down 2 h',
      [
        s('up', 0, today - dayMs + 10 * h),
        s('down', today - dayMs + 10 * h, today - dayMs + 12 * h),
        s('up', today - dayMs + 12 * h, null),
      ],
      91.667,
    ],
    [
      'degraded 2 h, weighted 0.5',
      [
        s('up', 0, today - dayMs),
        s('degraded', today - dayMs, today - dayMs + 2 * h),
        s('up', today - dayMs + 2 * h, null),
      ],
      95.833,
    ],
    // Unknown is left out of the measured time: 12 h known, 2 h down of it.
    [
      'unknown half the day, down 2 h',
      [
        s('up', 0, today - dayMs),
        s('unknown', today - dayMs, today - dayMs + 12 * h),
        s('down', today - dayMs + 12 * h, today - dayMs + 14 * h),
        s('up', today - dayMs + 14 * h, null),
      ],
      83.333,
    ],
    ['no interval at all: no data, never up', [s('up', 0, today - dayMs), s('up', today, null)], null],
    [
      'unknown all day: no data',
      [s('up', 0, today - dayMs), s('unknown', today - dayMs, today), s('up', today, null)],
      null,
    ],
    [
      'two checks: the worst counts',
      [s('up', 0, null), { ...s('down', today - dayMs, today - dayMs + 6 * h), checkId: '2' }],
      75,
    ],
  ] as const)('%s', (_, states, expected) => {
    const { days } = dayBars(states, now);
    expect(days.at(-2)?.uptime).toBe(expected);
  });

  it('a check that did not exist yet gives no data for those days', () => {
    const { days, uptime } = dayBars([s('up', today - 10 * dayMs, null)], now);
    expect(days.filter((d) => d.uptime === null)).toHaveLength(79);
    expect(uptime).toBe(100);
  });
});

describe('currentState', () => {
  it.each([
    [[s('up', 0, null)], false, 'operational'],
    [[s('down', 0, null)], false, 'outage'],
    [[s('degraded', 0, null)], false, 'degraded'],
    [[s('unknown', 0, null)], false, 'no-data'],
    [[], false, 'no-data'],
    [[s('down', 0, null)], true, 'maintenance'],
    [[s('up', 0, null), { ...s('down', 0, null), checkId: '2' }], false, 'outage'],
  ] as const)('%j maintenance=%s: %s', (states, maintenance, expected) => {
    expect(currentState(states as unknown as StateInterval[], now, maintenance)).toBe(expected);
  });
});

describe('page', () => {
  it('puts prod first, aggregates tenants, escapes everything and stays small', () => {
    expect(orderStages(['test', 'dev', 'prod', 'test'])).toEqual(['prod', 'test', 'dev']);
    const a = { name: '', state: 'operational' as const, ...dayBars([s('up', 0, null)], now) };
    const b = {
      name: '',
      state: 'outage' as const,
      ...dayBars(
        [
          s('up', 0, today - dayMs),
          s('down', today - dayMs, today - dayMs + 12 * h),
          s('up', today - dayMs + 12 * h, null),
        ],
        now,
      ),
    };
    const app = aggregate('Application', [a, b]);
    expect(app.state).toBe('outage');
    expect(app.days.at(-2)?.uptime).toBe(75);
    const html = renderStatusPage({
      title: '<script>alert(1)</script>',
      generatedAt: new Date(now).toISOString(),
      components: [app, { ...app, name: 'Test & "more"' }, { ...app, name: 'Dev' }],
      current: [
        {
          id: '1',
          title: 'a<b',
          status: 'identified',
          updates: [{ at: new Date(now).toISOString(), status: 'identified', note: '"x" & <y>' }],
        },
      ],
      maintenance: [],
      history: [],
    });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;');
    expect(html).toContain('Test &#38; &#34;more&#34;');
    expect(html).toContain('a&#60;b');
    expect(Buffer.byteLength(html)).toBeLessThan(50 * 1024);
  });
});
