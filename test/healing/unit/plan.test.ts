import { describe, expect, it } from 'vitest';
import {
  healTarget,
  planHeal,
  skipWorthRecording,
  targetKey,
  type HealLimits,
  type PastAttempt,
} from '../../../src/healing/plan.ts';

const now = new Date('2026-12-06T12:00:00Z');
const ago = (s: number): string => new Date(now.getTime() - s * 1000).toISOString();
const limits: HealLimits = {
  enabled: true,
  maxAttempts: 3,
  windowMs: 3_600_000,
  coolDownMs: 300_000,
  attemptTimeoutMs: 120_000,
};
const attempt = (startedAgo: number, p: Partial<PastAttempt> = {}): PastAttempt => ({
  action: 'restart-process',
  target: 'acme/prod',
  startedAt: ago(startedAgo),
  finishedAt: ago(startedAgo - 2),
  outcome: 'succeeded',
  ...p,
});
const plan = (history: PastAttempt[], l: Partial<HealLimits> = {}): ReturnType<typeof planHeal> =>
  planHeal({ action: 'restart-process', target: 'acme/prod', history, now, limits: { ...limits, ...l } });

describe('planHeal', () => {
  it.each([
    { name: 'no attempt yet', history: [], want: 'run' },
    { name: 'the last attempt ended 6 min ago', history: [attempt(362)], want: 'run' },
    {
      name: 'the last attempt ended 1 min ago: cooling down',
      history: [attempt(62)],
      want: 'skipped-cooling-down',
    },
    {
      name: 'cool-down counts from the end of the attempt, not its start',
      history: [attempt(400, { finishedAt: ago(250) })],
      want: 'skipped-cooling-down',
    },
    {
      name: 'three attempts within the hour: rate limited, even after the cool-down',
      history: [attempt(3000), attempt(2000), attempt(1000)],
      want: 'skipped-rate-limited',
    },
    {
      name: 'failed attempts count against the limit too',
      history: [attempt(3000, { outcome: 'failed' }), attempt(2000, { outcome: 'failed' }), attempt(1000)],
      want: 'skipped-rate-limited',
    },
    {
      name: 'the oldest of three left the window',
      history: [attempt(3700), attempt(2000), attempt(1000)],
      want: 'run',
    },
    {
      name: 'skips do not count as attempts',
      history: [
        attempt(3000),
        attempt(2000),
        attempt(1000, { outcome: 'skipped-cooling-down' }),
        attempt(900, { outcome: 'skipped-rate-limited' }),
      ],
      want: 'run',
    },
    {
      name: 'an attempt still running blocks a second one',
      history: [attempt(10, { finishedAt: null, outcome: 'running' })],
      want: 'skipped-in-progress',
    },
    {
      name: 'a running attempt older than the attempt timeout was cut short: it cools down like any other',
      history: [attempt(200, { finishedAt: null, outcome: 'running' })],
      want: 'skipped-cooling-down',
    },
    {
      name: 'attempts on another target or of another action do not count',
      history: [
        attempt(10, { target: 'acme/test' }),
        attempt(20, { action: 'restart-stage' }),
        attempt(30, { target: 'acme/prod/worker' }),
      ],
      want: 'run',
    },
  ])('$name: $want', ({ history, want }) => {
    const decision = plan(history);
    expect(decision.kind === 'run' ? 'run' : decision.outcome).toBe(want);
  });

  it('says until when it waits, and which setting decides', () => {
    const cooling = plan([attempt(62)]);
    expect(cooling).toMatchObject({
      kind: 'skip',
      until: new Date(now.getTime() - 60_000 + 300_000).toISOString(),
    });
    expect(cooling.kind === 'skip' && cooling.detail).toContain('healing.coolDownSeconds');
    const limited = plan([attempt(3000), attempt(2000), attempt(1000)]);
    expect(limited).toMatchObject({
      kind: 'skip',
      until: new Date(now.getTime() - 3_000_000 + 3_600_000).toISOString(),
    });
    expect(limited.kind === 'skip' && limited.detail).toContain('at most 3, healing.maxAttempts');
  });

  it('does nothing when healing is off', () => {
    expect(plan([], { enabled: false })).toMatchObject({ kind: 'skip', outcome: 'skipped-disabled' });
  });

  it('with a limit of one and no cool-down, a process that stays broken gets one restart per window', () => {
    const l = { maxAttempts: 1, coolDownMs: 0 };
    expect(plan([], l).kind).toBe('run');
    expect(plan([attempt(5)], l)).toMatchObject({ outcome: 'skipped-rate-limited' });
  });
});

describe('healTarget', () => {
  const alert = { tenant: 'acme', stage: 'prod', details: {} };
  it.each([
    { name: 'a stage', a: alert, action: 'restart-stage', key: 'acme/prod' },
    { name: "a stage's web processes", a: alert, action: 'restart-process', key: 'acme/prod' },
    {
      name: 'the process type the alert names',
      a: { ...alert, details: { process: 'worker' } },
      action: 'restart-process',
      key: 'acme/prod/worker',
    },
    {
      name: 'a process name that is not one is ignored',
      a: { ...alert, details: { process: '../../etc' } },
      action: 'restart-process',
      key: 'acme/prod',
    },
    {
      name: 'a backup is per stage, whatever process is named',
      a: { ...alert, details: { process: 'web' } },
      action: 'rerun-backup',
      key: 'acme/prod',
    },
  ] as const)('$name', ({ a, action, key }) => {
    const resolved = healTarget(a, action);
    expect('target' in resolved && targetKey(resolved.target)).toBe(key);
  });

  it('refuses an alert without a stage, and an unknown action', () => {
    expect(healTarget({ tenant: null, stage: null, details: {} }, 'restart-stage')).toEqual({
      problem: 'the alert names no tenant and stage, and restart-stage acts on a stage',
    });
    expect(healTarget(alert, 'reboot' as never)).toMatchObject({
      problem: expect.stringContaining('reboot'),
    });
  });
});

describe('skipWorthRecording', () => {
  const skip = { kind: 'skip', outcome: 'skipped-rate-limited', detail: '', until: null } as const;
  it('records a skip once per reason, not at every pass', () => {
    expect(skipWorthRecording(skip, undefined)).toBe(true);
    expect(skipWorthRecording(skip, { outcome: 'succeeded' })).toBe(true);
    expect(skipWorthRecording(skip, { outcome: 'skipped-cooling-down' })).toBe(true);
    expect(skipWorthRecording(skip, { outcome: 'skipped-rate-limited' })).toBe(false);
  });
});
