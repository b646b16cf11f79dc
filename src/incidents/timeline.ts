import type { AlertView } from '../alerts/index.ts';
import type { NotificationView } from '../notifications/index.ts';
import type { IncidentUpdate } from './store.ts';

/**
 * An incident's timeline: its own updates (status-page posts among them),
 * the linked alerts' events, and the notifications sent about it or its
 * alerts, in time order. Pure: the service gathers the parts.
 */
export const timelineSources = ['update', 'alert', 'notification', 'healing'] as const;
export type TimelineSource = (typeof timelineSources)[number];

export interface TimelineEntry {
  readonly at: string;
  readonly source: TimelineSource;
  /** The update's kind; fired/acknowledged/resolved for alerts; the notification's delivery status. */
  readonly kind: string;
  readonly text: string;
  readonly by: string | null;
  /** A status-page post. */
  readonly public: boolean;
  /** update:<id>, alert:<id>, notification:<id>. */
  readonly ref: string;
}

/** A self-healing action linked through an alert (issue 10 part 6), as the timeline shows it. */
export interface HealingEvent {
  readonly id: string;
  readonly alertId: string;
  readonly action: string;
  readonly outcome: string;
  readonly detail: string;
  readonly at: string;
}

/** A detail recorded with an update, as text (details are plain JSON written by the service). */
function field(u: IncidentUpdate, name: string, otherwise: string): string {
  const value = u.details[name];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : otherwise;
}

function updateText(u: IncidentUpdate): string {
  const note = u.note ? `: ${u.note}` : '';
  switch (u.kind) {
    case 'opened':
      return `opened, ${u.status}${note}`;
    case 'status':
      return `${field(u, 'from', '?')} → ${u.status}${note}`;
    case 'owner':
      return `owner ${field(u, 'owner', '-')}${note}`;
    case 'severity':
      return `severity ${field(u, 'from', '?')} → ${field(u, 'to', '?')}${note}`;
    case 'notified':
      return `${field(u, 'party', '?')} notified at ${field(u, 'at', '?')} by ${field(u, 'who', '?')}`;
    case 'breach-confirmed':
      return `breach confirmed at ${field(u, 'at', '?')}`;
    case 'alert-linked':
      return `alert ${field(u, 'alert', '?')} linked`;
    default:
      return `${u.kind}${note}`;
  }
}

export function buildTimeline(parts: {
  readonly updates: readonly IncidentUpdate[];
  readonly alerts: readonly AlertView[];
  readonly notifications: readonly NotificationView[];
  readonly healing?: readonly HealingEvent[];
}): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const u of parts.updates) {
    entries.push({
      at: u.at,
      source: 'update',
      kind: u.kind,
      text: updateText(u),
      by: u.author,
      public: u.public,
      ref: `update:${u.id}`,
    });
  }
  for (const a of parts.alerts) {
    const place = a.tenant === null ? 'steward' : `${a.tenant}/${a.stage ?? '*'}`;
    const alert = (at: string | null, kind: string, by: string | null, extra = ''): void => {
      if (at === null) return;
      entries.push({
        at,
        source: 'alert',
        kind,
        text: `alert ${a.id} ${kind} (${a.severity}, ${place}): ${a.summary}${extra}`,
        by,
        public: false,
        ref: `alert:${a.id}`,
      });
    };
    alert(a.firedAt ?? a.startedAt, a.firedAt ? 'fired' : 'pending', null);
    alert(a.acknowledgedAt, 'acknowledged', a.acknowledgedBy);
    alert(a.resolvedAt, 'resolved', a.resolvedBy, a.resolveNote ? ` (${a.resolveNote})` : '');
  }
  for (const n of parts.notifications) {
    entries.push({
      at: n.createdAt,
      source: 'notification',
      kind: n.status,
      text: `notification ${n.key}: ${n.subject} (${n.status}${n.finishedAt ? ` at ${n.finishedAt}` : ''}, ${n.attempts} attempt${n.attempts === 1 ? '' : 's'})`,
      by: null,
      public: false,
      ref: `notification:${n.id}`,
    });
  }
  for (const h of parts.healing ?? []) {
    entries.push({
      at: h.at,
      source: 'healing',
      kind: h.outcome,
      text: `self-healing ${h.action} for alert ${h.alertId}: ${h.outcome}${h.detail ? ` (${h.detail})` : ''}`,
      by: 'system',
      public: false,
      ref: `heal:${h.id}`,
    });
  }
  // Stable: entries at the same instant keep the order above (an update before the alert it links).
  return entries
    .map((e, i) => ({ e, i }))
    .sort((x, y) => Date.parse(x.e.at) - Date.parse(y.e.at) || x.i - y.i)
    .map(({ e }) => e);
}
