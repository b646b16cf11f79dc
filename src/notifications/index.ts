export { NotificationService, type EnqueueRequest } from './service.ts';
export type { DeliveryObserver } from './dispatcher.ts';
export type { ChannelView } from './channels.ts';
export type { NotificationView, DeliveryView } from './outbox.ts';
export { notificationStatuses } from './outbox.ts';
export { signatureHeader, verifySignature } from './signature.ts';
export { channelKinds, webhookPresets } from './message.ts';
