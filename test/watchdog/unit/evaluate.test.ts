import { describe, expect, it } from 'vitest';
import {
  evaluate,
  growing,
  showSeconds,
  type LoopMeasurement,
  type Measurement,
  type WatchdogThresholds,
} from '../../../src/watchdog/evaluate.ts';

const thresholds: WatchdogThresholds = {
  outboxOldestSeconds: 600,
  jobOldestSeconds: 300,
  growingMeasurements: 3,
  growingMinimum: 10,
  checksLateSeconds: 60,
};

const loop = (name: LoopMeasurement['loop'], change: Partial<LoopMeasurement> = {}): LoopMeasurement => ({
  loop: name,
  idleSeconds: 1,
  stalledAfterSeconds: 120,
  hasWork: true,
  ...change,
});

/** A healthy Steward: every loop busy and recent, nothing waiting, nothing late. */
const healthy: Measurement = {
  loops: [loop('checks'), loop('jobs', { hasWork: false }), loop('notifications')],
  jobs: { waiting: 0, running: 0, oldestWaitingSeconds: null },
  outbox: { pending: 0, oldestPendingSeconds: null },
  checks: { due: 3, mostOverdueSeconds: 0.4 },
};

const m = (change: {
  loops?: Partial<Record<LoopMeasurement['loop'], Partial<LoopMeasurement>>>;
  jobs?: Partial<Measurement['jobs']>;
  outbox?: Partial<Measurement['outbox']>;
  checks?: Partial<Measurement['checks']>;
}): Measurement => ({
  loops: healthy.loops.map((l) => ({ ...l, ...change.loops?.[l.loop] })),
  jobs: { ...healthy.jobs, ...change.jobs },
  outbox: { ...healthy.outbox, ...change.outbox },
  checks: { ...healthy.checks, ...change.checks },
});

const pending = (...counts: number[]): Measurement[] =>
  counts.map((n) => m({ outbox: { pending: n, oldestPendingSeconds: n === 0 ? null : 30 } }));
const waiting = (...counts: number[]): Measurement[] =>
  counts.map((n) => m({ jobs: { waiting: n, running: 4, oldestWaitingSeconds: n === 0 ? null : 20 } }));

describe('the watchdog evaluator', () => {
  it.each<[string, Measurement[], string[], RegExp?]>([
    ['a healthy Steward', [healthy], []],
    ['no measurement yet', [], []],
    [
      'the check runner idle past its limit',
      [m({ loops: { checks: { idleSeconds: 121 } } })],
      ['stalled-checks'],
      /^The check runner made no progress for 121 s \(stalled after 120 s\)$/,
    ],
    ['the check runner idle just at its limit', [m({ loops: { checks: { idleSeconds: 120 } } })], []],
    [
      'the job runner idle while jobs wait',
      [
        m({
          loops: { jobs: { idleSeconds: 600, hasWork: true } },
          jobs: { waiting: 2, running: 1, oldestWaitingSeconds: 30 },
        }),
      ],
      ['stalled-jobs'],
      /^The job runner made no progress for 10 min while 2 jobs wait \(1 running\)/,
    ],
    [
      'the job runner idle with nothing to do',
      [m({ loops: { jobs: { idleSeconds: 6000, hasWork: false } } })],
      [],
    ],
    [
      'the dispatcher stalled',
      [m({ loops: { notifications: { idleSeconds: 7300 } } })],
      ['stalled-notifications'],
      /^The notification dispatcher made no progress for 2 h/,
    ],
    [
      'a job waiting longer than the limit',
      [m({ jobs: { waiting: 1, running: 0, oldestWaitingSeconds: 330 } })],
      ['job-backlog'],
      /^The job queue backed up: 1 waiting; the oldest has waited 6 min \(limit 5 min\)$/,
    ],
    ['a job waiting just under the limit', [m({ jobs: { waiting: 1, oldestWaitingSeconds: 299 } })], []],
    [
      'the job queue growing at each of the last 3 measurements',
      waiting(5, 8, 12, 20),
      ['job-backlog'],
      /grew at each of the last 3 measurements, from 5 to 20$/,
    ],
    ['the job queue growing, but below the minimum', waiting(1, 3, 6, 9), []],
    ['the job queue growing, with a pause', waiting(5, 8, 8, 20), []],
    ['the job queue growing for too few measurements', waiting(8, 12, 20), []],
    [
      'a notification pending longer than the limit',
      [m({ outbox: { pending: 3, oldestPendingSeconds: 900 } })],
      ['outbox-backlog'],
      /^The notification outbox backed up: 3 waiting; the oldest has waited 15 min \(limit 10 min\)$/,
    ],
    ['the outbox growing', pending(0, 11, 40, 90), ['outbox-backlog'], /from 0 to 90$/],
    ['the outbox draining', pending(90, 40, 11, 0), []],
    [
      'the outbox old and growing: one alert, both reasons',
      [...pending(0, 11, 40), m({ outbox: { pending: 90, oldestPendingSeconds: 700 } })],
      ['outbox-backlog'],
      /the oldest has waited 12 min \(limit 10 min\); it grew at each/,
    ],
    [
      'checks late past the limit',
      [m({ checks: { due: 40, mostOverdueSeconds: 61 } })],
      ['checks-late'],
      /^Checks are late: the most overdue was due 61 s ago \(limit 60 s\); 40 due$/,
    ],
    ['checks due but on time', [m({ checks: { due: 400, mostOverdueSeconds: 59 } })], []],
    [
      'everything at once',
      [
        m({
          loops: {
            checks: { idleSeconds: 500 },
            jobs: { idleSeconds: 500, hasWork: true },
            notifications: { idleSeconds: 500 },
          },
          jobs: { waiting: 4, oldestWaitingSeconds: 500 },
          outbox: { pending: 4, oldestPendingSeconds: 900 },
          checks: { mostOverdueSeconds: 500 },
        }),
      ],
      [
        'stalled-checks',
        'stalled-jobs',
        'stalled-notifications',
        'job-backlog',
        'outbox-backlog',
        'checks-late',
      ],
    ],
  ])('%s', (_name, history, conditions, summary) => {
    const findings = evaluate(history, thresholds);
    expect(findings.map((f) => f.condition)).toEqual(conditions);
    if (summary) expect(findings[0]?.summary).toMatch(summary);
    for (const f of findings)
      expect(f.severity).toBe(f.condition.startsWith('stalled-') ? 'critical' : 'warning');
  });

  it('counts growth over the last measurements only', () => {
    expect(growing([100, 1, 2, 3, 11], 3, 10)).toBe(true);
    expect(growing([1, 2, 3, 11], 4, 10)).toBe(false);
    expect(growing([], 1, 0)).toBe(false);
  });

  it('shows durations as people read them', () => {
    expect([0.4, 2, 9.96, 59.6, 299, 300, 7199, 7200, 90_000].map(showSeconds)).toEqual([
      '0.4 s',
      '2 s',
      '10 s',
      '60 s',
      '299 s',
      '5 min',
      '120 min',
      '2 h',
      '25 h',
    ]);
  });
});
