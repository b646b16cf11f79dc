import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/ports.ts';
import type { AlertView } from '../../src/alerts/index.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startMailServer, type MailServer } from '../notifications/receivers.ts';

/**
 * The alert service against a real Steward and a real SMTP server: a raise
 * fires at once and every enabled channel gets an email naming the alert and
 * how to acknowledge it; the delivery fills firstNotifiedAt; ack and resolve
 * go through the API, are audited and told; bad input changes nothing.
 */
const smtpUser = 'alerts-mailer';
const smtpPassword = 'alerts-smtp-password';

let st: TestSteward;
let mail: MailServer;

beforeAll(async () => {
  mail = await startMailServer({ user: smtpUser, password: smtpPassword });
  st = await startTestSteward({
    // The test runs the passes itself.
    workers: false,
    config: {
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'steward@example.com' },
        retryBaseSeconds: 0.05,
        retryCapSeconds: 0.1,
        timeoutSeconds: 2,
      },
      alerts: { groupWaitSeconds: 0 },
    },
  });
  await st.services.notifications.keepSmtpCredentials(smtpUser, smtpPassword);
  const added = await st.request('POST', '/api/v1/notification-channels', {
    kind: 'email',
    target: 'oncall@example.com',
  });
  expect(added.status, added.text).toBe(201);
});

