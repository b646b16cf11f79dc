import { z } from 'zod';
import { alertSeverities, alertSources, alertStatuses, healActions } from '../../alerts/contract.ts';
import { ruleConditions } from '../../alerts/rules.ts';
import { builtinChecks, checkKinds } from '../../monitoring/specs.ts';
import type { AlertView } from '../../alerts/contract.ts';
import type { AlertRule } from '../../alerts/rules.ts';
import type { SilenceView } from '../../alerts/store.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** Alerts, their rules and silences (alerts/contract.ts, alerts/rules.ts, alerts/store.ts). */
export const alertViewSchema = z.strictObject({
  id: z.string(),
  /** The rule that raised it; null for alerts raised from outside a rule (Alertmanager, watchdog, outbox). */
  rule: z.string().nullable(),
  source: z.enum(alertSources),
  dedupKey: z.string(),
  groupKey: z.string(),
  tenant: z.string().nullable(),
  stage: z.string().nullable(),
  severity: z.enum(alertSeverities),
  status: z.enum(alertStatuses),
  summary: z.string(),
  /** What was seen, by its raiser: open by design. */
  details: z.record(z.string(), z.unknown()),
  flapping: z.boolean(),
  /** Why nobody is told: a silence's id, a maintenance window's id, or the inhibiting alert's id. */
  mutedBy: z.string().nullable(),
  startedAt: z.string(),
  firedAt: z.string().nullable(),
  firstNotifiedAt: z.string().nullable(),
  acknowledgedAt: z.string().nullable(),
  acknowledgedBy: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  resolveNote: z.string().nullable(),
});

/** A rule as the alert service holds it: durations in seconds. */
export const alertRuleViewSchema = z.strictObject({
  name: z.string(),
  /** Which checks it covers; every field left out matches anything. */
  match: z.strictObject({
    tenant: z.string().optional(),
    stage: z.string().optional(),
    kind: z.enum(checkKinds).optional(),
    builtin: z.enum([...builtinChecks, 'operator']).optional(),
  }),
  condition: z.enum(ruleConditions),
  for: z.number(),
  severity: z.enum(alertSeverities),
  resolveAfter: z.number(),
  heal: z.enum(healActions).optional(),
  inhibits: z.boolean(),
});

/** A span that mutes a tenant's (or one stage's) notifications: silences and maintenance windows share it. */
export const muteWindowSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  /** Null: every stage of the tenant. */
  stage: z.string().nullable(),
  reason: z.string(),
  startsAt: z.string(),
  endsAt: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
});

export const silenceViewSchema = muteWindowSchema.extend({
  removedAt: z.string().nullable(),
  removedBy: z.string().nullable(),
});

export type AlertContractChecks = [
  Expect<Conforms<AlertView, typeof alertViewSchema>>,
  Expect<Conforms<AlertRule, typeof alertRuleViewSchema>>,
  Expect<Conforms<SilenceView, typeof silenceViewSchema>>,
];

export const alertContracts = {
  'GET /api/v1/alerts': z.strictObject({ alerts: z.array(alertViewSchema) }),
  'GET /api/v1/alerts/:id': alertViewSchema,
  'POST /api/v1/alerts/:id/ack': alertViewSchema,
  'POST /api/v1/alerts/:id/resolve': alertViewSchema,
  'GET /api/v1/alerts/rules': z.strictObject({ rules: z.array(alertRuleViewSchema) }),
  'GET /api/v1/silences': z.strictObject({ silences: z.array(silenceViewSchema) }),
  'POST /api/v1/silences': silenceViewSchema,
  'DELETE /api/v1/silences/:id': silenceViewSchema,
} satisfies ContractMap;
