/**
 * A check's results as time: the pure state machine from probe results to
 * state intervals. No I/O; the runner feeds it and stores what it returns.
 */
export const checkStates = ['up', 'degraded', 'down', 'unknown'] as const;
export type CheckState = (typeof checkStates)[number];

/** What one probe found: `degraded` when it answered but not fully (slow, or one of several targets failed). */
export const probeOutcomes = ['ok', 'degraded', 'fail'] as const;
export type ProbeOutcome = (typeof probeOutcomes)[number];

export interface ProbeResult {
  /** When the probe finished (ISO 8601). */
  readonly at: string;
  readonly outcome: ProbeOutcome;
  readonly latencyMs: number;
  /** What was seen, for people: "GET /api/ping answered 503", "connected as the stage role". */
  readonly detail: string;
}

/** How many results in a row change the state: explicit, so that an SLA report can say what "down" meant. */
export interface Thresholds {
  /** Consecutive failures before a check is down. */
  readonly failuresToDown: number;
  /** Consecutive degraded-or-failed results before an up check is degraded. */
  readonly badToDegraded: number;
  /** Consecutive good results before a degraded or down check is up again. */
  readonly successesToUp: number;
  /** A probe later than this many intervals after the previous one means Steward was not probing: the gap is unknown. */
  readonly lateIntervals: number;
}

export const defaultThresholds: Thresholds = {
  failuresToDown: 2,
  badToDegraded: 2,
  successesToUp: 1,
  lateIntervals: 2,
};

/** Where a check stands between probes: its open interval and the results that may change it. */
export interface CheckProgress {
  readonly state: CheckState;
  /** Start of the open interval (ISO 8601). */
  readonly since: string;
  readonly lastProbeAt: string | null;
  /** The newest results, newest last, at most as many as the largest threshold. */
  readonly recent: readonly ProbeResult[];
}

/** One change to the intervals: close the open one at `at`, open `state` at `at`. */
export interface StateChange {
  readonly at: string;
  readonly from: CheckState;
  readonly to: CheckState;
  /** The probe results that caused it (for unknown: why Steward was not probing). */
  readonly cause: StateCause;
}

export type StateCause =
  | { readonly kind: 'probes'; readonly results: readonly ProbeResult[] }
  | { readonly kind: 'not-probing'; readonly reason: string; readonly lastProbeAt: string | null };

/** A check nobody has probed yet is unknown from its creation. */
export function initialProgress(createdAt: string): CheckProgress {
  return { state: 'unknown', since: createdAt, lastProbeAt: null, recent: [] };
}

/**
 * Steward was not probing from `lastProbeAt` (it stopped, or fell behind):
 * close what was open there and open unknown. Unknown stays unknown.
 */
export function notProbing(
  progress: CheckProgress,
  reason: string,
): {
  progress: CheckProgress;
  changes: StateChange[];
} {
  if (progress.state === 'unknown') return { progress, changes: [] };
  const at = progress.lastProbeAt ?? progress.since;
  const change: StateChange = {
    at,
    from: progress.state,
    to: 'unknown',
    cause: { kind: 'not-probing', reason, lastProbeAt: progress.lastProbeAt },
  };
  return {
    progress: { state: 'unknown', since: at, lastProbeAt: progress.lastProbeAt, recent: [] },
    changes: [change],
  };
}

/**
 * One probe result applied: a late probe first records the gap as unknown,
 * then the result moves the state once a threshold is met. Leaving unknown,
 * the first result decides (there is no earlier evidence to outweigh it).
 */
export function applyResult(
  progress: CheckProgress,
  result: ProbeResult,
  intervalMs: number,
  thresholds: Thresholds = defaultThresholds,
): { progress: CheckProgress; changes: StateChange[] } {
  const changes: StateChange[] = [];
  let current = progress;
  if (current.lastProbeAt !== null) {
    const gapMs = Date.parse(result.at) - Date.parse(current.lastProbeAt);
    if (gapMs > thresholds.lateIntervals * intervalMs) {
      const gap = notProbing(
        current,
        `no probe for ${Math.round(gapMs / 1000)} s (more than ${thresholds.lateIntervals} intervals of ${intervalMs / 1000} s)`,
      );
      changes.push(...gap.changes);
      current = gap.progress;
    }
  }
  const keep = Math.max(thresholds.failuresToDown, thresholds.badToDegraded, thresholds.successesToUp);
  const recent = [...current.recent, result].slice(-keep);
  const target = targetState(current.state, recent, thresholds);
  if (target === current.state) {
    return { progress: { ...current, lastProbeAt: result.at, recent }, changes };
  }
  changes.push({
    at: result.at,
    from: current.state,
    to: target,
    cause: { kind: 'probes', results: streakOf(recent, target) },
  });
  return { progress: { state: target, since: result.at, lastProbeAt: result.at, recent }, changes };
}

function targetState(state: CheckState, recent: readonly ProbeResult[], t: Thresholds): CheckState {
  const newest = recent.at(-1);
  if (!newest) return state;
  if (state === 'unknown')
    return newest.outcome === 'ok' ? 'up' : newest.outcome === 'fail' ? 'down' : 'degraded';
  const failures = trailing(recent, (r) => r.outcome === 'fail');
  const bad = trailing(recent, (r) => r.outcome !== 'ok');
  const good = trailing(recent, (r) => r.outcome === 'ok');
  if (failures >= t.failuresToDown) return 'down';
  if (state === 'down') {
    // Down stays down until enough good results; a degraded answer after down is better, not up.
    if (good >= t.successesToUp) return 'up';
    return bad >= t.badToDegraded && newest.outcome === 'degraded' ? 'degraded' : 'down';
  }
  if (good >= t.successesToUp && state !== 'up') return 'up';
  if (state === 'up' && bad >= t.badToDegraded) return 'degraded';
  return state;
}

function trailing(recent: readonly ProbeResult[], match: (r: ProbeResult) => boolean): number {
  let n = 0;
  for (let i = recent.length - 1; i >= 0 && match(recent[i] as ProbeResult); i--) n++;
  return n;
}

/** The results behind a change: the streak that met the threshold. */
function streakOf(recent: readonly ProbeResult[], to: CheckState): ProbeResult[] {
  const n =
    to === 'up'
      ? trailing(recent, (r) => r.outcome === 'ok')
      : to === 'down'
        ? trailing(recent, (r) => r.outcome === 'fail')
        : trailing(recent, (r) => r.outcome !== 'ok');
  return recent.slice(-Math.max(1, n));
}
