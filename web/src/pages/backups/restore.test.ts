import { describe, expect, it } from 'vitest';
import {
  restoreBody,
  restoreSteps,
  restoreTimings,
  restoreTookMs,
  restoreWindow,
  timeText,
} from './restore.ts';
import { de, en } from './messages.ts';
import { restorePhases } from './types.ts';

/** The restore form's pure rules: the window, the body the API takes, the steps shown. */
describe('restore form rules', () => {
  it('takes the widest window over the repositories, and none without a good backup', () => {
    expect(restoreWindow([])).toBeNull();
    expect(
      restoreWindow([
        {
          repo: 1,
          from: '2026-12-07T10:00:01.000Z',
          latestBackupAt: '2026-12-07T12:00:00.000Z',
          latestWal: null,
        },
        {
          repo: 2,
          from: '2026-12-06T10:00:01.000Z',
          latestBackupAt: '2026-12-07T11:00:00.000Z',
          latestWal: '000000010000000000000007',
        },
      ]),
    ).toEqual({
      from: '2026-12-06T10:00:01.000Z',
      latestBackupAt: '2026-12-07T12:00:00.000Z',
      latestWal: '000000010000000000000007',
    });
  });

  it('fills the time in whole seconds, UTC, as the API echoes it', () => {
    expect(timeText(new Date('2026-12-07T13:20:01.789Z'))).toBe('2026-12-07T13:20:01Z');
  });

  it('sends into or inPlace with confirm, exactly one, the values as typed', () => {
    const values = { toTime: ' 2026-12-07 14:00:00+01 ', into: ' copy ', confirm: 'prod' };
    expect(restoreBody({ ...values, target: 'into' })).toEqual({
      toTime: '2026-12-07 14:00:00+01',
      into: 'copy',
    });
    expect(restoreBody({ ...values, target: 'in-place' })).toEqual({
      toTime: '2026-12-07 14:00:00+01',
      inPlace: true,
      confirm: 'prod',
    });
  });

  it('marks the phases done, current, failed or to come; in place creates no stage', () => {
    const states = (r: Parameters<typeof restoreSteps>[0]) =>
      restoreSteps(r).map((s) => `${s.phase}:${s.state}`);
    expect(states({ mode: 'in-place', phase: 'copying', status: 'running' })).toEqual([
      'queued:done',
      'archiving:done',
      'restoring:done',
      'copying:current',
      'verifying:todo',
      'files:todo',
      'swapping:todo',
      'restarting:todo',
      'done:todo',
    ]);
    expect(states({ mode: 'into', phase: 'restoring', status: 'failed' }).slice(0, 4)).toEqual([
      'queued:done',
      'creating-stage:done',
      'archiving:done',
      'restoring:failed',
    ]);
    expect(
      restoreSteps({ mode: 'into', phase: 'done', status: 'succeeded' }).every((s) => s.state === 'done'),
    ).toBe(true);
  });

  it('measures the RTO from the request to the end, none while it runs', () => {
    expect(restoreTookMs({ createdAt: '2026-12-07T13:00:00.000Z', finishedAt: null })).toBeNull();
    expect(
      restoreTookMs({ createdAt: '2026-12-07T13:00:00.000Z', finishedAt: '2026-12-07T13:00:12.500Z' }),
    ).toBe(12_500);
  });

  it('lists the step timings in the order the steps ran, the total last', () => {
    expect(
      restoreTimings({
        copyMs: 122,
        swapMs: 91,
        filesMs: 11,
        totalMs: 7000,
        verifyMs: 97,
        restoreMs: 4000,
        waitMs: 5,
      }),
    ).toEqual([
      ['restore', 4000],
      ['copy', 122],
      ['verify', 97],
      ['files', 11],
      ['swap', 91],
      ['wait', 5],
      ['total', 7000],
    ]);
  });

  it('names every phase in English and German', () => {
    for (const phase of restorePhases) {
      expect(en[`restore.phase.${phase}`]).toBeTruthy();
      expect(de[`restore.phase.${phase}`]).toBeTruthy();
    }
  });
});
