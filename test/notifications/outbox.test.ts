import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/ports.ts';
import { verifySignature, type ChannelView, type NotificationView } from '../../src/notifications/index.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startMailServer, startWebhookReceiver, type MailServer, type WebhookReceiver } from './receivers.ts';

const smtpUser = 'steward-mailer';
const smtpPassword = 'smtp-password-not-in-logs';
const hookSecret = 'whsec-test-0123456789';

let st: TestSteward;
let mail: MailServer;
let hook: WebhookReceiver;
let deadUrl: string;

beforeAll(async () => {
  mail = await startMailServer({ user: smtpUser, password: smtpPassword });
  hook = await startWebhookReceiver();
  // Nothing listens here: connections are refused.
  deadUrl = `http://127.0.0.1:${await freePort(0)}/dead`;
  st = await startTestSteward({
    // The tests run the dispatcher's pass themselves.
    workers: false,
    config: {
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'steward@example.com' },
        fallbackChannel: 'operators',
        retryBaseSeconds: 0.05,
        retryCapSeconds: 0.1,
        failoverAfter: 2,
        timeoutSeconds: 2,
      },
    },
  });
  await st.services.notifications.keepSmtpCredentials(smtpUser, smtpPassword);
});

afterAll(async () => {
  await st?.close();
  await mail?.close();
  await hook?.close();
});

async function addChannel(body: Record<string, unknown>): Promise<ChannelView> {
  const res = await st.request('POST', '/api/v1/notification-channels', body);
  expect(res.status, res.text).toBe(201);
  return res.body as ChannelView;
}

async function notification(id: string): Promise<NotificationView> {
  return st.services.notifications.notification(id);
}

