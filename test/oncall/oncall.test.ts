import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { OnCallView, ScheduleDetail, ScheduleView } from '../../src/oncall/index.ts';
import type { NotificationView } from '../../src/notifications/index.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import {
  startMailServer,
  startWebhookReceiver,
  type MailServer,
  type WebhookReceiver,
} from '../notifications/receivers.ts';
import { cli, eventually } from '../cli/process.ts';
import { signLink } from '../../src/oncall/link.ts';
import type { ReactionReport } from '../../src/oncall/index.ts';

const smtpUser = 'oncall-mailer';
const smtpPassword = 'smtp-password-oncall-test';

let st: TestSteward;
let mail: MailServer;
let hook: WebhookReceiver;
let apiUrl: string;
let mailClosed = false;

beforeAll(async () => {
  mail = await startMailServer({ user: smtpUser, password: smtpPassword });
  hook = await startWebhookReceiver();
  st = await startTestSteward({
    config: {
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'steward@example.com' },
        retryBaseSeconds: 0.05,
        retryCapSeconds: 0.1,
        failoverAfter: 1,
        timeoutSeconds: 2,
        pollSeconds: 0.1,
      },
      oncall: { passSeconds: 0.2 },
      alerts: { groupWaitSeconds: 0, passSeconds: 0.2 },
    },
  });
  await st.services.notifications.keepSmtpCredentials(smtpUser, smtpPassword);
  apiUrl = `http://127.0.0.1:${(st.api.server.address() as AddressInfo).port}`;
  for (const username of ['anna', 'ben']) {
    const res = await st.request('POST', '/api/v1/operators', { username, role: 'operator' });
    expect(res.status, res.text).toBe(201);
  }
});

afterAll(async () => {
  await st?.close();
  if (!mailClosed) await mail?.close();
  await hook?.close();
});

async function ok<T>(method: string, url: string, body?: unknown, status = 200): Promise<T> {
  const res = await st.request(method, url, body);
  expect(res.status, res.text).toBe(status);
  return res.body as T;
}

/** Polls `probe` (sync or async) every 50 ms until it returns a value. */
function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  return eventually(what, async () => probe(), ms, 50);
}

