import { createHash } from 'node:crypto';
import type { MaintenanceWindowView } from './store.ts';
import { formatLocal } from './zone.ts';

/**
 * What a tenant's contacts are told of a maintenance window, and the
 * idempotency key of each message (one per window, event and address, so a
 * repeated pass or a crash between enqueueing and marking it announced sends
 * it once). Pure.
 */
export type AnnouncementEvent = 'announce' | 'cancelled';

/** Addresses may hold characters idempotency keys may not: a digest of the address (lower-cased) instead. */
export function announcementKey(windowId: string, event: AnnouncementEvent, email: string): string {
  const digest = createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 16);
  return `maintenance:${windowId}:${event}:${digest}`;
}

function span(w: MaintenanceWindowView): string {
  const start = new Date(w.startsAt);
  const end = new Date(w.endsAt);
  return `${formatLocal(start, w.timeZone)} to ${formatLocal(end, w.timeZone)} ${w.timeZone} (${w.startsAt} to ${w.endsAt})`;
}

export function announcementMessage(
  w: MaintenanceWindowView,
  event: AnnouncementEvent,
  tenantName: string,
): { subject: string; body: string } {
  const what = w.stage === null ? `${tenantName} (every stage)` : `${tenantName} ${w.stage}`;
  if (event === 'cancelled') {
    return {
      subject: `Maintenance cancelled: ${what}, ${formatLocal(new Date(w.startsAt), w.timeZone)} ${w.timeZone}`,
      body: `The maintenance of ${what} planned for ${span(w)} is cancelled; nothing changes for you.\n\nReason it was planned: ${w.reason}`,
    };
  }
  return {
    subject: `${w.kind === 'emergency' ? 'Emergency' : 'Planned'} maintenance: ${what}, ${formatLocal(new Date(w.startsAt), w.timeZone)} ${w.timeZone}`,
    body:
      `${w.kind === 'emergency' ? 'Emergency' : 'Planned'} maintenance of ${what}.\n\n` +
      `When: ${span(w)}\nWhy: ${w.reason}\n\n` +
      'The service may be unavailable or slow during this window. We will tell you if it changes.',
  };
}