afterAll(async () => {
  await st?.close();
  await mail?.close();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the outbox until `count` mails with this text arrived; each as its subject line, a blank line, then the whole message. */
async function mailsAbout(text: string, count = 1): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await st.services.notifications.pass();
    const found = mail.mails
      .filter((m) => m.raw.includes(text))
      .map((m) => `${m.header('subject') ?? ''}\n\n${m.raw}`);
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`no mail about ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('alerts', () => {
  it('a raise fires at once, emails every channel, and records when people were first told', async () => {
    const alert = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'scheduler-stalled',
      tenant: 'acme',
      stage: 'prod',
      severity: 'critical',
      summary: 'the scheduler made no pass for 60 s',
      details: { seen: 'last pass 61 s ago' },
    });
    expect(alert).toMatchObject({
      source: 'watchdog',
      status: 'firing',
      tenant: 'acme',
      stage: 'prod',
      groupKey: 'acme/prod',
      mutedBy: null,
      firstNotifiedAt: null,
    });
    expect(alert.firedAt).toBe(alert.startedAt);
    // The same source and key while open is the same alert.
    const again = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'scheduler-stalled',
      severity: 'critical',
      summary: 'again',
    });
    expect(again.id).toBe(alert.id);

    const [raw] = await mailsAbout(`alert:${alert.id}:fired`);
    expect(raw).toContain('FIRING critical: acme/prod: the scheduler made no pass for 60 s');
    expect(raw).toContain('Tenant: acme');
    expect(raw).toContain('Stage: prod');
    expect(raw).toContain('Seen: last pass 61 s ago');
    expect(raw).toContain(`Since: ${alert.startedAt}`);
    expect(raw).toContain(`steward alert ack ${alert.id}`);
    const told = await st.services.alerts.get(alert.id);
    expect(told.firstNotifiedAt).not.toBeNull();
    expect(Date.parse(told.firstNotifiedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(alert.firedAt ?? ''));
  });

  it('acknowledges and resolves through the API: audited, told, and refused when there is nothing to do', async () => {
    const alert = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'outbox-growing',
      severity: 'warning',
      summary: 'the outbox holds 5000 notifications',
    });
    await mailsAbout(`alert:${alert.id}:fired`);
    const acked = await st.request('POST', `/api/v1/alerts/${alert.id}/ack`);
    expect(acked.status, acked.text).toBe(200);
    expect(acked.body).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'operator:admin' });
    // Twice is the same acknowledgement.
    expect((await st.request('POST', `/api/v1/alerts/${alert.id}/ack`)).body.acknowledgedAt).toBe(
      acked.body.acknowledgedAt,
    );
    await mailsAbout(`alert:${alert.id}:acknowledged`);

    const noNote = await st.request('POST', `/api/v1/alerts/${alert.id}/resolve`, { note: '  ' });
    expect(noNote.status).toBe(400);
    expect(noNote.body).toMatchObject({ field: 'note' });
    expect(noNote.body.message).toContain('1 to 2000 characters');
    expect((await st.request('GET', `/api/v1/alerts/${alert.id}`)).body.status).toBe('acknowledged');

    const resolved = await st.request('POST', `/api/v1/alerts/${alert.id}/resolve`, {
      note: 'drained after the SMTP server came back',
    });
    expect(resolved.status, resolved.text).toBe(200);
    expect(resolved.body).toMatchObject({
      status: 'resolved',
      resolvedBy: 'operator:admin',
      resolveNote: 'drained after the SMTP server came back',
    });
    const [raw] = await mailsAbout(`alert:${alert.id}:resolved`);
    expect(raw).toContain('RESOLVED warning');
    const twice = await st.request('POST', `/api/v1/alerts/${alert.id}/resolve`, { note: 'again' });
    expect(twice.status).toBe(409);
    expect(twice.body.message).toContain('already resolved');
    expect((await st.request('POST', `/api/v1/alerts/${alert.id}/ack`)).status).toBe(409);

    const audit = await st.request('GET', '/api/v1/audit?limit=1000');
    const actions = (audit.body.events as { action: string; target: string }[])
      .filter((e) => e.target === `alert:${alert.id}`)
      .map((e) => e.action);
    expect(actions).toEqual(['alert.acknowledge', 'alert.resolve']);

    // A new raise after the resolve is a new alert.
    const next = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'outbox-growing',
      severity: 'warning',
      summary: 'the outbox holds 6000 notifications',
    });
    expect(next.id).not.toBe(alert.id);
    const cleared = await st.services.alerts.clear('watchdog', 'outbox-growing', 'the outbox drained');
    expect(cleared).toMatchObject({
      status: 'resolved',
      resolvedBy: 'system',
      resolveNote: 'the outbox drained',
    });
    expect(await st.services.alerts.clear('watchdog', 'outbox-growing', 'again')).toBeUndefined();
  });

  it('lists alerts with filters, and refuses bad input naming the field, the value and what is accepted', async () => {
    const list = async (query: string): Promise<AlertView[]> => {
      const res = await st.request('GET', `/api/v1/alerts${query}`);
      expect(res.status, res.text).toBe(200);
      return res.body.alerts as AlertView[];
    };
    const all = await list('');
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect((await list('?open=true')).every((a) => a.status !== 'resolved')).toBe(true);
    expect((await list('?tenant=acme')).map((a) => a.tenant)).toEqual(['acme']);
    expect((await list('?status=resolved')).length).toBe(2);

    const bad: [string, string, RegExp][] = [
      [
        '?status=open',
        'status',
        /"open" is not accepted; use one of pending, firing, acknowledged, resolved/,
      ],
      ['?source=nagios', 'source', /"nagios" is not accepted; use one of check, alertmanager/],
      ['?limit=0', 'limit', /at least 1/],
      ['?colour=red', 'colour', /accepted fields are/],
    ];
    for (const [query, field, message] of bad) {
      const res = await st.request('GET', `/api/v1/alerts${query}`);
      expect(res.status, res.text).toBe(400);
      expect(res.body.field).toBe(field);
      expect(res.body.message).toMatch(message);
    }
    const notId = await st.request('POST', '/api/v1/alerts/forty-two/ack');
    expect(notId.status).toBe(400);
    expect(notId.body.message).toContain('"forty-two" is not an alert id');
    expect((await st.request('GET', '/api/v1/alerts/999999')).status).toBe(404);

    const before = (await list('')).length;
    await expect(
      st.services.alerts.raise({
        source: 'watchdog',
        dedupKey: '',
        severity: 'critical',
        summary: 'x',
      }),
    ).rejects.toThrow(/field "dedupKey": "" is not accepted/);
    await expect(
      st.services.alerts.raise({
        source: 'watchdog',
        dedupKey: 'k',
        severity: 'fatal' as 'critical',
        summary: 'x',
      }),
    ).rejects.toThrow(/field "severity": "fatal" is not accepted; use one of critical, warning, info/);
    expect((await list('')).length).toBe(before);
    // Reading needs a token.
    expect((await st.request('GET', '/api/v1/alerts', undefined, null)).status).toBe(401);
  });

  it('a notification the outbox fails for good raises a critical alert that shows in the alert list', async () => {
    // Nothing listens here: connections are refused.
    const dead = await st.request('POST', '/api/v1/notification-channels', {
      kind: 'webhook',
      name: 'dead-hook',
      preset: 'generic',
      target: `http://127.0.0.1:${await freePort(0)}/hook`,
    });
    expect(dead.status, dead.text).toBe(201);
    const row = await st.services.notifications.enqueue({
      key: 'backup-report-2026-12',
      kind: 'report',
      subject: 'monthly backup report',
      body: 'all backups verified',
      channels: ['dead-hook'],
      deadline: new Date(Date.now() + 300),
    });
    const alert = await until('the alert about the failed notification', async () => {
      await st.services.notifications.pass();
      const res = await st.request('GET', '/api/v1/alerts?source=notifications');
      return (res.body.alerts as AlertView[]).find((a) => a.dedupKey === `notification:${row.id}`);
    });
    expect(alert).toMatchObject({
      source: 'notifications',
      severity: 'critical',
      status: 'firing',
      tenant: null,
      groupKey: 'steward',
      summary: `notification ${row.id} not delivered: monthly backup report`,
    });
    expect(String(alert.details.seen)).toMatch(/deadline|refused|ECONNREFUSED/);
    expect((await st.services.notifications.notification(row.id)).status).toBe('failed');
    // The operators hear of it on the channels that work.
    const [raw] = await mailsAbout(`alert:${alert.id}:fired`);
    expect(raw).toContain('FIRING critical: Steward: notification');
    await st.request('DELETE', '/api/v1/notification-channels/dead-hook');
  });
});
