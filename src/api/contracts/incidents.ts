import { z } from 'zod';
import { deadlineStates, noticeParties } from '../../incidents/notices.ts';
import { severityLevels } from '../../incidents/severity.ts';
import { incidentStatuses } from '../../incidents/store.ts';
import { timelineSources } from '../../incidents/timeline.ts';
import type { IncidentDetail, IncidentView, StatusPost } from '../../incidents/views.ts';
import type { SeverityRule } from '../../incidents/severity.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** Incidents, their timelines, post-mortems, notice deadlines and status-page posts (incidents/). */
const severitySchema = z.number().int().min(1).max(4);

export const postmortemSchema = z.strictObject({
  cause: z.string(),
  impact: z.strictObject({
    /** Minutes the incident cost against the tenant's SLA. */
    slaMinutes: z.number(),
    summary: z.string(),
  }),
  actions: z.array(z.strictObject({ what: z.string(), owner: z.string(), due: z.string() })),
  /** Checks to add as early warnings; an empty list says none would have helped. */
  checks: z.array(z.strictObject({ what: z.string(), why: z.string().optional() })),
});

export const deadlineSchema = z.strictObject({
  party: z.enum(noticeParties),
  due: z.string(),
  state: z.enum(deadlineStates),
  notifiedAt: z.string().nullable(),
  notifiedWho: z.string().nullable(),
});

export const incidentViewSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  stage: z.string().nullable(),
  severity: severitySchema,
  severityName: z.string(),
  title: z.string(),
  status: z.enum(incidentStatuses),
  owner: z.string().nullable(),
  security: z.boolean(),
  openedBy: z.string(),
  openedAt: z.string(),
  resolvedAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  closedBy: z.string().nullable(),
  postmortem: postmortemSchema.nullable(),
  postmortemAt: z.string().nullable(),
  postmortemBy: z.string().nullable(),
  postmortemRequired: z.boolean(),
  breachConfirmedAt: z.string().nullable(),
  /** A confirmed breach's notice deadlines: customers and the supervisory authority. */
  deadlines: z.array(deadlineSchema),
  alerts: z.array(z.strictObject({ id: z.string(), checkId: z.string().nullable() })),
});

export const timelineEntrySchema = z.strictObject({
  at: z.string(),
  source: z.enum(timelineSources),
  /** The update's kind; fired/acknowledged/resolved for alerts; the notification's delivery status. */
  kind: z.string(),
  text: z.string(),
  by: z.string().nullable(),
  /** A status-page post. */
  public: z.boolean(),
  /** update:<id>, alert:<id>, notification:<id>. */
  ref: z.string(),
});

export const incidentDetailSchema = incidentViewSchema.extend({ timeline: z.array(timelineEntrySchema) });

export const statusPostSchema = z.strictObject({
  incident: z.string(),
  tenant: z.string(),
  stage: z.string().nullable(),
  title: z.string(),
  severity: severitySchema,
  status: z.enum(incidentStatuses),
  note: z.string().nullable(),
  at: z.string(),
});

export const severityRuleSchema = z.strictObject({
  level: z.literal(severityLevels),
  name: z.string(),
  rule: z.string(),
  examples: z.array(z.string()),
  updateEvery: z.string(),
  postmortemRequired: z.boolean(),
});

export const incidentTermsSchema = z.strictObject({
  tenant: z.string(),
  customerNoticeHours: z.number(),
  authorityNoticeHours: z.number(),
  /** Whether the customers' term is the tenant's contract's (else the default). */
  fromContract: z.boolean(),
});

export type IncidentContractChecks = [
  Expect<Conforms<IncidentView, typeof incidentViewSchema>>,
  Expect<Conforms<IncidentDetail, typeof incidentDetailSchema>>,
  Expect<Conforms<StatusPost, typeof statusPostSchema>>,
  Expect<Conforms<SeverityRule, typeof severityRuleSchema>>,
];

export const incidentContracts = {
  'GET /api/v1/incidents': z.strictObject({ incidents: z.array(incidentViewSchema) }),
  'GET /api/v1/tenants/:tenant/incidents': z.strictObject({ incidents: z.array(incidentViewSchema) }),
  'GET /api/v1/tenants/:tenant/incidents/:id': incidentViewSchema,
  'GET /api/v1/incidents/severities': z.strictObject({ severities: z.array(severityRuleSchema) }),
  'GET /api/v1/incidents/posts': z.strictObject({ posts: z.array(statusPostSchema) }),
  'POST /api/v1/incidents': incidentDetailSchema,
  'GET /api/v1/incidents/:id': incidentDetailSchema,
  'POST /api/v1/incidents/:id/updates': incidentDetailSchema,
  'POST /api/v1/incidents/:id/owner': incidentDetailSchema,
  'POST /api/v1/incidents/:id/alerts': incidentDetailSchema,
  'PUT /api/v1/incidents/:id/postmortem': incidentDetailSchema,
  'POST /api/v1/incidents/:id/close': incidentDetailSchema,
  'POST /api/v1/incidents/:id/breach': incidentDetailSchema,
  'POST /api/v1/incidents/:id/notices': incidentDetailSchema,
  'GET /api/v1/tenants/:slug/incident-terms': incidentTermsSchema,
  'PUT /api/v1/tenants/:slug/incident-terms': incidentTermsSchema,
} satisfies ContractMap;
