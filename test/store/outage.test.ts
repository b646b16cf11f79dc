import { describe, expect, it } from 'vitest';
import { isConnectionLoss } from '../../src/core/retry.ts';
import { initialWatchState, planWatch, restartDelayMs, type WatchState } from '../../src/store/outage.ts';

const down = { ok: false, reason: 'connect ECONNREFUSED 127.0.0.1:54320' } as const;
const up = { ok: true } as const;

/** Runs the planner over probes taken at the given times; returns every step's kind (and attempt). */
function run(
  probes: readonly (readonly [number, typeof down | typeof up])[],
  canRestart = true,
): { steps: string[]; state: WatchState } {
  let state = initialWatchState;
  const steps: string[] = [];
  for (const [at, probe] of probes) {
    const planned = planWatch(state, probe, at, { canRestart });
    state = planned.state;
    for (const step of planned.steps) {
      steps.push(
        step.kind === 'restart'
          ? `${at}: restart ${step.attempt}`
          : step.kind === 'recovered'
            ? `${at}: recovered after ${step.downMs}`
            : `${at}: ${step.kind}`,
      );
    }
  }
  return { steps, state };
}

describe('the control database watchdog planner', () => {
  it('waits 1 s, 2 s, 4 s … between restart attempts, at most 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10].map((n) => restartDelayMs(n))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it('says once that the database is lost, restarts with backoff, and reports the outage when it answers', () => {
    const probes = [0, 500, 1000, 1500, 2000, 3000, 4000, 5000, 7000, 7500].map(
      (at) => [at, at === 7500 ? up : down] as const,
    );
    const { steps, state } = run([[-2000, up], ...probes]);
    expect(steps).toEqual([
      '-2000: healthy',
      '0: lost',
      '500: wait',
      '1000: restart 1',
      '1500: wait',
      '2000: wait',
      '3000: restart 2',
      '4000: wait',
      '5000: wait',
      '7000: restart 3',
      '7500: recovered after 7500',
    ]);
    expect(state.outage).toBeUndefined();
  });

  it('only reconnects to a database it does not run, and keeps the first reason', () => {
    const { steps, state } = run(
      [
        [0, down],
        [5000, { ok: false, reason: 'the database system is starting up' } as unknown as typeof down],
        [60_000, down],
      ],
      false,
    );
    expect(steps).toEqual(['0: lost', '5000: wait', '60000: wait']);
    expect(state.outage).toMatchObject({ sinceMs: 0, reason: down.reason, attempts: 0 });
  });

  it('tells a lost server from a statement that failed', () => {
    const lost = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1'), { code: 'ECONNREFUSED' })]),
      new Error('query failed', { cause: new Error('Connection terminated') }),
    ];
    const notLost = [
      Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }),
      Object.assign(new Error('could not serialize access'), { code: '40001' }),
      new Error('tenant acme not found'),
      'a string',
      undefined,
    ];
    expect(lost.map((e) => isConnectionLoss(e))).toEqual(lost.map(() => true));
    expect(notLost.map((e) => isConnectionLoss(e))).toEqual(notLost.map(() => false));
  });
});
