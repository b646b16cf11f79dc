import { z } from 'zod';
import { channelKinds, webhookPresets } from '../../notifications/message.ts';
import { notificationStatuses } from '../../notifications/outbox.ts';
import type { ChannelView } from '../../notifications/channels.ts';
import type { NotificationView } from '../../notifications/outbox.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** Notification channels and the delivery log (notifications/channels.ts, notifications/outbox.ts). */
export const channelViewSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  kind: z.enum(channelKinds),
  /** An email address, or a webhook's origin only (its path may hold a secret). */
  target: z.string(),
  preset: z.enum(webhookPresets).nullable(),
  signed: z.boolean(),
  enabled: z.boolean(),
  /** Place in the failover chain. */
  position: z.number(),
});

export const notificationViewSchema = z.strictObject({
  id: z.string(),
  key: z.string(),
  kind: z.string(),
  subject: z.string(),
  status: z.enum(notificationStatuses),
  attempts: z.number(),
  createdAt: z.string(),
  deadline: z.string(),
  finishedAt: z.string().nullable(),
  lastError: z.string().nullable(),
  deliveries: z.array(
    z.strictObject({
      attempt: z.number(),
      channel: z.string(),
      outcome: z.enum(['delivered', 'failed']),
      error: z.string().nullable(),
      durationMs: z.number(),
      at: z.string(),
    }),
  ),
});

export type NotificationContractChecks = [
  Expect<Conforms<ChannelView, typeof channelViewSchema>>,
  Expect<Conforms<NotificationView, typeof notificationViewSchema>>,
];

export const notificationContracts = {
  'GET /api/v1/notification-channels': z.strictObject({ channels: z.array(channelViewSchema) }),
  'POST /api/v1/notification-channels': channelViewSchema,
  'PATCH /api/v1/notification-channels/:channel': channelViewSchema,
  'DELETE /api/v1/notification-channels/:channel': channelViewSchema,
  'POST /api/v1/notification-channels/:channel/test': notificationViewSchema,
  'GET /api/v1/notifications': z.strictObject({ notifications: z.array(notificationViewSchema) }),
} satisfies ContractMap;
