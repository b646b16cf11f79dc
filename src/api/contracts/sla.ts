import { z } from 'zod';
import type { PolicyView, SlaReport } from '../../sla/index.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** SLA policies, exclusions and reports (sla/). Times are ISO strings, minutes kept to the millisecond. */
export const slaPolicyViewSchema = z.strictObject({
  version: z.number(),
  effectiveFrom: z.string(),
  /** Availability in percent, e.g. 99.9. */
  target: z.number(),
  period: z.string(),
  timeZone: z.string(),
  /** In words, e.g. "Mon-Fri 08:00-18:00". */
  serviceTime: z.string(),
  excludeOutagesUpToMinutes: z.number(),
  mergeGapMinutes: z.number(),
  partialWeight: z.number(),
  maintenanceNoticeHours: z.number().nullable(),
  maintenanceMaxHours: z.number().nullable(),
  maintenanceMaxCount: z.number().nullable(),
  unknownCountsAsDown: z.boolean(),
  /** null: the prod stage's built-in gateway check. */
  checks: z.array(z.string()).nullable(),
  createdBy: z.string(),
});

export const slaExclusionSchema = z.strictObject({
  id: z.string(),
  from: z.string(),
  until: z.string(),
  reason: z.string(),
  by: z.string(),
});

const minutesSchema = z.strictObject({
  scope: z.number(),
  maintenance: z.number(),
  operatorExcluded: z.number(),
  shortOutages: z.number(),
  unknown: z.number(),
  down: z.number(),
  degraded: z.number(),
  up: z.number(),
  measured: z.number(),
  countedDowntime: z.number(),
  budget: z.number(),
});

const outageSchema = z.strictObject({
  version: z.number(),
  start: z.string(),
  end: z.string(),
  spanMinutes: z.number(),
  downMinutes: z.number(),
  ongoing: z.boolean(),
  clause: z.enum(['counted', 'short-outage']),
  inPeriod: z.strictObject({
    outsideServiceTime: z.number(),
    maintenance: z.number(),
    operatorExcluded: z.number(),
    shortOutage: z.number(),
    counted: z.number(),
  }),
  /** The check_states rows (ids) that make it up: the evidence. */
  stateIds: z.array(z.string()),
});

export const slaFiguresSchema = z.strictObject({
  period: z.string(),
  timeZone: z.string(),
  from: z.string(),
  to: z.string(),
  asOf: z.string(),
  closed: z.boolean(),
  parts: z.array(
    z.strictObject({
      version: z.number(),
      from: z.string(),
      to: z.string(),
      target: z.number(),
      minutes: minutesSchema,
    }),
  ),
  minutes: minutesSchema,
  /** In percent, 4 decimals; null when nothing was measured. */
  availability: z.number().nullable(),
  target: z.number(),
  status: z.enum(['met', 'missed', 'on-track', 'at-risk', 'not-measured']),
  budgetLeftMinutes: z.number(),
  projected: z.strictObject({ measured: z.number(), availability: z.number().nullable() }).nullable(),
  outages: z.array(outageSchema),
  maintenance: z.array(
    z.strictObject({
      id: z.string(),
      version: z.number(),
      start: z.string(),
      end: z.string(),
      reason: z.string(),
      announcedAt: z.string().nullable(),
      verdict: z.enum(['excluded', 'partly', 'counted']),
      why: z.string(),
      excludedMinutes: z.number(),
    }),
  ),
  exclusions: z.array(
    z.strictObject({
      id: z.string(),
      start: z.string(),
      end: z.string(),
      reason: z.string(),
      by: z.string(),
      excludedMinutes: z.number(),
    }),
  ),
  uncoveredMinutes: z.number(),
});

const outageEvidenceSchema = outageSchema.extend({
  evidence: z.strictObject({
    states: z.array(
      z.strictObject({
        id: z.string(),
        checkId: z.string(),
        state: z.string(),
        start: z.string(),
        end: z.string(),
        /** The probe result that changed the state: open by design. */
        cause: z.unknown(),
      }),
    ),
    alerts: z.array(
      z.strictObject({
        id: z.string(),
        checkId: z.string().nullable(),
        severity: z.string(),
        status: z.string(),
        summary: z.string(),
        startedAt: z.string(),
        firedAt: z.string().nullable(),
        acknowledgedBy: z.string().nullable(),
        resolvedAt: z.string().nullable(),
      }),
    ),
    incidents: z.array(
      z.strictObject({
        id: z.string(),
        stage: z.string().nullable(),
        severity: z.number(),
        title: z.string(),
        status: z.string(),
        openedAt: z.string(),
        resolvedAt: z.string().nullable(),
        alertIds: z.array(z.string()),
      }),
    ),
    /** Self-healing attempts as the healing log records them: open by design. */
    healing: z.array(z.record(z.string(), z.unknown())),
    maintenance: z.array(z.string()),
    exclusions: z.array(z.string()),
  }),
});

export const slaReportSchema = z.strictObject({
  tenant: z.string(),
  period: z.string(),
  generatedAt: z.string(),
  checks: z.array(
    z.strictObject({
      id: z.string(),
      stage: z.string().nullable(),
      kind: z.string(),
      builtin: z.string().nullable(),
      /** The check's spec as stored: its kind's own fields. */
      spec: z.unknown(),
      createdAt: z.string(),
      removedAt: z.string().nullable(),
    }),
  ),
  policies: z.array(slaPolicyViewSchema),
  /** How time nobody probed was treated, in words. */
  unknownTreatment: z.string(),
  /** The frozen figures for a frozen period. */
  figures: slaFiguresSchema,
  outages: z.array(outageEvidenceSchema),
  /** SHA-256 of the canonical inputs as they are now. */
  inputsSha256: z.string(),
  frozen: z
    .object({
      frozenAt: z.string(),
      frozenBy: z.string(),
      inputsSha256: z.string(),
      /** The inputs today hash differently: the evidence changed since the period was frozen. */
      evidenceChanged: z.boolean(),
      /** With evidenceChanged: what the records say now. */
      recomputed: slaFiguresSchema.nullable(),
    })
    .nullable(),
  /** A closed period not yet frozen: when the next report freezes it. */
  freezesAt: z.string().nullable(),
});

export type SlaContractChecks = [
  Expect<Conforms<PolicyView, typeof slaPolicyViewSchema>>,
  Expect<Conforms<SlaReport, typeof slaReportSchema>>,
];

export const slaContracts = {
  'PUT /api/v1/tenants/:tenant/sla/policy': slaPolicyViewSchema,
  'GET /api/v1/tenants/:tenant/sla/policy': z.strictObject({
    tenant: z.string(),
    /** The version in force; null before the first takes effect. */
    current: slaPolicyViewSchema.nullable(),
    versions: z.array(slaPolicyViewSchema),
  }),
  'POST /api/v1/tenants/:tenant/sla/exclusions': slaExclusionSchema,
  'GET /api/v1/tenants/:tenant/sla/exclusions': z.strictObject({ exclusions: z.array(slaExclusionSchema) }),
  /** As JSON (format=json); format=html and format=pdf answer the rendered report instead. */
  'GET /api/v1/tenants/:tenant/sla/reports/:period': slaReportSchema,
  'POST /api/v1/tenants/:tenant/sla/reports/:period/freeze': slaReportSchema,
} satisfies ContractMap;
