import { z } from 'zod';
import { rotations } from '../../oncall/schedule.ts';
import type {
  ContactView,
  OnCallView,
  PolicyView,
  ScheduleDetail,
  ScheduleView,
} from '../../oncall/service.ts';
import type { PageView } from '../../oncall/store.ts';
import type { ReactionReport } from '../../oncall/report.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** On-call: schedules, overrides, contacts, escalation policies, pages and reaction times (oncall/). */
export const onCallViewSchema = z.strictObject({
  schedule: z.string(),
  member: z.string(),
  from: z.string(),
  until: z.string(),
  /** The override's id when a member covers the shift. */
  override: z.string().nullable(),
});

export const scheduleViewSchema = z.strictObject({
  name: z.string(),
  rotation: z.enum(rotations),
  timeZone: z.string(),
  handoff: z.string(),
  members: z.array(z.string()),
  startDay: z.string(),
  createdBy: z.string(),
  onCall: onCallViewSchema,
});

export const scheduleDetailSchema = scheduleViewSchema.extend({
  at: z.string(),
  upcoming: z.array(onCallViewSchema),
  overrides: z.array(
    z.strictObject({ id: z.string(), member: z.string(), from: z.string(), until: z.string() }),
  ),
});

export const contactViewSchema = z.strictObject({ username: z.string(), email: z.string().nullable() });

export const escalationPolicyViewSchema = z.strictObject({
  name: z.string(),
  steps: z.array(z.string()),
  repeat: z.number(),
});

export const pageViewSchema = z.strictObject({
  round: z.number(),
  step: z.number(),
  recipient: z.string(),
  pagedAt: z.string(),
  notificationId: z.string().nullable(),
});

const statSchema = z.strictObject({
  /** Alerts that reached this point. */
  count: z.number(),
  medianSeconds: z.number().nullable(),
  p90Seconds: z.number().nullable(),
  maxSeconds: z.number().nullable(),
});

export const reactionReportSchema = z.strictObject({
  month: z.string(),
  from: z.string(),
  until: z.string(),
  alerts: z.number(),
  targetSeconds: z.number(),
  toFirstNotification: statSchema,
  toAcknowledgement: statSchema,
  toResolution: statSchema,
  metTarget: z.number(),
  missedTarget: z.number(),
  perAlert: z.array(
    z.strictObject({
      id: z.string(),
      firedAt: z.string(),
      toFirstNotificationSeconds: z.number().nullable(),
      toAcknowledgementSeconds: z.number().nullable(),
      toResolutionSeconds: z.number().nullable(),
      /** Null while still open inside the target. */
      metTarget: z.boolean().nullable(),
    }),
  ),
});

export type OncallContractChecks = [
  Expect<Conforms<OnCallView, typeof onCallViewSchema>>,
  Expect<Conforms<ScheduleView, typeof scheduleViewSchema>>,
  Expect<Conforms<ScheduleDetail, typeof scheduleDetailSchema>>,
  Expect<Conforms<ContactView, typeof contactViewSchema>>,
  Expect<Conforms<PolicyView, typeof escalationPolicyViewSchema>>,
  Expect<Conforms<PageView, typeof pageViewSchema>>,
  Expect<Conforms<ReactionReport, typeof reactionReportSchema>>,
];

export const oncallContracts = {
  'GET /api/v1/oncall/schedules': z.strictObject({ schedules: z.array(scheduleViewSchema) }),
  'POST /api/v1/oncall/schedules': scheduleViewSchema,
  'GET /api/v1/oncall/schedules/:name': scheduleDetailSchema,
  'POST /api/v1/oncall/schedules/:name/overrides': scheduleDetailSchema,
  'GET /api/v1/oncall/who': z.strictObject({ onCall: z.array(onCallViewSchema) }),
  'GET /api/v1/oncall/contacts': z.strictObject({ contacts: z.array(contactViewSchema) }),
  'PUT /api/v1/oncall/contacts/:operator': contactViewSchema,
  'GET /api/v1/oncall/escalation-policies': z.strictObject({ policies: z.array(escalationPolicyViewSchema) }),
  'PUT /api/v1/oncall/escalation-policies/:name': escalationPolicyViewSchema,
  'GET /api/v1/oncall/pages/:alert': z.strictObject({ pages: z.array(pageViewSchema) }),
  'GET /api/v1/oncall/report': reactionReportSchema,
} satisfies ContractMap;
