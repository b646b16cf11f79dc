import type { AlertStatus } from '../alerts/contract.ts';
import { InputError, showValue } from '../core/errors.ts';
import { checkMember, checkScheduleName } from './schedule.ts';

/**
 * Escalation policies and their planner. Pure. A policy is steps, each
 * `[after N s|m|h] notify <target>`, the delay counted from the step before
 * (the first from the alert's fire time), run once and then `repeat` more
 * rounds until the alert is acknowledged or resolved.
 */
export type StepTarget =
  | { readonly kind: 'schedule'; readonly schedule: string }
  | { readonly kind: 'operators'; readonly operators: readonly string[] }
  | { readonly kind: 'channel'; readonly channel: string }
  /** Every enabled notification channel (the outbox's default route). */
  | { readonly kind: 'channels' }
  | { readonly kind: 'owners' };

export interface Step {
  readonly afterSeconds: number;
  readonly target: StepTarget;
}

export interface Policy {
  readonly name: string;
  readonly steps: readonly Step[];
  /** Rounds after the first. */
  readonly repeat: number;
}

/** What a policy may name, as they exist now. */
export interface Known {
  readonly schedules: readonly string[];
  readonly operators: readonly string[];
  readonly channels: readonly string[];
}

const stepHelp =
  'use "[after N s|m|h] notify schedule <name> | operators <a,b> | channel <name> | channels | owners", such as "after 15m notify owners"';
const maxDelaySeconds = 7 * 24 * 3600;

export function describeStep(step: Step): string {
  const after = step.afterSeconds > 0 ? `after ${formatDelay(step.afterSeconds)} ` : '';
  const t = step.target;
  const what =
    t.kind === 'schedule'
      ? `schedule ${t.schedule}`
      : t.kind === 'operators'
        ? `operators ${t.operators.join(',')}`
        : t.kind === 'channel'
          ? `channel ${t.channel}`
          : t.kind;
  return `${after}notify ${what}`;
}

export function formatDelay(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** One step as typed on the command line, checked against what exists. */
export function parseStep(text: string, known: Known, field = 'steps'): Step {
  const bad = (why: string): InputError =>
    new InputError(`field "${field}": ${showValue(text)} ${why}; ${stepHelp}`, { field });
  const m =
    /^\s*(?:after\s+(\d{1,6})\s*([smh])\s+)?notify\s+(schedule|operators?|channels?|owners)(?:\s+(\S+))?\s*$/i.exec(
      text,
    );
  if (!m) throw bad('is not a step');
  const amount = Number(m[1] ?? 0);
  const unit = (m[2] ?? 's').toLowerCase();
  const afterSeconds = amount * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
  if (afterSeconds > maxDelaySeconds) throw bad('waits too long (at most 7 days)');
  const kind = (m[3] ?? '').toLowerCase();
  const arg = m[4];
  if (kind === 'owners' || kind === 'channels') {
    if (arg !== undefined) throw bad(`names someone after "${kind}"`);
    return { afterSeconds, target: { kind } };
  }
  if (arg === undefined) throw bad(`names no ${kind}`);
  if (kind === 'schedule') {
    const schedule = checkScheduleName(arg, field);
    if (!known.schedules.includes(schedule)) {
      throw new InputError(
        `field "${field}": no schedule ${showValue(schedule)}; schedules are: ${known.schedules.join(', ') || '(none)'}`,
        { field },
      );
    }
    return { afterSeconds, target: { kind: 'schedule', schedule } };
  }
  if (kind === 'channel') {
    if (!known.channels.includes(arg)) {
      throw new InputError(
        `field "${field}": no notification channel ${showValue(arg)}; channels are: ${known.channels.join(', ') || '(none)'}`,
        { field },
      );
    }
    return { afterSeconds, target: { kind: 'channel', channel: arg } };
  }
  const operators = arg.split(',').map((o) => checkMember(o, known.operators, field));
  return { afterSeconds, target: { kind: 'operators', operators: [...new Set(operators)] } };
}

export function checkPolicy(
  input: { name: string; steps: readonly string[]; repeat?: number | undefined },
  known: Known,
): Policy {
  const name = checkScheduleName(input.name, 'name');
  if (input.steps.length === 0 || input.steps.length > 20) {
    throw new InputError(`field "steps": give 1 to 20 steps; ${stepHelp}`, { field: 'steps' });
  }
  const steps = input.steps.map((s) => parseStep(s, known));
  const repeat = input.repeat ?? 0;
  if (!Number.isInteger(repeat) || repeat < 0 || repeat > 10) {
    throw new InputError(
      `field "repeat": ${showValue(input.repeat)} is not accepted; use a whole number of extra rounds from 0 to 10`,
      { field: 'repeat' },
    );
  }
  if (repeat > 0 && roundGap(steps) === 0) {
    throw new InputError(
      `field "repeat": ${repeat} rounds would page all at once; give a step a delay ("after 15m notify …")`,
      { field: 'repeat' },
    );
  }
  return { name, steps, repeat };
}

/** The wait before a round starts again: the first step's own delay, or else the longest one. */
function roundGap(steps: readonly Step[]): number {
  const first = steps[0]?.afterSeconds ?? 0;
  return first > 0 ? first : Math.max(0, ...steps.map((s) => s.afterSeconds));
}

export interface Page {
  readonly round: number;
  readonly step: number;
  /** Seconds after the alert fired. */
  readonly offsetSeconds: number;
  readonly target: StepTarget;
}

/** Every page of a policy in order, with when it is due. */
export function timeline(policy: Policy): Page[] {
  const pages: Page[] = [];
  const gap = roundGap(policy.steps);
  let t = 0;
  for (let round = 0; round <= policy.repeat; round++) {
    policy.steps.forEach((step, index) => {
      t += round > 0 && index === 0 ? gap : step.afterSeconds;
      pages.push({ round, step: index, offsetSeconds: t, target: step.target });
    });
  }
  return pages;
}

export function pageId(page: { round: number; step: number }): string {
  return `${page.round}.${page.step}`;
}

export interface EscalationState {
  readonly firedAt: Date;
  readonly status: AlertStatus;
  /** pageId()s already enqueued. */
  readonly sent: ReadonlySet<string>;
}

export type EscalationPlan =
  | { readonly kind: 'page'; readonly due: readonly Page[]; readonly nextAt: Date | null }
  | { readonly kind: 'wait'; readonly nextAt: Date }
  | { readonly kind: 'done'; readonly reason: string };

/**
 * What to do now: the pages due and not yet sent, and when the next one is.
 * Acknowledged or resolved alerts page nobody more.
 */
export function planEscalation(policy: Policy, state: EscalationState, now: Date): EscalationPlan {
  if (state.status === 'acknowledged' || state.status === 'resolved') {
    return { kind: 'done', reason: `the alert is ${state.status}` };
  }
  const fired = state.firedAt.getTime();
  const open = timeline(policy).filter((p) => !state.sent.has(pageId(p)));
  const due = open.filter((p) => fired + p.offsetSeconds * 1000 <= now.getTime());
  const later = open.find((p) => fired + p.offsetSeconds * 1000 > now.getTime());
  const nextAt = later ? new Date(fired + later.offsetSeconds * 1000) : null;
  if (due.length > 0) return { kind: 'page', due, nextAt };
  if (nextAt) return { kind: 'wait', nextAt };
  return { kind: 'done', reason: 'every step of the policy was paged' };
}
