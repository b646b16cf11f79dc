import { describe, expect, it } from 'vitest';
import {
  applyResult,
  initialProgress,
  notProbing,
  type CheckProgress,
  type CheckState,
  type ProbeOutcome,
  type StateChange,
} from '../../../src/monitoring/states.ts';
import { minuteOf, percentile, rollup } from '../../../src/monitoring/rollups.ts';

const t0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (seconds: number): string => new Date(t0 + seconds * 1000).toISOString();
const intervalMs = 10_000;

/** Feeds results (outcome at second s) and returns the state after each and every change. */
function run(results: readonly (readonly [number, ProbeOutcome])[]): {
  states: CheckState[];
  changes: StateChange[];
} {
  let progress: CheckProgress = initialProgress(at(0));
  const states: CheckState[] = [];
  const changes: StateChange[] = [];
  for (const [s, outcome] of results) {
    const next = applyResult(progress, { at: at(s), outcome, latencyMs: 5, detail: outcome }, intervalMs);
    progress = next.progress;
    changes.push(...next.changes);
    states.push(progress.state);
  }
  return { states, changes };
}

describe('check states from probe results', () => {
  it.each([
    ['the first result decides, leaving unknown: ok', [[10, 'ok']], ['up']],
    ['the first result decides, leaving unknown: fail', [[10, 'fail']], ['down']],
    [
      'one failure is not down (2 in a row are)',
      [
        [10, 'ok'],
        [20, 'fail'],
        [30, 'ok'],
      ],
      ['up', 'up', 'up'],
    ],
    [
      'two failures in a row are down',
      [
        [10, 'ok'],
        [20, 'fail'],
        [30, 'fail'],
      ],
      ['up', 'up', 'down'],
    ],
    [
      'one good result after down is up',
      [
        [10, 'fail'],
        [20, 'ok'],
      ],
      ['down', 'up'],
    ],
    [
      'two degraded in a row are degraded',
      [
        [10, 'ok'],
        [20, 'degraded'],
        [30, 'degraded'],
      ],
      ['up', 'up', 'degraded'],
    ],
    [
      'degraded then failing goes down',
      [
        [10, 'ok'],
        [20, 'degraded'],
        [30, 'degraded'],
        [40, 'fail'],
        [50, 'fail'],
      ],
      ['up', 'up', 'degraded', 'degraded', 'down'],
    ],
    [
      'a degraded and a failure are degraded, not down',
      [
        [10, 'ok'],
        [20, 'degraded'],
        [30, 'fail'],
      ],
      ['up', 'up', 'degraded'],
    ],
  ] as const)('%s', (_name, results, expected) => {
    expect(run(results).states).toEqual(expected);
  });

  it('records the results that caused a change', () => {
    const { changes } = run([
      [10, 'ok'],
      [20, 'fail'],
      [30, 'fail'],
    ]);
    expect(changes.map((c) => [c.at, c.from, c.to])).toEqual([
      [at(10), 'unknown', 'up'],
      [at(30), 'up', 'down'],
    ]);
    const cause = changes[1]?.cause;
    expect(cause?.kind === 'probes' && cause.results.map((r) => r.at)).toEqual([at(20), at(30)]);
  });

  it('records a gap longer than 2 intervals as unknown from the last probe, never up', () => {
    const { states, changes } = run([
      [10, 'ok'],
      [20, 'ok'],
      [45, 'ok'],
    ]);
    expect(states).toEqual(['up', 'up', 'up']);
    expect(changes.map((c) => [c.at, c.from, c.to, c.cause.kind])).toEqual([
      [at(10), 'unknown', 'up', 'probes'],
      [at(20), 'up', 'unknown', 'not-probing'],
      [at(45), 'unknown', 'up', 'probes'],
    ]);
  });

  it('a gap of exactly 2 intervals is on time', () => {
    expect(
      run([
        [10, 'ok'],
        [30, 'ok'],
      ]).changes,
    ).toHaveLength(1);
  });

  it('a late probe that fails: unknown for the gap, then down at once', () => {
    const { changes } = run([
      [10, 'ok'],
      [100, 'fail'],
    ]);
    expect(changes.map((c) => [c.at, c.to])).toEqual([
      [at(10), 'up'],
      [at(10), 'unknown'],
      [at(100), 'down'],
    ]);
  });

  it('Steward stopping closes the open interval at the last probe; unknown stays unknown', () => {
    let progress = applyResult(
      initialProgress(at(0)),
      { at: at(10), outcome: 'ok', latencyMs: 1, detail: '' },
      intervalMs,
    ).progress;
    const stopped = notProbing(progress, 'Steward was not running');
    expect(stopped.changes).toEqual([
      {
        at: at(10),
        from: 'up',
        to: 'unknown',
        cause: { kind: 'not-probing', reason: 'Steward was not running', lastProbeAt: at(10) },
      },
    ]);
    progress = stopped.progress;
    expect(progress).toMatchObject({ state: 'unknown', since: at(10) });
    expect(notProbing(progress, 'again').changes).toEqual([]);
  });
});

describe('per-minute rollups', () => {
  it('counts, failures and nearest-rank percentiles', () => {
    const samples = Array.from({ length: 20 }, (_, i) => ({ ok: i % 5 !== 0, latencyMs: i + 1 }));
    expect(rollup('2026-01-01T00:01:00.000Z', samples)).toEqual({
      minute: '2026-01-01T00:01:00.000Z',
      count: 20,
      failures: 4,
      latencyP50Ms: 10,
      latencyP95Ms: 19,
      latencyMaxMs: 20,
    });
    expect(rollup(minuteOf(at(61)), []).count).toBe(0);
    expect(percentile([7], 95)).toBe(7);
  });

  it('a moment falls in its minute', () => {
    expect(minuteOf('2026-01-01T00:01:59.999Z')).toBe('2026-01-01T00:01:00.000Z');
  });
});