describe('schedules, overrides, contacts and policies through the API', () => {
  it('adds a weekly Berlin rotation and tells who is on call, with overrides', async () => {
    const added = await ok<ScheduleView>(
      'POST',
      '/api/v1/oncall/schedules',
      { name: 'ops', rotation: 'weekly', tz: 'Europe/Berlin', members: ['anna', 'ben'], handoff: '09:00' },
      201,
    );
    expect(added).toMatchObject({
      name: 'ops',
      rotation: 'weekly',
      timeZone: 'Europe/Berlin',
      handoff: '09:00',
    });
    expect(added.onCall.member).toBe('anna');
    const next = await ok<ScheduleDetail>(
      'GET',
      `/api/v1/oncall/schedules/ops?at=${encodeURIComponent(added.onCall.until)}`,
    );
    expect(next.onCall.member).toBe('ben');
    expect(next.upcoming.map((u) => u.member)).toEqual(['ben', 'anna', 'ben', 'anna', 'ben', 'anna']);

    const from = new Date(Date.now() - 60_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const covered = await ok<ScheduleDetail>(
      'POST',
      '/api/v1/oncall/schedules/ops/overrides',
      { member: 'ben', from, until: to },
      201,
    );
    expect(covered.onCall).toMatchObject({ member: 'ben', override: covered.overrides[0]?.id });
    const { onCall } = await ok<{ onCall: OnCallView[] }>('GET', '/api/v1/oncall/who');
    expect(onCall).toEqual([expect.objectContaining({ schedule: 'ops', member: 'ben' })]);
    const audit = await st.query<{ action: string }>(
      "select action from audit_events where action like 'oncall.%' order by seq",
      [],
      st.controlDatabase,
    );
    expect(audit.map((a) => a.action)).toEqual(['oncall.schedule.add', 'oncall.override.add']);
  });

  it('refuses bad input with the field, the value and what is accepted, and changes nothing', async () => {
    const base = { name: 'dev', rotation: 'daily', tz: 'Europe/Berlin', members: ['anna'] };
    const cases: [Record<string, unknown>, string][] = [
      [
        { ...base, members: ['anna', 'zed'] },
        'field "members": "zed" is not an operator; operators are: admin, anna, ben',
      ],
      [
        { ...base, tz: 'Mars/Olympus' },
        'field "tz": "Mars/Olympus" is not a time zone; use an IANA name such as Europe/Berlin',
      ],
      [
        { ...base, rotation: 'monthly' },
        'field "rotation": "monthly" is not accepted; use one of daily, weekly',
      ],
      [{ ...base, handoff: '25:00' }, 'field "handoff": "25:00" is not a time of day; use HH:MM'],
    ];
    for (const [body, message] of cases) {
      const res = await st.request('POST', '/api/v1/oncall/schedules', body);
      expect(res.status, res.text).toBe(400);
      expect((res.body as { message: string }).message).toContain(message);
    }
    const override = await st.request('POST', '/api/v1/oncall/schedules/ops/overrides', {
      member: 'nobody',
      from: '2026-12-24T18:00+01:00',
      until: '2099-12-25T18:00+01:00',
    });
    expect(override.status).toBe(400);
    expect(override.body).toMatchObject({
      field: 'member',
      message: expect.stringContaining('"nobody" is not an operator'),
    });
    const policy = await st.request('PUT', '/api/v1/oncall/escalation-policies/default', {
      steps: ['notify schedule nope'],
    });
    expect(policy.status).toBe(400);
    expect(policy.body).toMatchObject({
      field: 'steps',
      message: 'field "steps": no schedule "nope"; schedules are: ops',
    });
    const contact = await st.request('PUT', '/api/v1/oncall/contacts/anna', { email: 'not-an-address' });
    expect(contact.body).toMatchObject({
      field: 'email',
      message: expect.stringContaining('"not-an-address" is not an email address'),
    });
    const { schedules } = await ok<{ schedules: ScheduleView[] }>('GET', '/api/v1/oncall/schedules');
    expect(schedules.map((s) => s.name)).toEqual(['ops']);
    expect((await ok<{ policies: unknown[] }>('GET', '/api/v1/oncall/escalation-policies')).policies).toEqual(
      [],
    );
  });

  it('the CLI: schedule add and list, who, contact set, escalation set', async () => {
    const run = async (...args: string[]) => {
      const r = await cli(st.dataDir, ['--api-url', apiUrl, ...args], { env: { STEWARD_TOKEN: st.token } });
      return r;
    };
    const added = await run(
      'oncall',
      'schedule',
      'add',
      'db',
      '--rotation',
      'daily',
      '--tz',
      'America/New_York',
      '--members',
      'ben,anna',
      '--handoff',
      '08:30',
    );
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(
      /^schedule db added: daily, hand-off 08:30 America\/New_York; ben is on call until /,
    );
    const bad = await run(
      'oncall',
      'schedule',
      'add',
      'x',
      '--rotation',
      'daily',
      '--tz',
      'Berlin',
      '--members',
      'anna',
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('field "tz": "Berlin" is not a time zone');
    const contact = await run('oncall', 'contact', 'set', 'anna', '--email', 'anna@example.com');
    expect(contact.stdout).toBe('anna is paged at anna@example.com\n');
    const policy = await run(
      'oncall',
      'escalation',
      'set',
      'default',
      '--step',
      'notify schedule ops',
      '--step',
      'after 15m notify owners',
      '--repeat',
      '2',
    );
    expect(policy.code, policy.stderr).toBe(0);
    expect(policy.stdout).toBe(
      'escalation policy default: notify schedule ops; after 15m notify owners; then 2 more round(s)\n',
    );
    const who = await run('-o', 'json', 'oncall', 'who', 'db');
    expect(JSON.parse(who.stdout)).toEqual([expect.objectContaining({ schedule: 'db', member: 'ben' })]);
  }, 60_000);
});

/** The mail's text as sent (nodemailer wraps long lines as quoted-printable). */
function mailText(raw: string): string {
  return raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

async function mailTo(address: string, text: string): Promise<string> {
  return until(`a mail to ${address} with ${text}`, () => {
    const found = mail.mails.find((m) => m.to.includes(address) && mailText(m.raw).includes(text));
    return found ? mailText(found.raw) : undefined;
  });
}

function linkIn(text: string, action: 'Acknowledge' | 'Resolve'): string {
  const m = new RegExp(`${action}:\\s+(http\\S+)`).exec(text);
  if (!m?.[1]) throw new Error(`no ${action} link in:\n${text}`);
  return m[1];
}

describe('escalation and the signed links, with real alerts', () => {
  it('pages the on-call member by email, escalates when nobody acknowledges, and stops at the link', async () => {
    await ok(
      'POST',
      '/api/v1/oncall/schedules',
      { name: 'web', rotation: 'daily', tz: 'UTC', members: ['anna'] },
      201,
    );
    await ok('PUT', '/api/v1/oncall/contacts/ben', { email: 'ben@example.com' });
    await ok('PUT', '/api/v1/oncall/escalation-policies/default', {
      steps: ['notify schedule web', 'after 3s notify operators ben'],
      repeat: 1,
    });
    const alert = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: `oncall-e2e-${Date.now()}`,
      tenant: 'acme',
      stage: 'prod',
      severity: 'critical',
      summary: 'acme prod answers 503',
    });
    const firedAt = Date.parse(alert.firedAt ?? '');
    const toAnna = await mailTo('anna@example.com', `alert ${alert.id}: acme prod answers 503`);
    expect(toAnna).toContain('You are on call for web.');
    const annaAt = Date.now();
    const ack = linkIn(toAnna, 'Acknowledge');
    const resolve = linkIn(toAnna, 'Resolve');
    expect(ack.startsWith(`${apiUrl}/api/v1/oncall/link?token=`)).toBe(true);
    // Not acknowledged: step 2 pages ben after its delay.
    const toBen = await mailTo('ben@example.com', `alert ${alert.id}:`);
    expect(toBen).toContain('The policy names you.');
    const pages = await ok<{ pages: { round: number; step: number; recipient: string; pagedAt: string }[] }>(
      'GET',
      `/api/v1/oncall/pages/${alert.id}`,
    );
    expect(pages.pages.map((p) => [p.round, p.step, p.recipient])).toEqual([
      [0, 0, 'operator:anna'],
      [0, 1, 'operator:ben'],
    ]);
    expect(Date.parse(pages.pages[1]?.pagedAt ?? '') - firedAt).toBeGreaterThanOrEqual(3000);
    expect(annaAt - firedAt).toBeLessThan(3000);

    // A GET (a mail scanner prefetching) shows a confirmation and changes nothing.
    const shown = await fetch(ack);
    expect(shown.status).toBe(200);
    expect(shown.headers.get('referrer-policy')).toBe('no-referrer');
    const form = await shown.text();
    expect(form).toContain(`Acknowledge alert ${alert.id}?`);
    expect(form).toContain('<form method="post">');
    expect((await st.services.alerts.get(alert.id)).status).toBe('firing');
    // The form's POST acknowledges, as anna.
    const done = await fetch(ack, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(done.status, await done.clone().text()).toBe(200);
    expect(await done.text()).toContain('Acknowledged by anna; escalation has stopped.');
    const acked = await st.services.alerts.get(alert.id);
    expect(acked).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'operator:anna' });
    // Ben, paged too, hears that anna took it.
    expect(await mailTo('ben@example.com', `Alert ${alert.id} acknowledged by operator:anna`)).toContain(
      'Escalation has stopped',
    );
    // Used once: a second POST changes nothing.
    const again = await fetch(ack, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('This link was used already');

    // Round 2 would have paged anna at +6 s and ben at +9 s: acknowledged, nobody more.
    await new Promise((r) => setTimeout(r, Math.max(0, firedAt + 9500 - Date.now())));
    const after = await ok<{ pages: unknown[] }>('GET', `/api/v1/oncall/pages/${alert.id}`);
    expect(after.pages).toHaveLength(2);
    expect(mail.mails.filter((m) => m.raw.includes(`alert:${alert.id}:page:1.`))).toHaveLength(0);
    const escalation = await st.query<{ status: string; reason: string }>(
      'select status, reason from oncall_escalations where alert_id = $1',
      [alert.id],
      st.controlDatabase,
    );
    expect(escalation).toEqual([{ status: 'stopped', reason: 'acknowledged by operator:anna' }]);

    // The resolve link resolves it; the reaction times are in the month's report.
    const resolved = await fetch(resolve, { method: 'POST' });
    expect(resolved.status).toBe(200);
    expect((await st.services.alerts.get(alert.id)).status).toBe('resolved');
    const month = new Date(firedAt).toISOString().slice(0, 7);
    const report = await cli(
      st.dataDir,
      ['--api-url', apiUrl, '-o', 'json', 'oncall', 'report', '--month', month],
      {
        env: { STEWARD_TOKEN: st.token },
      },
    );
    expect(report.code, report.stderr).toBe(0);
    const r = JSON.parse(report.stdout) as ReactionReport;
    // Other alerts (Steward's watchdog) may fire in the same month: this one's row, and the sums over all.
    expect(r).toMatchObject({ month, targetSeconds: 900 });
    const row = r.perAlert.find((a) => a.id === alert.id);
    expect(row).toMatchObject({ firedAt: alert.firedAt, metTarget: true });
    expect(row?.toFirstNotificationSeconds).toBeLessThan(3);
    expect(row?.toAcknowledgementSeconds).toBeGreaterThanOrEqual(3);
    expect(row?.toResolutionSeconds).toBeGreaterThanOrEqual(row?.toAcknowledgementSeconds ?? 0);
    expect(r.alerts).toBe(r.perAlert.length);
    expect(r.toAcknowledgement.count).toBe(
      r.perAlert.filter((a) => a.toAcknowledgementSeconds !== null).length,
    );
    expect(r.metTarget).toBeGreaterThanOrEqual(1);
    // With no channel, the acknowledgement and resolution went to the people paged only: no failed notification, no alert about one.
    expect((await st.services.alerts.list()).filter((a) => a.source === 'notifications')).toEqual([]);
    const listed = await cli(st.dataDir, ['--api-url', apiUrl, 'oncall', 'pages', alert.id], {
      env: { STEWARD_TOKEN: st.token },
    });
    expect(listed.stdout).toMatch(/ROUND\s+STEP\s+RECIPIENT/);
    expect(listed.stdout).toMatch(/1\s+2\s+operator:ben/);
    // The links are credentials: never in the log.
    const token = new URL(ack).searchParams.get('token') ?? '';
    expect(st.logs()).not.toContain(token);
  }, 60_000);

  it('refuses forged, expired and malformed links with a page saying so', async () => {
    const key = Buffer.from(await st.services.secrets.get('oncall/link-key'), 'base64');
    const url = (token: string) => `${apiUrl}/api/v1/oncall/link?token=${token}`;
    const claims = { alert: '1', action: 'acknowledge' as const, recipient: 'anna' };
    const expired = signLink(key, { ...claims, expiresAt: new Date(Date.now() - 1000) });
    const forged = signLink(Buffer.alloc(32, 1), { ...claims, expiresAt: new Date(Date.now() + 3_600_000) });
    for (const [token, status, text] of [
      [expired, 410, 'This link has expired'],
      [forged, 400, 'This link was not signed by this Steward.'],
      ['abc', 400, 'This link is not a Steward link'],
    ] as const) {
      for (const method of ['GET', 'POST']) {
        const res = await fetch(url(token), { method });
        expect(res.status, `${method} ${text}`).toBe(status);
        expect(await res.text()).toContain(text);
      }
    }
    const used = await st.query<{ n: string }>(
      'select count(*)::text as n from oncall_link_uses',
      [],
      st.controlDatabase,
    );
    expect(used).toEqual([{ n: '2' }]);
  });

  it('a link acts only as far as its recipient may: an auditor cannot acknowledge, and the link stays unused', async () => {
    expect(
      (await st.request('POST', '/api/v1/operators', { username: 'cleo', role: 'auditor' })).status,
    ).toBe(201);
    const alert = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: `oncall-auditor-${Date.now()}`,
      severity: 'warning',
      summary: 'disk 91 % full',
    });
    const key = Buffer.from(await st.services.secrets.get('oncall/link-key'), 'base64');
    const token = signLink(key, {
      alert: alert.id,
      action: 'acknowledge',
      recipient: 'cleo',
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    const res = await fetch(`${apiUrl}/api/v1/oncall/link?token=${token}`, { method: 'POST' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('operator cleo has role auditor, which may not acknowledge alerts');
    expect((await st.services.alerts.get(alert.id)).status).toBe('firing');
    const used = await st.query(
      'select 1 from oncall_link_uses where alert_id = $1',
      [alert.id],
      st.controlDatabase,
    );
    expect(used).toEqual([]);
    await ok('POST', `/api/v1/alerts/${alert.id}/resolve`, { note: 'test over' });
  });
});

describe('the outbox with a direct recipient', () => {
  it('emails the person first, then fails over to the channels', async () => {
    await ok(
      'POST',
      '/api/v1/notification-channels',
      { kind: 'webhook', target: hook.url, name: 'team' },
      201,
    );
    const direct = await st.services.notifications.enqueue({
      key: 'oncall-test-direct',
      kind: 'page',
      subject: 'to anna',
      body: 'hello anna',
      email: 'anna@example.com',
      channels: ['team'],
    });
    const delivered = await until('the direct email', async () => {
      const n = await st.services.notifications.notification(direct.id);
      return n.status === 'delivered' ? n : undefined;
    });
    expect(delivered.deliveries).toMatchObject([{ channel: 'email:anna@example.com', outcome: 'delivered' }]);
    expect(mail.mails.at(-1)?.to).toEqual(['anna@example.com']);
    expect(hook.requests).toHaveLength(0);
    // A mailbox the SMTP server refuses (no credentials match: the server is gone for this one) fails over.
    const badMail = await st.services.notifications.enqueue({
      key: 'oncall-test-failover',
      kind: 'page',
      subject: 'to nobody',
      body: 'fails over',
      email: 'anna@example.com',
      channels: ['team'],
    });
    await mail.close();
    const failedOver = await until('the failover', async () => {
      const n: NotificationView = await st.services.notifications.notification(badMail.id);
      return n.status === 'delivered' ? n : undefined;
    });
    expect(failedOver.deliveries.map((d) => [d.channel, d.outcome])).toEqual([
      ['email:anna@example.com', 'failed'],
      ['team', 'delivered'],
    ]);
    expect(hook.requests.at(-1)?.headers['idempotency-key']).toBe('oncall-test-failover');
    mailClosed = true;
  });
});
