import { backoff } from '../core/retry.ts';

/**
 * What happens after a failed delivery attempt: try again later (on the same
 * channel, or the next one after `failoverAfter` failures on this one), or
 * give up because the deadline has come. Pure; the dispatcher records it.
 */
export interface RetrySettings {
  readonly baseMs: number;
  readonly capMs: number;
  /** Failures on one channel before the next channel of the chain is tried. */
  readonly failoverAfter: number;
}

export interface DeliveryState {
  /** Attempts so far, the failed one included. */
  readonly attempts: number;
  readonly channelIndex: number;
  /** Failures on the current channel before this one. */
  readonly channelFailures: number;
  readonly chainLength: number;
  readonly deadline: Date;
}

export type AfterFailure =
  | {
      readonly kind: 'retry';
      readonly channelIndex: number;
      readonly channelFailures: number;
      readonly nextAttemptAt: Date;
    }
  | { readonly kind: 'give-up'; readonly reason: string };

export function afterFailure(
  state: DeliveryState,
  settings: RetrySettings,
  now: Date,
  random: () => number = Math.random,
): AfterFailure {
  if (now.getTime() >= state.deadline.getTime()) {
    return {
      kind: 'give-up',
      reason: `not delivered after ${state.attempts} attempts by its deadline ${state.deadline.toISOString()}`,
    };
  }
  const failures = state.channelFailures + 1;
  // The chain wraps around: after the last channel the first gets its turn again, until the deadline.
  const failover = failures >= settings.failoverAfter && state.chainLength > 1;
  const delay = failover ? 0 : backoff(state.attempts - 1, settings.baseMs, settings.capMs, random);
  // One last attempt at the deadline rather than none after a long backoff.
  const next = Math.min(now.getTime() + delay, state.deadline.getTime());
  return {
    kind: 'retry',
    channelIndex: failover ? (state.channelIndex + 1) % state.chainLength : state.channelIndex,
    channelFailures: failover ? 0 : failures,
    nextAttemptAt: new Date(next),
  };
}
