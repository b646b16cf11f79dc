/**
 * The watchdog's judgement (issue 10 part 9): pure functions from what was
 * measured to the conditions that hold. No I/O and no clock: the driver
 * measures, keeps the recent measurements and raises or clears alerts.
 */
import type { AlertSeverity } from '../alerts/contract.ts';
import type { WatchedLoop } from '../metrics/index.ts';

/** Every condition the watchdog raises; each is one alert (its dedup key) while it holds. */
export const watchdogConditions = [
  'stalled-checks',
  'stalled-jobs',
  'stalled-notifications',
  'job-backlog',
  'outbox-backlog',
  'checks-late',
] as const;
export type WatchdogCondition = (typeof watchdogConditions)[number];

export interface LoopMeasurement {
  readonly loop: WatchedLoop;
  /** Seconds since the loop last made progress (a pass, a probe, a job, a delivery attempt). */
  readonly idleSeconds: number;
  /** After this long without progress the loop is stalled (its ticks times watchdog.stalledTicks, at least its longest unit of work). */
  readonly stalledAfterSeconds: number;
  /** Whether it has anything to do: a loop that waits for work is idle, not stalled. */
  readonly hasWork: boolean;
}

export interface Measurement {
  readonly loops: readonly LoopMeasurement[];
  readonly jobs: {
    readonly waiting: number;
    readonly running: number;
    readonly oldestWaitingSeconds: number | null;
  };
  readonly outbox: { readonly pending: number; readonly oldestPendingSeconds: number | null };
  readonly checks: { readonly due: number; readonly mostOverdueSeconds: number };
}

export interface WatchdogThresholds {
  readonly outboxOldestSeconds: number;
  readonly jobOldestSeconds: number;
  /** A backlog that grew at each of this many measurements in a row is growing... */
  readonly growingMeasurements: number;
  /** ...when it holds at least this many. */
  readonly growingMinimum: number;
  readonly checksLateSeconds: number;
}

export interface Finding {
  readonly condition: WatchdogCondition;
  readonly severity: AlertSeverity;
  readonly summary: string;
  readonly details: Readonly<Record<string, unknown>>;
}

const loopNames: Record<WatchedLoop, string> = {
  checks: 'The check runner',
  jobs: 'The job runner',
  notifications: 'The notification dispatcher',
};

/** Seconds as people read them: 2.5 s, 45 s, 200 s, 12 min, 3 h. */
export function showSeconds(seconds: number): string {
  if (seconds < 10) return `${Math.round(seconds * 10) / 10} s`;
  if (seconds < 300) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/**
 * Whether a count grew at each of the last `times` measurements (oldest
 * first, the current one last), ending at or above `minimum`.
 */
export function growing(counts: readonly number[], times: number, minimum: number): boolean {
  if (counts.length < times + 1) return false;
  const recent = counts.slice(-(times + 1));
  if ((recent.at(-1) ?? 0) < minimum) return false;
  return recent.every((n, i) => i === 0 || n > (recent[i - 1] ?? Infinity));
}

/** The conditions that hold now, given the recent measurements (oldest first, the current one last). */
export function evaluate(history: readonly Measurement[], t: WatchdogThresholds): Finding[] {
  const now = history.at(-1);
  if (!now) return [];
  const findings: Finding[] = [];
  for (const loop of now.loops) {
    if (!loop.hasWork || loop.idleSeconds <= loop.stalledAfterSeconds) continue;
    const waiting =
      loop.loop === 'jobs' ? ` while ${now.jobs.waiting} jobs wait (${now.jobs.running} running)` : '';
    findings.push({
      condition: `stalled-${loop.loop}`,
      severity: 'critical',
      summary: `${loopNames[loop.loop]} made no progress for ${showSeconds(loop.idleSeconds)}${waiting} (stalled after ${showSeconds(loop.stalledAfterSeconds)})`,
      details: {
        loop: loop.loop,
        idleSeconds: loop.idleSeconds,
        stalledAfterSeconds: loop.stalledAfterSeconds,
      },
    });
  }
  const backlog = (
    condition: 'job-backlog' | 'outbox-backlog',
    what: string,
    counts: readonly number[],
    oldest: number | null,
    limit: number,
  ): void => {
    const current = counts.at(-1) ?? 0;
    const old = oldest !== null && oldest > limit;
    const grows = growing(counts, t.growingMeasurements, t.growingMinimum);
    if (!old && !grows) return;
    const reasons = [
      ...(old ? [`the oldest has waited ${showSeconds(oldest)} (limit ${showSeconds(limit)})`] : []),
      ...(grows
        ? [
            `it grew at each of the last ${t.growingMeasurements} measurements, from ${counts.at(-1 - t.growingMeasurements)} to ${current}`,
          ]
        : []),
    ];
    findings.push({
      condition,
      severity: 'warning',
      summary: `${what} backed up: ${current} waiting; ${reasons.join('; ')}`,
      details: { waiting: current, oldestSeconds: oldest, limitSeconds: limit, growing: grows },
    });
  };
  backlog(
    'job-backlog',
    'The job queue',
    history.map((m) => m.jobs.waiting),
    now.jobs.oldestWaitingSeconds,
    t.jobOldestSeconds,
  );
  backlog(
    'outbox-backlog',
    'The notification outbox',
    history.map((m) => m.outbox.pending),
    now.outbox.oldestPendingSeconds,
    t.outboxOldestSeconds,
  );
  if (now.checks.mostOverdueSeconds > t.checksLateSeconds) {
    findings.push({
      condition: 'checks-late',
      severity: 'warning',
      summary: `Checks are late: the most overdue was due ${showSeconds(now.checks.mostOverdueSeconds)} ago (limit ${showSeconds(t.checksLateSeconds)}); ${now.checks.due} due`,
      details: {
        due: now.checks.due,
        mostOverdueSeconds: now.checks.mostOverdueSeconds,
        limitSeconds: t.checksLateSeconds,
      },
    });
  }
  return findings;
}
