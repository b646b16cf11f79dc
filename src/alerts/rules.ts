import { z } from 'zod';
import { builtinChecks, checkKinds, parseDurationSeconds } from '../monitoring/specs.ts';
import type { CheckState } from '../monitoring/states.ts';
import { alertSeverities, healActions, type AlertSeverity, type HealAction } from './contract.ts';

/**
 * Alert rules over check states, and the pure evaluator from where a check
 * stands to what its alert does. No I/O: the alert service feeds it each
 * state change (and, now and then, every check's current state) and carries
 * out the steps it returns.
 */
export const ruleConditions = ['down', 'degraded-or-down'] as const;
export type RuleCondition = (typeof ruleConditions)[number];

const duration = (field: string) =>
  z.union([z.string(), z.number()]).transform((value, ctx) => {
    try {
      const seconds = parseDurationSeconds(field, value);
      if (seconds > 7 * 86_400) throw new Error(`field "${field}": ${value} is longer than 7 days`);
      return seconds;
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

export const alertRuleSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'use lower-case letters, digits and "-"'),
    /** Which checks it covers; every field left out matches anything. */
    match: z
      .object({
        tenant: z.string().min(1).max(100).optional(),
        stage: z.string().min(1).max(100).optional(),
        kind: z.enum(checkKinds).optional(),
        /** A built-in check's role, or `operator` for operators' own checks. */
        builtin: z.enum([...builtinChecks, 'operator']).optional(),
      })
      .strict()
      .prefault({}),
    condition: z.enum(ruleConditions).default('down'),
    /** How long the condition must hold before people are told; 0: at once (the check's own 2-failure threshold is the duration). */
    for: duration('for').default(0),
    severity: z.enum(alertSeverities).default('critical'),
    /** The check must be up this long before the alert resolves. */
    resolveAfter: duration('resolveAfter').default(0),
    /** What self-healing does while the alert is pending or firing. */
    heal: z.enum(healActions).optional(),
    /** While firing, mutes the other alerts of the same stage (their cause is this one). */
    inhibits: z.boolean().default(false),
  })
  .strict();

export type AlertRule = z.output<typeof alertRuleSchema>;

/**
 * The built-in rules, first match wins: slow trouble (backups, certificates,
 * disk) is a warning when degraded or down; an ha cluster's leader (none, or
 * a split brain) is critical, its members and replication a warning, with
 * self-healing; a stage's database down is
 * critical and mutes the stage's other alerts (they follow from it); any
 * other check down is critical.
 */
export const defaultRules: readonly AlertRule[] = [
  ...(['backup', 'certificate', 'disk'] as const).map((kind): AlertRule => ({
    name: `stage-${kind}`,
    match: { kind },
    condition: 'degraded-or-down',
    for: 0,
    severity: 'warning',
    resolveAfter: 0,
    inhibits: false,
  })),
  // An ha stage's cluster (issue 14): no leader or a split brain stops writes or risks them: critical,
  // and the stage's other alerts follow from it. A member down or a replica stuck or behind is a
  // warning (the cluster serves on), healed where safe.
  {
    name: 'ha-leader',
    match: { builtin: 'ha-leader' },
    condition: 'down',
    for: 0,
    severity: 'critical',
    resolveAfter: 0,
    inhibits: true,
  },
  {
    name: 'ha-member-down',
    match: { builtin: 'ha-members' },
    condition: 'degraded-or-down',
    for: 0,
    severity: 'warning',
    resolveAfter: 0,
    heal: 'start-ha-member',
    inhibits: false,
  },
  {
    name: 'ha-replication',
    match: { builtin: 'ha-replication' },
    condition: 'degraded-or-down',
    for: 0,
    severity: 'warning',
    resolveAfter: 0,
    heal: 'reinit-ha-member',
    inhibits: false,
  },
  {
    name: 'stage-database-down',
    match: { kind: 'database' },
    condition: 'down',
    for: 0,
    severity: 'critical',
    resolveAfter: 0,
    inhibits: true,
  },
  {
    name: 'stage-down',
    match: {},
    condition: 'down',
    for: 0,
    severity: 'critical',
    resolveAfter: 0,
    inhibits: false,
  },
];

/** What the evaluator knows of a check: what it watches and where it stands. */
export interface CheckSituation {
  readonly id: string;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly kind: (typeof checkKinds)[number];
  readonly builtin: (typeof builtinChecks)[number] | null;
  readonly target: string;
  readonly state: CheckState;
  /** When the check entered this state (ISO 8601). */
  readonly since: string;
  /** What the newest probe saw. */
  readonly seen: string | null;
  /** State changes between known states (up, degraded, down) within the flapping window. */
  readonly recentChanges: number;
}

