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

/** One alert's figures: the evidence behind the month's. */
export interface AlertReaction {
  readonly id: string;
  readonly firedAt: string;
  readonly toFirstNotificationSeconds: number | null;
  readonly toAcknowledgementSeconds: number | null;
  readonly toResolutionSeconds: number | null;
  /** Acknowledged (or resolved) within the target; null while still open inside it. */
  readonly metTarget: boolean | null;
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
  readonly perAlert: readonly AlertReaction[];
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
  const perAlert = inMonth.map((a): AlertReaction => {
    const reacted = seconds(a.firedAt, a.acknowledgedAt ?? a.resolvedAt);
    const metTarget =
      reacted !== undefined
        ? reacted <= targetSeconds
        : // Still unanswered past the target: missed already.
          (now.getTime() - a.firedAt.getTime()) / 1000 > targetSeconds
          ? false
          : null;
    return {
      id: a.id,
      firedAt: a.firedAt.toISOString(),
      toFirstNotificationSeconds: seconds(a.firedAt, a.firstNotifiedAt) ?? null,
      toAcknowledgementSeconds: seconds(a.firedAt, a.acknowledgedAt) ?? null,
      toResolutionSeconds: seconds(a.firedAt, a.resolvedAt) ?? null,
      metTarget,
    };
  });
  return {
    month,
    from: from.toISOString(),
    until: until.toISOString(),
    alerts: inMonth.length,
    targetSeconds,
    toFirstNotification: stat(pick((a) => a.firstNotifiedAt)),
    toAcknowledgement: stat(pick((a) => a.acknowledgedAt)),
    toResolution: stat(pick((a) => a.resolvedAt)),
    metTarget: perAlert.filter((a) => a.metTarget === true).length,
    missedTarget: perAlert.filter((a) => a.metTarget === false).length,
    perAlert,
  };
}