/** Runs dispatcher passes until the notification is no longer pending. */
async function settle(id: string, timeoutMs = 15_000): Promise<NotificationView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await st.services.notifications.pass();
    const n = await notification(id);
    if (n.status !== 'pending') return n;
    if (Date.now() > deadline) throw new Error(`notification ${id} still pending: ${JSON.stringify(n)}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

describe('notifications through the outbox', () => {
  it('email: a real SMTP server receives it with its idempotency key as Message-ID and header', async () => {
    const channel = await addChannel({ kind: 'email', target: 'ops@example.com' });
    expect(channel).toMatchObject({ name: 'ops@example.com', kind: 'email', position: 1, signed: false });
    const res = await st.request('POST', '/api/v1/notification-channels/ops@example.com/test');
    expect(res.status, res.text).toBe(200);
    const sent = res.body as NotificationView;
    expect(sent).toMatchObject({ status: 'delivered', attempts: 1, kind: 'test' });
    expect(sent.deliveries).toMatchObject([
      { attempt: 1, channel: 'ops@example.com', outcome: 'delivered', error: null },
    ]);
    expect(mail.mails).toHaveLength(1);
    const received = mail.mails[0];
    expect(received?.to).toEqual(['ops@example.com']);
    expect(received?.from).toBe('steward@example.com');
    expect(received?.user).toBe(smtpUser);
    expect(received?.header('message-id')).toBe(`<${sent.key}@steward>`);
    expect(received?.header('x-steward-idempotency-key')).toBe(sent.key);
    expect(received?.header('subject')).toBe('[Steward] Test notification to ops@example.com');
    expect(received?.raw).toContain(`Idempotency key: ${sent.key}`);
    // The SMTP password is in the secret store only.
    const stored = await st.query<{ sealed: string; plain: string }>(
      `select count(*) filter (where name = 'notifications/smtp/password')::text as sealed,
              count(*) filter (where position(convert_to($1, 'UTF8') in ciphertext) > 0)::text as plain
         from secrets`,
      [smtpPassword],
      st.controlDatabase,
    );
    // Sealed in the secret store, its plain text nowhere there.
    expect(stored[0]).toEqual({ sealed: '1', plain: '0' });
    expect(st.logs()).not.toContain(smtpPassword);
  });

  it('webhook: signed with HMAC-SHA256 over timestamp and body, which the receiver verifies', async () => {
    const channel = await addChannel({
      kind: 'webhook',
      target: hook.url,
      name: 'operators',
      preset: 'generic',
      secret: hookSecret,
    });
    // Listings show the origin only: a webhook URL's path may be its credential.
    expect(channel).toMatchObject({
      name: 'operators',
      target: new URL(hook.url).origin + '/…',
      signed: true,
    });
    const res = await st.request('POST', '/api/v1/notification-channels/operators/test');
    expect((res.body as NotificationView).status).toBe('delivered');
    const request = hook.requests.at(-1);
    expect(request?.headers['idempotency-key']).toBe((res.body as NotificationView).key);
    expect(request?.headers['x-steward-idempotency-key']).toBe((res.body as NotificationView).key);
    const check = verifySignature(
      hookSecret,
      request?.body ?? '',
      request?.headers['x-steward-signature'] as string,
      new Date(),
    );
    expect(check).toEqual({ ok: true });
    expect(
      verifySignature(
        'another-secret-000',
        request?.body ?? '',
        request?.headers['x-steward-signature'] as string,
        new Date(),
      ).ok,
    ).toBe(false);
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({
      kind: 'test',
      idempotencyKey: (res.body as NotificationView).key,
    });
    expect(st.logs()).not.toContain(hookSecret);
    const audit = await st.request('GET', '/api/v1/audit?action=notification-channel.add');
    expect(JSON.stringify(audit.body)).toContain('notification-channel:operators');
    expect(JSON.stringify(audit.body)).not.toContain(hookSecret);
  });

  it('a receiver that is down, then up: retried with backoff, then delivered once, the same key each time', async () => {
    const before = hook.requests.length;
    hook.failNext(503, 502);
    const row = await st.services.notifications.enqueue({
      key: 'down-then-up-1',
      kind: 'alert',
      subject: 'acme/prod is down',
      body: 'HTTP check failed twice',
      channels: ['operators'],
    });
    // Enqueueing again with the key changes nothing.
    const again = await st.services.notifications.enqueue({
      key: 'down-then-up-1',
      kind: 'alert',
      subject: 'something else',
      body: '',
      channels: ['operators'],
    });
    expect(again.id).toBe(row.id);
    const done = await settle(row.id);
    expect(done.status).toBe('delivered');
    expect(done.deliveries.map((d) => d.outcome)).toEqual(['failed', 'failed', 'delivered']);
    expect(done.deliveries[0]?.error).toBe(`webhook ${new URL(hook.url).origin}: HTTP 503`);
    const sent = hook.requests.slice(before);
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((r) => r.headers['idempotency-key']))).toEqual(new Set(['down-then-up-1']));
  });

  it('fails over to the next channel after failoverAfter failures on one', async () => {
    await addChannel({ kind: 'webhook', target: deadUrl, name: 'dead-hook', preset: 'slack' });
    const before = hook.requests.length;
    const row = await st.services.notifications.enqueue({
      key: 'failover-1',
      kind: 'alert',
      subject: 'acme/test is down',
      body: 'b',
      channels: ['dead-hook', 'operators'],
    });
    const done = await settle(row.id);
    expect(done.status).toBe('delivered');
    expect(done.deliveries.map((d) => `${d.channel}:${d.outcome}`)).toEqual([
      'dead-hook:failed',
      'dead-hook:failed',
      'operators:delivered',
    ]);
    expect(done.deliveries[0]?.error).toMatch(/^webhook http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/);
    expect(hook.requests.length).toBe(before + 1);
  });

  it('a notification that reaches its deadline undelivered is failed, visible, and told to the fallback channel', async () => {
    const before = hook.requests.length;
    const row = await st.services.notifications.enqueue({
      key: 'deadline-1',
      kind: 'alert',
      subject: 'acme/dev is down',
      body: 'b',
      channels: ['dead-hook'],
      deadline: new Date(Date.now() + 400),
    });
    const done = await settle(row.id);
    expect(done.status).toBe('failed');
    expect(done.lastError).toMatch(
      /^not delivered after \d+ attempts by its deadline .*; last error: webhook http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED$/,
    );
    const log = await st.request('GET', '/api/v1/notifications?status=failed');
    expect((log.body as { notifications: NotificationView[] }).notifications.map((n) => n.key)).toContain(
      'deadline-1',
    );
    // The fallback notification, delivered to the operators' channel.
    const all = (await st.request('GET', '/api/v1/notifications?limit=100')).body as {
      notifications: NotificationView[];
    };
    const told = all.notifications.find((n) => n.key === `notification-failed:${row.id}`);
    expect(told).toBeDefined();
    const delivered = await settle(told?.id ?? '');
    expect(delivered.status).toBe('delivered');
    const request = hook.requests
      .slice(before)
      .find((r) => r.headers['idempotency-key'] === `notification-failed:${row.id}`);
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({
      kind: 'notification-failed',
      subject: 'Notification not delivered: acme/dev is down',
    });
  });

  it('a disabled channel is left out of the default route, and the change is audited', async () => {
    const res = await st.request('PATCH', '/api/v1/notification-channels/dead-hook', { enabled: false });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ name: 'dead-hook', enabled: false });
    const row = await st.services.notifications.enqueue({
      key: 'default-route-1',
      kind: 'alert',
      subject: 's',
      body: 'b',
    });
    const names = new Map((await st.services.notifications.listChannels()).map((c) => [c.id, c.name]));
    expect(row.channels.map((id) => names.get(id))).toEqual(['ops@example.com', 'operators']);
    const audit = await st.request('GET', '/api/v1/audit?action=notification-channel.disable');
    expect(JSON.stringify(audit.body)).toContain('notification-channel:dead-hook');
    const bad = await st.request('PATCH', '/api/v1/notification-channels/dead-hook', { enabled: 'no' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ field: 'enabled' });
  });

  it('bad input: 400 naming field, value and what is accepted; nothing added', async () => {
    const before = (await st.request('GET', '/api/v1/notification-channels')).body as {
      channels: ChannelView[];
    };
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ kind: 'sms', target: '+4917' }, 'kind', /"sms" is not accepted; use one of email, webhook/],
      [{ kind: 'email', target: 'not-an-address' }, 'target', /"not-an-address" is not an email address/],
      [
        { kind: 'webhook', target: 'https://example.com/h', preset: 'discord' },
        'preset',
        /use one of slack, teams, generic/,
      ],
      [
        { kind: 'webhook', target: 'https://example.com/h', secret: 'short' },
        'secret',
        /at least 16 characters/,
      ],
      [{ kind: 'email', target: 'ops@example.com', colour: 'red' }, 'colour', /unknown field "colour"/],
    ];
    for (const [body, field, message] of cases) {
      const res = await st.request('POST', '/api/v1/notification-channels', body);
      expect(res.status, res.text).toBe(400);
      expect(res.body).toMatchObject({ code: 'input', field });
      expect((res.body as { message: string }).message).toMatch(message);
    }
    const duplicate = await st.request('POST', '/api/v1/notification-channels', {
      kind: 'email',
      target: 'ops@example.com',
    });
    expect(duplicate.status).toBe(409);
    const status = await st.request('GET', '/api/v1/notifications?status=lost');
    expect(status.status).toBe(400);
    expect(status.body).toMatchObject({ field: 'status' });
    // What alerts enqueue is checked the same way.
    const notify = st.services.notifications;
    const logged = await notify.log({ limit: 1000 });
    await expect(
      notify.enqueue({ key: 'a\r\nBcc: x', kind: 'alert', subject: 's', body: 'b' }),
    ).rejects.toMatchObject({
      field: 'key',
    });
    await expect(
      notify.enqueue({ key: 'k-1', kind: 'Alert!', subject: 's', body: 'b' }),
    ).rejects.toMatchObject({ field: 'kind' });
    await expect(
      notify.enqueue({ key: 'k-2', kind: 'alert', subject: 's', body: 'b', channels: ['nobody'] }),
    ).rejects.toMatchObject({ field: 'channels' });
    expect(await notify.log({ limit: 1000 })).toEqual(logged);
    const after = (await st.request('GET', '/api/v1/notification-channels')).body as {
      channels: ChannelView[];
    };
    expect(after.channels).toEqual(before.channels);
  });
});
