/**
 * Alerts from outside (issue 10 part 7): Prometheus Alertmanager's webhook
 * payload (version 4), parsed at the edge and mapped, without I/O, to raises
 * and clears of the alerts contract. Alertmanager retries a delivery that
 * was not answered 2xx, so a repeat must change nothing: raises find the open
 * alert by its fingerprint, and clearing a resolved one is a no-op.
 */
import { z } from 'zod';
import type { AlertSeverity, AlertsApi, RaiseRequest } from './contract.ts';

/** The most alerts one notification may carry (Alertmanager's max_alerts, when set, truncates below it). */
export const maxAlertmanagerAlerts = 1000;
/** Bytes of body the receiver reads: a full group of alerts with their labels fits well within it. */
export const alertmanagerBodyLimit = 1024 * 1024;

const slug = /^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$/;
const labelSet = z.record(z.string().min(1).max(256), z.string().max(8192));
const alertStatus = z.enum(['firing', 'resolved']);
const timestamp = z
  .string()
  .max(64)
  .refine((v) => !Number.isNaN(Date.parse(v)), {
    error: (issue) => `${JSON.stringify(issue.input)} is not an RFC 3339 time such as 2026-12-06T21:00:00Z`,
  });

const alertSchema = z.object({
  status: alertStatus,
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp.optional(),
  generatorURL: z.string().max(4096).optional(),
  fingerprint: z.string().min(1).max(128),
});

/**
 * The webhook body as Alertmanager sends it. Fields it may add later are
 * ignored rather than refused: a newer Alertmanager must not be turned away.
 */
export const alertmanagerPayloadSchema = z.object({
  version: z.literal('4'),
  groupKey: z.string().max(8192),
  truncatedAlerts: z.number().int().min(0).optional(),
  status: alertStatus,
  receiver: z.string().max(256),
  groupLabels: labelSet,
  commonLabels: labelSet,
  commonAnnotations: labelSet,
  externalURL: z.string().max(4096),
  alerts: z.array(alertSchema).max(maxAlertmanagerAlerts),
});
export type AlertmanagerPayload = z.output<typeof alertmanagerPayloadSchema>;
export type AlertmanagerAlert = AlertmanagerPayload['alerts'][number];

/** Severity label values as Prometheus rules commonly write them; anything else is a warning. */
const severityWords: Readonly<Record<string, AlertSeverity>> = {
  critical: 'critical',
  crit: 'critical',
  page: 'critical',
  error: 'critical',
  high: 'critical',
  emergency: 'critical',
  fatal: 'critical',
  warning: 'warning',
  warn: 'warning',
  medium: 'warning',
  info: 'info',
  informational: 'info',
  notice: 'info',
  low: 'info',
  none: 'info',
};

export function severityOf(label: string | undefined): AlertSeverity {
  return severityWords[(label ?? '').trim().toLowerCase()] ?? 'warning';
}

export type AlertmanagerStep =
  | { readonly kind: 'raise'; readonly fingerprint: string; readonly request: RaiseRequest }
  | { readonly kind: 'clear'; readonly fingerprint: string; readonly note: string };

/**
 * One step per alert: firing raises (keyed by its fingerprint, with the
 * tenant and stage from its `tenant` and `stage` labels when they are slugs,
 * its severity from `severity`, its summary from the `summary` annotation or
 * the alert's name); resolved clears.
 */
export function alertmanagerSteps(payload: AlertmanagerPayload): AlertmanagerStep[] {
  return payload.alerts.map((alert): AlertmanagerStep => {
    if (alert.status === 'resolved') {
      return {
        kind: 'clear',
        fingerprint: alert.fingerprint,
        note: `resolved in Alertmanager${alert.endsAt ? ` at ${alert.endsAt}` : ''} (receiver ${payload.receiver})`,
      };
    }
    const labels = alert.labels;
    const tenant = labels.tenant !== undefined && slug.test(labels.tenant) ? labels.tenant : null;
    const stage = tenant && labels.stage !== undefined && slug.test(labels.stage) ? labels.stage : null;
    const name = labels.alertname?.trim();
    const summary =
      alert.annotations.summary?.trim() || name || `alert ${alert.fingerprint} from Alertmanager`;
    return {
      kind: 'raise',
      fingerprint: alert.fingerprint,
      request: {
        source: 'alertmanager',
        dedupKey: alert.fingerprint,
        tenant,
        stage,
        severity: severityOf(labels.severity),
        summary: summary.slice(0, 500),
        details: {
          alertname: name ?? null,
          labels,
          annotations: alert.annotations,
          startsAt: alert.startsAt,
          generatorURL: alert.generatorURL ?? null,
          receiver: payload.receiver,
          externalURL: payload.externalURL,
        },
      },
    };
  });
}

export interface AlertmanagerResult {
  readonly raised: number;
  readonly cleared: number;
  readonly alerts: readonly {
    readonly fingerprint: string;
    readonly id: string | null;
    readonly status: string;
  }[];
}

/** Carries out the steps against the alert service, in the payload's order. */
export async function receiveAlertmanager(
  alerts: Pick<AlertsApi, 'raise' | 'clear'>,
  payload: AlertmanagerPayload,
): Promise<AlertmanagerResult> {
  let raised = 0;
  let cleared = 0;
  const out: { fingerprint: string; id: string | null; status: string }[] = [];
  for (const step of alertmanagerSteps(payload)) {
    if (step.kind === 'raise') {
      const view = await alerts.raise(step.request);
      raised++;
      out.push({ fingerprint: step.fingerprint, id: view.id, status: view.status });
    } else {
      const view = await alerts.clear('alertmanager', step.fingerprint, step.note);
      if (view) cleared++;
      out.push({ fingerprint: step.fingerprint, id: view?.id ?? null, status: view?.status ?? 'not open' });
    }
  }
  return { raised, cleared, alerts: out };
}
