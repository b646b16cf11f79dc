import type { AlertmanagerPayload } from '../../src/alerts/alertmanager.ts';

/** Alertmanager's documented webhook body (version 4), with our own values. */
export function alertmanagerPayload(over: Partial<AlertmanagerPayload> = {}): AlertmanagerPayload {
  return {
    version: '4',
    groupKey: '{}/{tenant="acme"}:{alertname="HighErrorRate"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'steward',
    groupLabels: { alertname: 'HighErrorRate' },
    commonLabels: { alertname: 'HighErrorRate', tenant: 'acme', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'HighErrorRate', tenant: 'acme', stage: 'prod', severity: 'critical' },
        annotations: {
          summary: 'acme prod answers 5xx to 12 % of requests',
          runbook: 'https://runbooks/5xx',
        },
        startsAt: '2026-12-06T21:58:00.000Z',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example:9090/graph?g0.expr=rate',
        fingerprint: 'c0ffee1234567890',
      },
    ],
    ...over,
  };
}
