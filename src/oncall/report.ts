import { InputError, showValue } from '../core/errors.ts';

/**
 * Reaction times per month: how long from an alert firing to the first
 * notification delivered, to its acknowledgement and to its resolution, and
 * how many met the target a "reaction within 15 minutes" promise is judged
 * by. Pure.
 */
export interface AlertTimes {
  readonly id: string;
  readonly firedAt: Date;
  readonly firstNotifiedAt: Date | null;
  readonly acknowledgedAt: Date | null;
  readonly resolvedAt: Date | null;
}

export interface Stat {
  /** Alerts that reached this point. */
  readonly count: number;
  readonly medianSeconds: number | null;
  readonly p90Seconds: number | null;
  readonly maxSeconds: number | null;
}

export interface ReactionReport {
  readonly month: string;
  readonly from: string;
  readonly until: string;
  readonly alerts: number;
  readonly targetSeconds: number;
  readonly toFirstNotification: Stat;
  readonly toAcknowledgement: Stat;
  readonly toResolution: Stat;
  /** Acknowledged within the target (an alert resolved before anyone acknowledged counts by its resolution). */
  readonly metTarget: number;
  readonly missedTarget: number;
}

/** "2026-12" → its first instant and the next month's, in UTC. */
export function monthSpan(month: string): { from: Date; until: Date } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) {
    throw new InputError(`field "month": ${showValue(month)} is not a month; use YYYY-MM, such as 2026-12`, {
      field: 'month',
    });
  }
  const year = Number(m[1]);
  const index = Number(m[2]) - 1;
  return { from: new Date(Date.UTC(year, index, 1)), until: new Date(Date.UTC(year, index + 1, 1)) };
}

/** The nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
}

function stat(values: number[]): Stat {
  const sorted = values.sort((a, b) => a - b);
  return {
    count: sorted.length,
    medianSeconds: percentile(sorted, 50),
    p90Seconds: percentile(sorted, 90),
    maxSeconds: sorted.at(-1) ?? null,
  };
}

const seconds = (from: Date, to: Date | null): number | undefined =>
  to === null ? undefined : Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));

export function reactionReport(
  month: string,
  alerts: readonly AlertTimes[],
  targetSeconds: number,
  now: Date,
): ReactionReport {
  const { from, until } = monthSpan(month);
  const inMonth = alerts.filter(
    (a) => a.firedAt.getTime() >= from.getTime() && a.firedAt.getTime() < until.getTime(),
  );
  const pick = (f: (a: AlertTimes) => Date | null): number[] =>
    inMonth.map((a) => seconds(a.firedAt, f(a))).filter((s): s is number => s !== undefined);
  let met = 0;
  let missed = 0;
  for (const a of inMonth) {
    const reacted = seconds(a.firedAt, a.acknowledgedAt ?? a.resolvedAt);
    if (reacted !== undefined) {
      if (reacted <= targetSeconds) met++;
      else missed++;
    } else if ((now.getTime() - a.firedAt.getTime()) / 1000 > targetSeconds) {
      // Still unanswered past the target: missed already.
      missed++;
    }
  }
  return {
    month,
    from: from.toISOString(),
    until: until.toISOString(),
    alerts: inMonth.length,
    targetSeconds,
    toFirstNotification: stat(pick((a) => a.firstNotifiedAt)),
    toAcknowledgement: stat(pick((a) => a.acknowledgedAt)),
    toResolution: stat(pick((a) => a.resolvedAt)),
    metTarget: met,
    missedTarget: missed,
  };
}
