import { z } from 'zod';
import { InputError, showValue } from '../core/errors.ts';
import { periodKinds } from './period.ts';
import { always, parseRecurring, type ServiceTime } from './service-time.ts';
import { defaultTerms, type SlaTerms } from './terms.ts';
import { checkTimeZone } from './zone.ts';

/** The body of PUT /api/v1/tenants/:tenant/sla/policy: one new version of the policy. */
export const setPolicySchema = z
  .object({
    target: z.number().gt(0).lt(100),
    period: z.enum(periodKinds).default(defaultTerms.period),
    timeZone: z.string().min(1).max(100).default(defaultTerms.timeZone),
    /** The service time, e.g. 'daily 05:00-22:00'; or give maintenanceWindow (its complement); neither: always. */
    serviceTime: z.string().min(1).max(100).optional(),
    maintenanceWindow: z.string().min(1).max(100).optional(),
    excludeOutagesUpTo: z.string().max(20).optional(),
    mergeGap: z.string().max(20).optional(),
    partialWeight: z.number().min(0).max(1).default(defaultTerms.partialWeight),
    maintenanceNotice: z.string().max(20).optional(),
    maintenanceMaxHours: z.number().min(0).max(8784).optional(),
    maintenanceMaxCount: z.number().int().min(0).max(10_000).optional(),
    unknownCountsAsDown: z.boolean().default(defaultTerms.unknownCountsAsDown),
    /** Check ids whose states define availability; default: the prod stage's built-in gateway check. */
    checks: z
      .array(z.string().regex(/^\d{1,18}$/, 'must be a check id'))
      .min(1)
      .max(20)
      .optional(),
    /** ISO 8601; default now. Must be after the latest version's. */
    effectiveFrom: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();
export type SetPolicyInput = z.input<typeof setPolicySchema>;

const units: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "10m", "90s", "2h", "7d" or "0" as ms; anything else names the field and what is accepted. */
export function parseSlaDuration(value: string, field: string): number {
  const m = /^(\d{1,6})(s|m|h|d)?$/.exec(value.trim());
  if (!m || (m[2] === undefined && m[1] !== '0')) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not a duration; use a whole number with s, m, h or d, for example 10m, 7d (or 0)`,
      { field },
    );
  }
  return Number(m[1]) * (units[m[2] ?? 's'] ?? 1000);
}

export interface ResolvedPolicy {
  readonly terms: SlaTerms;
  readonly checkIds: readonly string[] | null;
  readonly effectiveFrom: Date | null;
}

/** The API body to terms: every field checked, every default applied here. */
export function resolvePolicy(input: z.output<typeof setPolicySchema>): ResolvedPolicy {
  if (input.serviceTime !== undefined && input.maintenanceWindow !== undefined) {
    throw new InputError(
      `fields "serviceTime" and "maintenanceWindow" say the same thing twice (${showValue(input.serviceTime)}, ${showValue(input.maintenanceWindow)}); give one: the service time, or the recurring maintenance window outside it`,
      { field: 'maintenanceWindow' },
    );
  }
  let serviceTime: ServiceTime = always;
  if (input.serviceTime !== undefined && input.serviceTime !== 'always') {
    serviceTime = {
      kind: 'inside',
      window: parseRecurring(input.serviceTime, 'serviceTime'),
      text: input.serviceTime.trim(),
    };
  } else if (input.maintenanceWindow !== undefined) {
    serviceTime = {
      kind: 'outside',
      window: parseRecurring(input.maintenanceWindow, 'maintenanceWindow'),
      text: input.maintenanceWindow.trim(),
    };
  }
  const caps = input.maintenanceMaxHours !== undefined || input.maintenanceMaxCount !== undefined;
  if (caps && input.maintenanceNotice === undefined) {
    throw new InputError(
      'field "maintenanceNotice" is required with maintenanceMaxHours or maintenanceMaxCount: announced maintenance is excluded only when announced ahead (for example 7d)',
      { field: 'maintenanceNotice' },
    );
  }
  return {
    terms: {
      target: input.target,
      period: input.period,
      timeZone: checkTimeZone(input.timeZone),
      serviceTime,
      excludeOutagesUpToMs:
        input.excludeOutagesUpTo === undefined
          ? defaultTerms.excludeOutagesUpToMs
          : parseSlaDuration(input.excludeOutagesUpTo, 'excludeOutagesUpTo'),
      mergeGapMs:
        input.mergeGap === undefined ? defaultTerms.mergeGapMs : parseSlaDuration(input.mergeGap, 'mergeGap'),
      partialWeight: input.partialWeight,
      maintenanceNoticeMs:
        input.maintenanceNotice === undefined
          ? null
          : parseSlaDuration(input.maintenanceNotice, 'maintenanceNotice'),
      maintenanceMaxMs:
        input.maintenanceMaxHours === undefined ? null : Math.round(input.maintenanceMaxHours * 3_600_000),
      maintenanceMaxCount: input.maintenanceMaxCount ?? null,
      unknownCountsAsDown: input.unknownCountsAsDown,
    },
    checkIds: input.checks ?? null,
    effectiveFrom: input.effectiveFrom === undefined ? null : new Date(input.effectiveFrom),
  };
}

/** A policy version as `sla policy show` and the reports show it. */
export interface PolicyView {
  readonly version: number;
  readonly effectiveFrom: string;
  readonly target: number;
  readonly period: string;
  readonly timeZone: string;
  readonly serviceTime: string;
  readonly excludeOutagesUpToMinutes: number;
  readonly mergeGapMinutes: number;
  readonly partialWeight: number;
  readonly maintenanceNoticeHours: number | null;
  readonly maintenanceMaxHours: number | null;
  readonly maintenanceMaxCount: number | null;
  readonly unknownCountsAsDown: boolean;
  /** null: the prod stage's built-in gateway check. */
  readonly checks: readonly string[] | null;
  readonly createdBy: string;
}

export function describeServiceTime(s: ServiceTime): string {
  return s.kind === 'always'
    ? always.text
    : s.kind === 'inside'
      ? s.text
      : `outside the maintenance window ${s.text}`;
}