/** The open alert of a check, as far as the evaluator needs it. */
export interface OpenCheckAlert {
  readonly id: string;
  readonly flapping: boolean;
  readonly resolveAt: string | null;
}

export interface FlapSettings {
  readonly changes: number;
  readonly windowSeconds: number;
}

export type RuleStep =
  | {
      readonly kind: 'open';
      readonly rule: AlertRule;
      readonly status: 'pending' | 'firing';
      readonly fireAt: string | null;
      readonly flapping: boolean;
      readonly severity: AlertSeverity;
      readonly heal: HealAction | null;
      readonly summary: string;
    }
  /** The condition holds again: an alert on its way to resolving stays open. */
  | { readonly kind: 'hold'; readonly id: string }
  | { readonly kind: 'mark-flapping'; readonly id: string }
  | { readonly kind: 'resolve'; readonly id: string; readonly note: string }
  | { readonly kind: 'resolve-at'; readonly id: string; readonly at: string };

export function matches(rule: AlertRule, check: CheckSituation): boolean {
  const m = rule.match;
  return (
    (m.tenant === undefined || m.tenant === check.tenant) &&
    (m.stage === undefined || m.stage === check.stage) &&
    (m.kind === undefined || m.kind === check.kind) &&
    (m.builtin === undefined || m.builtin === (check.builtin ?? 'operator'))
  );
}

export function ruleFor(rules: readonly AlertRule[], check: CheckSituation): AlertRule | undefined {
  return rules.find((r) => matches(r, check));
}

function holds(condition: RuleCondition, state: CheckState): boolean {
  return state === 'down' || (condition === 'degraded-or-down' && state === 'degraded');
}

const plusSeconds = (at: string, seconds: number): string =>
  new Date(Date.parse(at) + seconds * 1000).toISOString();

/** What people read: which check of which stage is in which state. */
export function summaryOf(check: CheckSituation): string {
  const what = check.builtin ?? `${check.kind} check ${check.id}`;
  return `${what} ${check.builtin ? 'check ' : ''}${check.state}: ${check.target}`;
}

/**
 * The steps for a check that stands where `check` says (after a change, or
 * on a periodic look), given its open alert. Unknown says nothing (Steward
 * was not probing): nothing opens or resolves on it. A check flapping
 * (`flap.changes` changes within the window) keeps one alert, marked
 * flapping, which resolves only when the check stayed up for the window.
 */
export function evaluate(
  rules: readonly AlertRule[],
  check: CheckSituation,
  open: OpenCheckAlert | undefined,
  flap: FlapSettings,
): RuleStep[] {
  const rule = ruleFor(rules, check);
  if (check.state === 'unknown') return [];
  const flapping = check.recentChanges >= flap.changes;
  if (rule && holds(rule.condition, check.state)) {
    const steps: RuleStep[] = [];
    if (!open) {
      return [
        {
          kind: 'open',
          rule,
          status: rule.for > 0 ? 'pending' : 'firing',
          fireAt: rule.for > 0 ? plusSeconds(check.since, rule.for) : null,
          flapping,
          severity: rule.severity,
          heal: rule.heal ?? null,
          summary: summaryOf(check),
        },
      ];
    }
    if (open.resolveAt !== null) steps.push({ kind: 'hold', id: open.id });
    if (flapping && !open.flapping) steps.push({ kind: 'mark-flapping', id: open.id });
    return steps;
  }
  // The resolve condition: the check is up (a down rule's alert stays open through degraded).
  if (!open || (check.state !== 'up' && rule !== undefined)) return [];
  const steps: RuleStep[] = [];
  if (flapping && !open.flapping) steps.push({ kind: 'mark-flapping', id: open.id });
  const isFlapping = open.flapping || flapping;
  const wait = Math.max(rule?.resolveAfter ?? 0, isFlapping ? flap.windowSeconds : 0);
  if (wait > 0) {
    if (open.resolveAt === null)
      steps.push({ kind: 'resolve-at', id: open.id, at: plusSeconds(check.since, wait) });
    return steps;
  }
  const note = rule === undefined ? 'no rule covers the check any more' : `the check is ${check.state} again`;
  steps.push({ kind: 'resolve', id: open.id, note });
  return steps;
}
