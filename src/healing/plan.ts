/**
 * Self-healing decisions (issue 10 part 6): pure functions over plain data,
 * table-tested without I/O. Given an alert's action, its target and the
 * attempts already made on that target, decide whether to act now, so that
 * healing cannot loop: a rate limit per target and window, a cool-down after
 * each attempt, and never two attempts on one target at once.
 */
import { healActions, type AlertView, type HealAction } from '../alerts/contract.ts';

/** How an attempt ended; `running` until it does. Skips are kept too: they say why nothing was done. */
export const healOutcomes = [
  'running',
  'succeeded',
  'failed',
  'interrupted',
  'skipped-disabled',
  'skipped-rate-limited',
  'skipped-cooling-down',
  'skipped-in-progress',
  'skipped-no-target',
] as const;
export type HealOutcome = (typeof healOutcomes)[number];
export type SkipOutcome = Extract<HealOutcome, `skipped-${string}`>;

/** What an action works on: a stage, or some of its processes (process null: the stage's web processes). */
export interface HealTarget {
  readonly tenant: string;
  readonly stage: string;
  readonly process: string | null;
}

/** One earlier attempt on the same action and target, as stored. */
export interface PastAttempt {
  readonly action: HealAction;
  /** The target's key (targetKey). */
  readonly target: string;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly outcome: HealOutcome;
}

/** Resolved from config `healing.*`. */
export interface HealLimits {
  readonly enabled: boolean;
  /** At most this many attempts of one action on one target within windowMs. */
  readonly maxAttempts: number;
  readonly windowMs: number;
  /** No attempt until this long after the previous one ended. */
  readonly coolDownMs: number;
  /** An attempt still `running` after this long was cut short (Steward stopped): it no longer blocks the next. */
  readonly attemptTimeoutMs: number;
}

export type HealDecision =
  | { readonly kind: 'run' }
  | {
      readonly kind: 'skip';
      readonly outcome: SkipOutcome;
      readonly detail: string;
      /** When an attempt would be allowed again (rate limit, cool-down), ISO 8601. */
      readonly until: string | null;
    };

export interface HealPlanInput {
  readonly action: HealAction;
  readonly target: string;
  readonly history: readonly PastAttempt[];
  readonly now: Date;
  readonly limits: HealLimits;
}

const processName = /^[a-z][a-z0-9_-]{0,39}$/;

/**
 * What an alert's action works on: its tenant and stage, and for
 * restart-process the process type named in its details (`details.process`),
 * else the stage's web processes. Undefined, with why, when the alert names
 * no stage (an alert from outside, or a system-wide check).
 */
export function healTarget(
  alert: Pick<AlertView, 'tenant' | 'stage' | 'details'>,
  action: HealAction,
): { readonly target: HealTarget } | { readonly problem: string } {
  if (!healActions.includes(action)) {
    return { problem: `${JSON.stringify(action)} is not a heal action (${healActions.join(', ')})` };
  }
  if (!alert.tenant || !alert.stage) {
    return { problem: `the alert names no tenant and stage, and ${action} acts on a stage` };
  }
  const named = alert.details.process;
  const process =
    action === 'restart-process' && typeof named === 'string' && processName.test(named) ? named : null;
  return { target: { tenant: alert.tenant, stage: alert.stage, process } };
}

/** The key limits are counted by: `acme/prod`, or `acme/prod/worker` for one process type. */
export function targetKey(target: HealTarget): string {
  return `${target.tenant}/${target.stage}${target.process ? `/${target.process}` : ''}`;
}

/** An attempt that acted (or was acting): these count against the rate limit and start a cool-down. */
export function acted(attempt: PastAttempt): boolean {
  return !attempt.outcome.startsWith('skipped-');
}

/**
 * Run, or skip and say why. Checked in this order: healing off; an attempt
 * on the target still running; the rate limit; the cool-down after the last
 * attempt.
 */
export function planHeal(input: HealPlanInput): HealDecision {
  const { limits, now } = input;
  const nowMs = now.getTime();
  if (!limits.enabled) {
    return {
      kind: 'skip',
      outcome: 'skipped-disabled',
      detail: 'self-healing is off (healing.enabled: false)',
      until: null,
    };
  }
  const mine = input.history
    .filter((a) => a.action === input.action && a.target === input.target && acted(a))
    .sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const running = mine.find(
    (a) => a.outcome === 'running' && nowMs - Date.parse(a.startedAt) < limits.attemptTimeoutMs,
  );
  if (running) {
    return {
      kind: 'skip',
      outcome: 'skipped-in-progress',
      detail: `an attempt to ${input.action} ${input.target} started at ${running.startedAt} is still running`,
      until: null,
    };
  }
  const inWindow = mine.filter((a) => nowMs - Date.parse(a.startedAt) < limits.windowMs);
  const oldest = inWindow[0];
  if (oldest && inWindow.length >= limits.maxAttempts) {
    const until = new Date(Date.parse(oldest.startedAt) + limits.windowMs).toISOString();
    return {
      kind: 'skip',
      outcome: 'skipped-rate-limited',
      detail: `${inWindow.length} attempts to ${input.action} ${input.target} within ${minutes(limits.windowMs)} (at most ${limits.maxAttempts}, healing.maxAttempts); the next is allowed at ${until}`,
      until,
    };
  }
  const last = mine.at(-1);
  if (last) {
    const endedMs = Date.parse(last.finishedAt ?? last.startedAt);
    if (nowMs - endedMs < limits.coolDownMs) {
      const until = new Date(endedMs + limits.coolDownMs).toISOString();
      return {
        kind: 'skip',
        outcome: 'skipped-cooling-down',
        detail: `the last attempt to ${input.action} ${input.target} ended at ${new Date(endedMs).toISOString()}; cooling down for ${seconds(limits.coolDownMs)} (healing.coolDownSeconds), until ${until}`,
        until,
      };
    }
  }
  return { kind: 'run' };
}

/**
 * Skips are recorded as evidence once per alert and reason, not at every
 * pass: true when the newest record of this alert and action is not already
 * the same skip.
 */
export function skipWorthRecording(
  decision: { readonly outcome: SkipOutcome },
  newestOfAlert: Pick<PastAttempt, 'outcome'> | undefined,
): boolean {
  return newestOfAlert?.outcome !== decision.outcome;
}

function minutes(ms: number): string {
  const m = ms / 60_000;
  return Number.isInteger(m) ? `${m} min` : `${Math.round(ms / 1000)} s`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
