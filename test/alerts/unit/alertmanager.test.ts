import { describe, expect, it } from 'vitest';
import {
  alertmanagerPayloadSchema,
  alertmanagerSteps,
  severityOf,
} from '../../../src/alerts/alertmanager.ts';
import { InputError } from '../../../src/core/errors.ts';
import { parseInput } from '../../../src/core/validation.ts';
import { alertmanagerPayload } from '../alertmanager-payload.ts';

describe('severityOf', () => {
  it.each([
    ['critical', 'critical'],
    ['Page', 'critical'],
    ['error', 'critical'],
    ['warning', 'warning'],
    ['WARN', 'warning'],
    ['info', 'info'],
    ['none', 'info'],
    [undefined, 'warning'],
    ['whatever', 'warning'],
  ] as const)('%s -> %s', (label, want) => {
    expect(severityOf(label)).toBe(want);
  });
});

describe('alertmanagerSteps', () => {
  it('raises a firing alert by its fingerprint, with tenant, stage, severity and summary from its labels', () => {
    const [step] = alertmanagerSteps(alertmanagerPayload());
    expect(step).toMatchObject({
      kind: 'raise',
      fingerprint: 'c0ffee1234567890',
      request: {
        source: 'alertmanager',
        dedupKey: 'c0ffee1234567890',
        tenant: 'acme',
        stage: 'prod',
        severity: 'critical',
        summary: 'acme prod answers 5xx to 12 % of requests',
        details: { alertname: 'HighErrorRate', receiver: 'steward' },
      },
    });
  });

  it.each<{
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    want: Record<string, unknown>;
  }>([
    {
      name: 'no summary annotation: the alert name',
      labels: { alertname: 'DiskFull' },
      annotations: {},
      want: { summary: 'DiskFull', tenant: null, stage: null, severity: 'warning' },
    },
    {
      name: 'neither: the fingerprint',
      labels: {},
      annotations: {},
      want: { summary: 'alert c0ffee1234567890 from Alertmanager', tenant: null },
    },
    {
      name: 'a stage without a tenant names nothing',
      labels: { alertname: 'X', stage: 'prod' },
      annotations: {},
      want: { tenant: null, stage: null },
    },
    {
      name: 'a tenant label that is not a slug is kept in the details only',
      labels: { alertname: 'X', tenant: 'Acme Corp', stage: 'prod' },
      annotations: {},
      want: { tenant: null, stage: null },
    },
    {
      name: 'a long summary is cut to 500 characters',
      labels: {},
      annotations: { summary: 'x'.repeat(900) },
      want: { summary: 'x'.repeat(500) },
    },
  ])('$name', ({ labels, annotations, want }) => {
    const base = alertmanagerPayload().alerts[0];
    if (!base) throw new Error('no alert');
    const [step] = alertmanagerSteps(alertmanagerPayload({ alerts: [{ ...base, labels, annotations }] }));
    expect(step?.kind === 'raise' && step.request).toMatchObject(want);
  });

  it('clears a resolved alert by its fingerprint', () => {
    const base = alertmanagerPayload().alerts[0];
    if (!base) throw new Error('no alert');
    const steps = alertmanagerSteps(
      alertmanagerPayload({
        status: 'resolved',
        alerts: [{ ...base, status: 'resolved', endsAt: '2026-12-06T22:05:00Z' }],
      }),
    );
    expect(steps).toEqual([
      {
        kind: 'clear',
        fingerprint: 'c0ffee1234567890',
        note: 'resolved in Alertmanager at 2026-12-06T22:05:00Z (receiver steward)',
      },
    ]);
  });
});

describe('the payload schema', () => {
  const refused = (body: unknown): InputError => {
    try {
      parseInput(alertmanagerPayloadSchema, body);
    } catch (error) {
      if (error instanceof InputError) return error;
    }
    throw new Error('accepted');
  };

  it('accepts the documented shape, and fields a newer Alertmanager may add', () => {
    expect(
      parseInput(alertmanagerPayloadSchema, { ...alertmanagerPayload(), newField: 1 }).alerts,
    ).toHaveLength(1);
  });

  it.each([
    { body: { ...alertmanagerPayload(), version: '3' }, field: 'version', message: /"3"/ },
    { body: { ...alertmanagerPayload(), status: 'pending' }, field: 'status', message: /firing, resolved/ },
    {
      body: {
        ...alertmanagerPayload(),
        alerts: [{ ...alertmanagerPayload().alerts[0], fingerprint: undefined }],
      },
      field: 'alerts.0.fingerprint',
      message: /required/,
    },
    {
      body: {
        ...alertmanagerPayload(),
        alerts: [{ ...alertmanagerPayload().alerts[0], startsAt: 'yesterday' }],
      },
      field: 'alerts.0.startsAt',
      message: /"yesterday" is not an RFC 3339 time/,
    },
    {
      body: { ...alertmanagerPayload(), alerts: [{ ...alertmanagerPayload().alerts[0], labels: { a: 1 } }] },
      field: 'alerts.0.labels.a',
      message: /string/,
    },
    { body: [], field: 'body', message: /object/ },
  ])('refuses $field', ({ body, field, message }) => {
    const error = refused(body);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });
});
