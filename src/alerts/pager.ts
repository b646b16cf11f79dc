import type { EnqueueRequest } from '../notifications/index.ts';
import type { AlertView, Pager } from './contract.ts';

/**
 * The default pager: every enabled notification channel hears of every
 * alert that fires, is acknowledged or resolves. On-call replaces it with
 * schedules and escalation (services.alerts.usePager). Idempotency keys
 * start with `alert:<id>:`: a delivered notification with such a key fills
 * the alert's firstNotifiedAt.
 */
export interface Enqueuer {
  enqueue(request: EnqueueRequest): Promise<unknown>;
}

export type AlertEvent = 'fired' | 'acknowledged' | 'resolved';

/** The key of a notification about one alert: `alert:<id>:<event>`. */
export function alertNotificationKey(alertId: string, event: string): string {
  return `alert:${alertId}:${event}`;
}

/** At most this many alerts in one group notification: their ids travel in its key. */
export const maxGroupNotification = 15;

/**
 * The alerts a notification key tells of: `alert:<id>:…` (this pager's keys,
 * and on-call's, which share the prefix), plus the other ids of a group
 * notification (`alert:<id>:fired:group:<id>-<id>…`).
 */
export function alertIdsOfKey(key: string): string[] {
  const match = /^alert:(\d{1,18}):(?:fired:group:([\d-]+))?/.exec(key);
  if (!match?.[1]) return [];
  return [match[1], ...(match[2] ? match[2].split('-').filter((id) => id !== '') : [])];
}

function where(a: AlertView): string {
  if (a.tenant === null) return 'Steward';
  return a.stage === null ? a.tenant : `${a.tenant}/${a.stage}`;
}

const heading: Readonly<Record<AlertEvent, string>> = {
  fired: 'FIRING',
  acknowledged: 'ACKNOWLEDGED',
  resolved: 'RESOLVED',
};

/** One alert, for people: where, what, what was seen, since when, and how to act on it. */
export function describeAlert(a: AlertView): string {
  const check = a.details.check as
    { id?: string; kind?: string; builtin?: string | null; target?: string } | undefined;
  const seen = typeof a.details.seen === 'string' ? a.details.seen : undefined;
  const lines = [
    `Alert ${a.id}: ${a.summary}`,
    `Severity: ${a.severity}${a.flapping ? ' (flapping: its check keeps changing state)' : ''}`,
    `Tenant: ${a.tenant ?? '-'}`,
    `Stage: ${a.stage ?? '-'}`,
    ...(check
      ? [
          `Check: ${check.id ?? '?'} ${check.kind ?? ''}${check.builtin ? ` (built-in ${check.builtin})` : ''}${check.target ? `: ${check.target}` : ''}`,
        ]
      : []),
    ...(seen ? [`Seen: ${seen}`] : []),
    `Since: ${a.startedAt}${a.firedAt && a.firedAt !== a.startedAt ? ` (firing since ${a.firedAt})` : ''}`,
    `Rule: ${a.rule ?? `(none: raised by ${a.source})`}`,
  ];
  if (a.status === 'acknowledged' || a.acknowledgedBy)
    lines.push(`Acknowledged by ${a.acknowledgedBy ?? '?'} at ${a.acknowledgedAt ?? '?'}`);
  if (a.status === 'resolved')
    lines.push(
      `Resolved by ${a.resolvedBy ?? '?'} at ${a.resolvedAt ?? '?'}${a.resolveNote ? `: ${a.resolveNote}` : ''}`,
    );
  return lines.join('\n');
}

function howToAct(ids: readonly string[]): string {
  const one = ids.length === 1 ? (ids[0] ?? '') : '<id>';
  return [
    '',
    ...ids.map((id) => `Acknowledge: steward alert ack ${id}   (or POST /api/v1/alerts/${id}/ack)`),
    `Resolve: steward alert resolve ${one} --note "..."`,
    `Details: steward alert show ${one}`,
  ].join('\n');
}

/** The notification for one alert event. */
export function alertNotification(a: AlertView, event: AlertEvent): EnqueueRequest {
  return {
    key: alertNotificationKey(a.id, event),
    kind: 'alert',
    subject: `${heading[event]} ${a.severity}: ${where(a)}: ${a.summary}`,
    body: describeAlert(a) + (event === 'fired' ? howToAct([a.id]) : ''),
  };
}

/** One notification for the alerts of one group that started firing together. */
export function alertGroupNotification(alerts: readonly AlertView[]): EnqueueRequest {
  const [first] = alerts;
  if (!first) throw new Error('an alert group needs at least one alert');
  if (alerts.length === 1) return alertNotification(first, 'fired');
  const worst = alerts.some((a) => a.severity === 'critical')
    ? 'critical'
    : alerts.some((a) => a.severity === 'warning')
      ? 'warning'
      : 'info';
  const ids = alerts.map((a) => a.id);
  return {
    // Each alert in it counts as told: its own key would repeat it, so the group's key names them all.
    key: alertNotificationKey(first.id, `fired:group:${ids.slice(1, maxGroupNotification).join('-')}`),
    kind: 'alert',
    subject: `${heading.fired} ${worst}: ${where(first)}: ${alerts.length} alerts: ${alerts.map((a) => a.summary).join('; ')}`,
    body: alerts.map(describeAlert).join('\n\n') + howToAct(ids),
  };
}

export class BroadcastPager implements Pager {
  readonly #notifications: Enqueuer;

  constructor(notifications: Enqueuer) {
    this.#notifications = notifications;
  }

  async fired(alert: AlertView): Promise<void> {
    await this.#notifications.enqueue(alertNotification(alert, 'fired'));
  }

  async firedGroup(alerts: readonly AlertView[]): Promise<void> {
    await this.#notifications.enqueue(alertGroupNotification(alerts));
  }

  async acknowledged(alert: AlertView): Promise<void> {
    await this.#notifications.enqueue(alertNotification(alert, 'acknowledged'));
  }

  async resolved(alert: AlertView): Promise<void> {
    await this.#notifications.enqueue(alertNotification(alert, 'resolved'));
  }
}
