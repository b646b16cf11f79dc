/**
 * What the control database watchdog does next, as a pure function of what it
 * knew and what its probe just saw. An outage starts with the first failed
 * probe and ends with the first good one; while it lasts, a cluster Steward
 * runs itself is started again with capped exponential backoff (1 s, 2 s,
 * 4 s, … 30 s), and one that Steward only has a URL for is only reconnected to.
 */
export interface Backoff {
  readonly firstMs: number;
  readonly capMs: number;
}

export const restartBackoff: Backoff = { firstMs: 1000, capMs: 30_000 };

/** The wait before restart attempt `attempt` (1, 2, 3, …): the first after firstMs, doubling up to capMs. */
export function restartDelayMs(attempt: number, backoff: Backoff = restartBackoff): number {
  return Math.min(backoff.capMs, backoff.firstMs * 2 ** Math.max(0, attempt - 1));
}

export interface Outage {
  /** When the first probe failed (ms since the epoch). */
  readonly sinceMs: number;
  /** The first failure's message: what the 503s and the alert say. */
  readonly reason: string;
  /** Restart attempts so far (0 for a database Steward does not run). */
  readonly attempts: number;
  /** When the next restart attempt is due. */
  readonly nextAttemptAtMs: number;
}

export interface WatchState {
  readonly outage: Outage | undefined;
}

export type Probe = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export type WatchStep =
  /** Reachable, as before: nothing to do. */
  | { readonly kind: 'healthy' }
  /** The first failed probe: say so once. */
  | { readonly kind: 'lost'; readonly outage: Outage }
  /** Start the cluster again (it may already be running and recovering: the driver looks first). */
  | { readonly kind: 'restart'; readonly attempt: number; readonly nextInMs: number }
  /** Still unreachable, the next attempt is not due (or Steward does not run the database). */
  | { readonly kind: 'wait' }
  /** Reachable again: say so, raise the alert about the outage, let listeners and runners catch up. */
  | { readonly kind: 'recovered'; readonly outage: Outage; readonly downMs: number };

export const initialWatchState: WatchState = { outage: undefined };

export function planWatch(
  state: WatchState,
  probe: Probe,
  nowMs: number,
  options: { readonly canRestart: boolean; readonly backoff?: Backoff },
): { readonly state: WatchState; readonly steps: readonly WatchStep[] } {
  const { outage } = state;
  if (probe.ok) {
    if (!outage) return { state, steps: [{ kind: 'healthy' }] };
    return {
      state: initialWatchState,
      steps: [{ kind: 'recovered', outage, downMs: Math.max(0, nowMs - outage.sinceMs) }],
    };
  }
  const backoff = options.backoff ?? restartBackoff;
  const steps: WatchStep[] = [];
  let current = outage;
  if (!current) {
    // The first attempt waits firstMs too: a server that is only restarting (or a blip) needs no help.
    current = { sinceMs: nowMs, reason: probe.reason, attempts: 0, nextAttemptAtMs: nowMs + backoff.firstMs };
    steps.push({ kind: 'lost', outage: current });
  }
  if (options.canRestart && nowMs >= current.nextAttemptAtMs) {
    const attempt = current.attempts + 1;
    const nextInMs = restartDelayMs(attempt + 1, backoff);
    current = { ...current, attempts: attempt, nextAttemptAtMs: nowMs + nextInMs };
    steps.push({ kind: 'restart', attempt, nextInMs });
  } else if (steps.length === 0) {
    steps.push({ kind: 'wait' });
  }
  return { state: { outage: current }, steps };
}
