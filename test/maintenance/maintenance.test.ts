import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaintenanceWindowView } from '../../src/maintenance/index.ts';
import { formatLocal } from '../../src/maintenance/zone.ts';
import { apiCli } from '../harness/api-cli.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startMailServer, type MailServer, type ReceivedMail } from '../notifications/receivers.ts';

/**
 * Maintenance windows against a real Steward and a real SMTP server, with a
 * clock the test moves: planned at a local time in the tenant's zone,
 * announced to its technical contacts when the notice period begins (once),
 * muting the alerts of its stage while it runs, cancelled with a message to
 * those it was announced to; bad input names the field and changes nothing.
 */
const smtpUser = 'maintenance-mailer';
const smtpPassword = 'maintenance-smtp-password';
const day = 86_400_000;

let st: TestSteward;
let mail: MailServer;
let offsetMs = 0;
const clock = { now: (): Date => new Date(Date.now() + offsetMs) };

beforeAll(async () => {
  mail = await startMailServer({ user: smtpUser, password: smtpPassword });
  st = await startTestSteward({
    workers: false,
    clock,
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
  expect(
    (
      await st.request('POST', '/api/v1/notification-channels', {
        kind: 'email',
        target: 'oncall@example.com',
      })
    ).status,
  ).toBe(201);
  const created = await st.request('POST', '/api/v1/tenants', {
    slug: 'acme',
    displayName: 'ACME Corp',
    stages: ['test', 'prod'],
    contacts: [
      { name: 'Anna', email: 'anna@acme.example', role: 'technical' },
      { name: 'Bill', email: 'bill@acme.example', role: 'billing' },
    ],
  });
  expect(created.status, created.text).toBe(201);
});

afterAll(async () => {
  await st?.close();
  await mail?.close();
});

/** Runs the outbox until a mail with this idempotency-key prefix arrived. */
async function mailsWithKey(prefix: string, count = 1): Promise<ReceivedMail[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await st.services.notifications.pass();
    const found = mail.mails.filter((m) => m.header('x-steward-idempotency-key')?.startsWith(prefix));
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`no mail with key ${prefix}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A local time in Berlin, whole minutes, this far from the test's now. */
function berlin(fromNowMs: number): string {
  return formatLocal(new Date(clock.now().getTime() + fromNowMs), 'Europe/Berlin');
}

async function plan(body: Record<string, unknown>): Promise<{ status: number; body: any; text: string }> {
  return st.request('POST', '/api/v1/maintenance-windows/plan', {
    tenant: 'acme',
    reason: 'database upgrade',
    ...body,
  });
}

describe('maintenance', () => {
  it("is announced to the tenant's technical contacts when its notice begins, once, and mutes its stage's alerts", async () => {
    const at = berlin(3 * day);
    const planned = await plan({ stage: 'prod', at, tz: 'Europe/Berlin', for: '2h', announce: '2d' });
    expect(planned.status, planned.text).toBe(201);
    const w = planned.body as MaintenanceWindowView;
    expect(w).toMatchObject({
      tenant: 'acme',
      stage: 'prod',
      kind: 'planned',
      timeZone: 'Europe/Berlin',
      announceDays: 2,
      announcedAt: null,
    });
    expect(formatLocal(new Date(w.startsAt), 'Europe/Berlin')).toBe(at);
    expect(Date.parse(w.endsAt) - Date.parse(w.startsAt)).toBe(2 * 3_600_000);
    expect(await st.services.maintenance.pass()).toBe(0);
    // The tenant's admins see it only once it is announced (the console's tenant pages).
    const unannounced = await st.request('GET', '/api/v1/tenants/acme/maintenance-windows');
    expect(unannounced.status, unannounced.text).toBe(200);
    expect(unannounced.body.windows.map((x: { id: string }) => x.id)).not.toContain(w.id);

    // A day later its two days' notice begins.
    offsetMs = day + 60_000;
    expect(await st.services.maintenance.pass()).toBe(1);
    const [announcement] = await mailsWithKey(`maintenance:${w.id}:announce:`);
    expect(announcement?.to).toEqual(['anna@acme.example']);
    expect(announcement?.header('subject')).toBe(
      `[Steward] Planned maintenance: ACME Corp prod, ${at} Europe/Berlin`,
    );
    expect(announcement?.raw).toContain('Hello Anna');
    expect(announcement?.raw).toContain('Why: database upgrade');
    expect(announcement?.raw).toContain(w.startsAt);
    expect(await st.services.maintenance.pass()).toBe(0);
    const listed = await st.request('GET', '/api/v1/maintenance-windows?tenant=acme');
    expect(listed.body.windows.find((x: MaintenanceWindowView) => x.id === w.id).announcedAt).not.toBeNull();
    const seen = await st.request('GET', '/api/v1/tenants/acme/maintenance-windows');
    const forTenant = seen.body.windows.find((x: { id: string }) => x.id === w.id);
    expect(forTenant).toMatchObject({ stage: 'prod', reason: 'database upgrade', kind: 'planned' });
    // Which operator planned it is the operators' business.
    expect(Object.keys(forTenant)).not.toContain('createdBy');
    expect((await st.request('GET', '/api/v1/tenants/nobody/maintenance-windows')).status).toBe(404);

    // While it runs, the alerts of acme/prod are muted by it; acme/test's are not.
    offsetMs = 3 * day + 60_000;
    const inWindow = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'acme-prod-slow',
      tenant: 'acme',
      stage: 'prod',
      severity: 'critical',
      summary: 'slow',
    });
    expect(inWindow.mutedBy).toBe(`maintenance:${w.id}`);
    const other = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'acme-test-slow',
      tenant: 'acme',
      stage: 'test',
      severity: 'critical',
      summary: 'slow',
    });
    expect(other.mutedBy).toBeNull();
    // Ending it early unmutes (the alert service is told at once).
    const ended = await st.request('POST', `/api/v1/maintenance-windows/${w.id}/end`, {});
    expect(ended.status, ended.text).toBe(200);
    expect(ended.body.cancelledAt).toBeNull();
    expect((await st.services.alerts.get(inWindow.id)).mutedBy).toBeNull();
    for (const key of ['acme-prod-slow', 'acme-test-slow'])
      await st.services.alerts.clear('watchdog', key, 'done');
    expect(mail.mails.filter((m) => m.to.includes('anna@acme.example'))).toHaveLength(1);
    offsetMs = 0;
  });

  it('an emergency window is announced at once; a cancelled one that was announced is cancelled by email too', async () => {
    const emergency = await plan({
      at: berlin(2 * 3_600_000),
      tz: 'Europe/Berlin',
      for: '30m',
      emergency: true,
    });
    expect(emergency.status, emergency.text).toBe(201);
    expect(emergency.body).toMatchObject({ kind: 'emergency', stage: null });
    expect(emergency.body.announcedAt).not.toBeNull();
    const [now] = await mailsWithKey(`maintenance:${emergency.body.id}:announce:`);
    expect(now?.header('subject')).toContain('Emergency maintenance: ACME Corp (every stage)');

    const cancelled = await st.request('POST', `/api/v1/maintenance-windows/${emergency.body.id}/cancel`, {});
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(cancelled.body.cancelledAt).not.toBeNull();
    expect(cancelled.body.endsAt).toBe(cancelled.body.startsAt);
    const [bye] = await mailsWithKey(`maintenance:${emergency.body.id}:cancelled:`);
    expect(bye?.header('subject')).toContain('Maintenance cancelled: ACME Corp (every stage)');
    expect(
      (await st.request('POST', `/api/v1/maintenance-windows/${emergency.body.id}/cancel`, {})).status,
    ).toBe(404);

    // Cancelled before its notice began: nobody was told, nobody is told.
    const quiet = await plan({ stage: 'test', at: berlin(20 * day), for: '1h', announce: '7d' });
    expect((await st.request('POST', `/api/v1/maintenance-windows/${quiet.body.id}/cancel`, {})).status).toBe(
      200,
    );
    await st.services.notifications.pass();
    expect(
      mail.mails.filter((m) =>
        m.header('x-steward-idempotency-key')?.startsWith(`maintenance:${quiet.body.id}:`),
      ),
    ).toEqual([]);

    const audit = await st.request('GET', '/api/v1/audit?limit=1000');
    const actions = (audit.body.events as { action: string; target: string }[])
      .filter((e) => e.target === `maintenance:${emergency.body.id}`)
      .map((e) => e.action);
    expect(actions).toEqual(['maintenance.plan', 'maintenance.cancel']);
  });

  it('refuses bad input naming the field, the value and what is accepted, and changes nothing', async () => {
    const before = (await st.request('GET', '/api/v1/maintenance-windows?all=true')).body.windows
      .length as number;
    const bad: [Record<string, unknown>, string, RegExp][] = [
      [
        { at: 'soon', for: '2h' },
        'at',
        /"soon" is not accepted; use a local time such as "2026-12-05 23:00"/,
      ],
      [{ at: '2020-01-01 10:00', for: '2h' }, 'at', /is not in the future/],
      [{ at: berlin(day), tz: 'Berlin', for: '2h' }, 'tz', /"Berlin" is not a time zone/],
      [{ at: berlin(day), for: '2 days' }, 'for', /use a length from 1m to 72h/],
      [
        { at: berlin(day), for: '2h', announce: '7d' },
        'announce',
        /is already past; announce at most 1d ahead/,
      ],
      [{ at: berlin(day), for: '2h', stage: 'staging' }, 'stage', /its stages are test, prod/],
      [{ at: berlin(day), for: '2h', tenant: 'nobody' }, 'tenant', /tenant "nobody" does not exist/],
      [{ at: berlin(day), for: '2h', reason: ' ' }, 'reason', /1 to 500 characters/],
    ];
    for (const [body, field, message] of bad) {
      const res = await plan(body);
      expect(res.status, res.text).toBeGreaterThanOrEqual(400);
      expect(res.body.field, res.text).toBe(field);
      expect(res.body.message).toMatch(message);
    }
    expect((await st.request('GET', '/api/v1/maintenance-windows?all=true')).body.windows).toHaveLength(
      before,
    );
    const contact = await st.request('POST', '/api/v1/tenants/acme/contacts', {
      name: 'X',
      email: 'not-mail',
    });
    expect(contact.body).toMatchObject({ field: 'email' });
  });

  it('the CLI sets a contact, plans, lists and cancels', async () => {
    const cli = await apiCli(st);
    const contact = await cli(
      'tenant',
      'contact',
      'set',
      'acme',
      '--email',
      'carol@acme.example',
      '--name',
      'Carol',
    );
    expect(contact.code, contact.stderr).toBe(0);
    expect(contact.stdout).toMatch(/Carol\s+carol@acme.example\s+technical/);
    const at = berlin(10 * day);
    const planned = await cli(
      'maintenance',
      'plan',
      'acme',
      'prod',
      '--at',
      at,
      '--tz',
      'Europe/Berlin',
      '--for',
      '2h',
      '--announce',
      '7d',
      '--reason',
      'kernel update',
    );
    expect(planned.code, planned.stderr).toBe(0);
    expect(planned.stdout).toMatch(/^maintenance window \d+ for acme\/prod from .* to announce 7d ahead\n$/);
    const id = /^maintenance window (\d+)/.exec(planned.stdout)?.[1] ?? '';
    const bad = await cli(
      'maintenance',
      'plan',
      'acme',
      '--at',
      at,
      '--for',
      '2h',
      '--announce',
      '1w',
      '--reason',
      'x',
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('field "announce": "1w" is not accepted; use whole days from 0d to 90d');
    const listed = await cli('-o', 'json', 'maintenance', 'list', '--tenant', 'acme');
    expect((JSON.parse(listed.stdout) as MaintenanceWindowView[]).map((w) => w.reason)).toContain(
      'kernel update',
    );
    const cancelled = await cli('maintenance', 'cancel', id);
    expect(cancelled.stdout).toBe(`maintenance window ${id} cancelled\n`);
  });
});
