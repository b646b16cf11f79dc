import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/contract.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { alertmanagerPayload } from './alertmanager-payload.ts';

/**
 * The Alertmanager receiver against a real Steward over HTTP: Alertmanager's
 * payload shape raises and clears alerts; only a token may send it, and a
 * token scoped to it may do nothing else; bad payloads are refused naming
 * the field and change nothing.
 */
describe('POST /api/alerts/alertmanager', () => {
  let t: TestSteward;
  let url: string;
  let scoped: string;
  let auditor: string;

  const send = async (
    body: unknown,
    token: string | null = scoped,
  ): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${url}/api/alerts/alertmanager`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const fromAlertmanager = async (): Promise<AlertView[]> => {
    const res = await t.request('GET', '/api/v1/alerts?source=alertmanager');
    expect(res.status, res.text).toBe(200);
    return res.body.alerts as AlertView[];
  };
  const token = async (body: Record<string, unknown>): Promise<string> => {
    const res = await t.request('POST', '/api/v1/tokens', body);
    expect(res.status, res.text).toBe(201);
    return res.body.token as string;
  };

  beforeAll(async () => {
    t = await startTestSteward();
    url = await t.steward.start();
    scoped = await token({ name: 'alertmanager', role: 'operator', scope: 'alertmanager' });
    auditor = await token({ name: 'reader', role: 'auditor' });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it('refuses anonymous senders, read-only tokens, and a scoped token anywhere else', async () => {
    expect((await send(alertmanagerPayload(), null)).status).toBe(401);
    expect((await send(alertmanagerPayload(), 'stw_not-a-real-token')).status).toBe(401);
    const reader = await send(alertmanagerPayload(), auditor);
    expect(reader.status).toBe(403);
    expect(reader.body.message).toContain('needs tenants.write');
    for (const [method, path] of [
      ['GET', '/api/v1/tenants'],
      ['GET', '/api/v1/alerts'],
      ['POST', '/api/v1/tokens'],
      ['GET', '/metrics'],
    ] as const) {
      const res = await t.request(method, path, method === 'POST' ? { name: 'x' } : undefined, scoped);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.message).toBe(
        'this token is scoped to alertmanager: it may only call the alertmanager routes',
      );
    }
    expect(await fromAlertmanager()).toEqual([]);
    const tokens = await t.request('GET', '/api/v1/tokens');
    expect(
      (tokens.body.tokens as { name: string; scope: string | null }[]).map((x) => [x.name, x.scope]),
    ).toEqual(
      expect.arrayContaining([
        ['alertmanager', 'alertmanager'],
        ['reader', null],
      ]),
    );
  });

  it('raises each firing alert once by its fingerprint, and clears it when Alertmanager says resolved', async () => {
    const base = alertmanagerPayload();
    const [first] = base.alerts;
    if (!first) throw new Error('no alert');
    const payload = alertmanagerPayload({
      alerts: [
        first,
        {
          ...first,
          labels: { alertname: 'CertificateExpiry', severity: 'warning' },
          annotations: {},
          fingerprint: 'feedface00000001',
        },
      ],
    });
    const sent = await send(payload);
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(sent.body).toMatchObject({ raised: 2, cleared: 0 });
    // Alertmanager repeats a group every repeat_interval, and retries: the same alerts, not new ones.
    const again = await send(payload);
    expect(again.body.alerts.map((a: { id: string }) => a.id)).toEqual(
      sent.body.alerts.map((a: { id: string }) => a.id),
    );
    const open = await fromAlertmanager();
    expect(open).toHaveLength(2);
    expect(open.find((a) => a.dedupKey === 'c0ffee1234567890')).toMatchObject({
      source: 'alertmanager',
      tenant: 'acme',
      stage: 'prod',
      severity: 'critical',
      status: 'firing',
      summary: 'acme prod answers 5xx to 12 % of requests',
      details: { alertname: 'HighErrorRate', labels: { tenant: 'acme' } },
    });
    expect(open.find((a) => a.dedupKey === 'feedface00000001')).toMatchObject({
      tenant: null,
      stage: null,
      severity: 'warning',
      summary: 'CertificateExpiry',
    });

    const resolved = await send(
      alertmanagerPayload({
        status: 'resolved',
        alerts: [{ ...first, status: 'resolved', endsAt: '2026-12-06T22:10:00Z' }],
      }),
    );
    expect(resolved.body).toMatchObject({ raised: 0, cleared: 1 });
    const after = await fromAlertmanager();
    expect(after.find((a) => a.dedupKey === 'c0ffee1234567890')).toMatchObject({
      status: 'resolved',
      resolveNote: 'resolved in Alertmanager at 2026-12-06T22:10:00Z (receiver steward)',
    });
    expect(after.find((a) => a.dedupKey === 'feedface00000001')?.status).toBe('firing');
  });

  it('refuses a bad payload naming the field, and a body past its limit, changing nothing', async () => {
    const before = await fromAlertmanager();
    const [first] = alertmanagerPayload().alerts;
    const fresh = { ...first, fingerprint: 'abad1dea00000000' };
    const bad: [unknown, string, RegExp][] = [
      [{ ...alertmanagerPayload({ alerts: [fresh] as never }), version: '2' }, 'version', /"2"/],
      [
        { ...alertmanagerPayload(), alerts: [fresh, { ...fresh, fingerprint: '' }] },
        'alerts.1.fingerprint',
        /at least 1/,
      ],
      [
        { ...alertmanagerPayload(), alerts: [{ ...fresh, status: 'pending' }] },
        'alerts.0.status',
        /firing, resolved/,
      ],
      ['{"version": "4", ', 'body', /not valid JSON/],
    ];
    for (const [body, field, message] of bad) {
      const res = await send(body);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.field).toBe(field);
      expect(res.body.message).toMatch(message);
    }
    const huge = alertmanagerPayload({ commonAnnotations: { description: 'x'.repeat(1024 * 1024) } });
    expect((await send(huge)).status).toBe(413);
    expect(await fromAlertmanager()).toEqual(before);
  });
});
