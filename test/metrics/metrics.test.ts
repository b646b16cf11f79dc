import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import { InputError } from '../../src/core/errors.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { deployLedger, until, withDescendants } from '../harness/stage-app.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../notifications/receivers.ts';
import { parseExposition, type Exposition } from './exposition.ts';

/**
 * /metrics of a real Steward running the sample app: after real check passes,
 * a real notification (retried once, then delivered to a real receiver), a
 * process killed and restarted, and a job waiting in the queue, the scrape
 * parses and holds those series with sensible values. Without a token only
 * the allow-listed addresses may scrape.
 */
const monitoring = { intervalSeconds: 1, tickMs: 200, timeoutMs: 800, lateIntervals: 5 };
const allowed = '192.0.2.0/24';

describe('/metrics', () => {
  let t: TestSteward;
  let hook: WebhookReceiver;

  const scrape = async (
    headers: Record<string, string> = { authorization: `Bearer ${t.token}` },
    remoteAddress = '127.0.0.1',
  ): Promise<{ status: number; text: string; contentType: string | undefined }> => {
    const res = await t.api.inject({ method: 'GET', url: '/metrics', headers, remoteAddress });
    return { status: res.statusCode, text: res.body, contentType: res.headers['content-type'] as string };
  };
  const metrics = async (): Promise<Exposition> => {
    const res = await scrape();
    expect(res.status, res.text).toBe(200);
    return parseExposition(res.text);
  };

  beforeAll(async () => {
    hook = await startWebhookReceiver();
    t = await startTestSteward({
      runtimeTickMs: 500,
      gateway: true,
      config: {
        monitoring,
        notifications: { retryBaseSeconds: 0.05, retryCapSeconds: 0.1, pollSeconds: 0.1, timeoutSeconds: 20 },
        metrics: { allow: [allowed] },
      },
    });
    await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
    await t.waitForStages('acme');
    await deployLedger(t, 'acme', 'prod');
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    await hook?.close();
  });

  it("serves Steward's own series, with sensible values, after real work", async () => {
    // Checks: every built-in check of the stage probed and up.
    await until('built-in checks up', async () => {
      const res = await t.request('GET', '/api/v1/tenants/acme/checks');
      const checks = res.body.checks as { builtin: string | null; state: string }[];
      return checks.length >= 6 && checks.every((c) => c.state === 'up') ? true : undefined;
    });
    // A job nobody handles, due a minute ago: it waits.
    await t.query(
      `insert into jobs (kind, key, run_at) values ('metrics-test', 'waiting-1', now() - interval '60 seconds')`,
      [],
      t.controlDatabase,
    );
    // A notification: its first attempt is held by the receiver (pending meanwhile), answered 503, then delivered.
    const channel = await t.request('POST', '/api/v1/notification-channels', {
      kind: 'webhook',
      target: hook.url,
      name: 'ops-hook',
    });
    expect(channel.status, channel.text).toBe(201);
    hook.failNext(503);
    hook.hold();
    const row = await t.services.notifications.enqueue({
      key: 'metrics-1',
      kind: 'test',
      subject: 'metrics test',
      body: 'one notification, retried once',
    });
    await until('the first attempt in flight', () =>
      Promise.resolve(hook.requests.length >= 1 ? true : undefined),
    );
    await new Promise((r) => setTimeout(r, 300));
    const during = await metrics();
    expect(during.value('steward_notifications', { state: 'pending' })).toBe(1);
    expect(during.value('steward_notification_oldest_pending_seconds')).toBeGreaterThan(0.2);
    expect(during.value('steward_notification_oldest_pending_seconds')).toBeLessThan(60);
    hook.release();
    await until('the notification delivered', async () =>
      (await t.services.notifications.notification(row.id)).status === 'delivered' ? true : undefined,
    );
    // A process killed: the supervisor restarts it.
    const ps = await t.request('GET', '/api/v1/tenants/acme/ps');
    const web = ps.body.stages[0].processes.find((p: { process: string }) => p.process === 'web');
    for (const pid of (await withDescendants(web.pid as number)).reverse()) process.kill(pid, 'SIGKILL');
    await until('the web process restarted', async () => {
      const res = await t.request('GET', '/api/v1/tenants/acme/ps');
      const again = res.body.stages[0].processes.find((p: { process: string }) => p.process === 'web');
      return again.restarts >= 1 && again.phase === 'running' ? true : undefined;
    });

    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseExposition(res.text);
    const now = Date.now() / 1000;

    // Jobs: the stage's reconciles and the deployment ran and were timed; the unhandled job waits.
    expect(
      m.value('steward_job_duration_seconds_count', { kind: 'reconcile-stage', outcome: 'done' }),
    ).toBeGreaterThan(0);
    expect(m.value('steward_job_duration_seconds_count', { kind: 'deploy', outcome: 'done' })).toBe(1);
    expect(m.value('steward_jobs', { kind: 'metrics-test', state: 'waiting' })).toBe(1);
    expect(m.value('steward_jobs', { kind: 'metrics-test', state: 'running' })).toBe(0);
    expect(m.value('steward_job_oldest_waiting_seconds', { kind: 'metrics-test' })).toBeGreaterThanOrEqual(
      59,
    );
    // Checks: probes timed, on time within a few ticks, nothing overdue; each check's state, per stage too.
    const probes = m.value('steward_check_probe_duration_seconds_count', { kind: 'database' });
    expect(probes).toBeGreaterThan(0);
    expect(m.value('steward_check_probe_duration_seconds_sum', { kind: 'database' }) / probes).toBeLessThan(
      0.8,
    );
    const lateCount = m.value('steward_check_probe_lateness_seconds_count', { kind: 'http' });
    expect(lateCount).toBeGreaterThan(0);
    // Most probes start within a second of being due (a tick is 200 ms).
    expect(m.value('steward_check_probe_lateness_seconds_bucket', { kind: 'http', le: '1' })).toBeGreaterThan(
      lateCount / 2,
    );
    expect(m.value('steward_checks_overdue_seconds')).toBeLessThan(5);
    expect(m.value('steward_check_state', { tenant: 'acme', stage: 'prod', check: 'database' })).toBe(0);
    expect(m.find('steward_check_state', { tenant: 'acme', stage: 'prod' }).length).toBeGreaterThanOrEqual(6);
    expect(m.value('steward_stage_checks', { tenant: 'acme', stage: 'prod', state: 'down' })).toBe(0);
    expect(
      ['up', 'degraded', 'down', 'unknown'].reduce(
        (n, state) => n + m.value('steward_stage_checks', { tenant: 'acme', stage: 'prod', state }),
        0,
      ),
    ).toBe(m.find('steward_check_state', { tenant: 'acme', stage: 'prod' }).length);
    // The outbox: drained; one attempt retried, one delivered.
    expect(m.value('steward_notifications', { state: 'pending' })).toBe(0);
    expect(m.value('steward_notification_oldest_pending_seconds')).toBe(0);
    expect(m.value('steward_notification_attempts_total', { channel: 'ops-hook', outcome: 'retried' })).toBe(
      1,
    );
    expect(
      m.value('steward_notification_attempts_total', { channel: 'ops-hook', outcome: 'delivered' }),
    ).toBe(1);
    // The stage's restart, and the gateway's requests (the gateway check goes through it).
    expect(
      m.value('steward_stage_process_restarts_total', { tenant: 'acme', stage: 'prod' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      m.value('steward_gateway_requests_total', { tenant: 'acme', stage: 'prod', status_class: '2xx' }),
    ).toBeGreaterThan(0);
    expect(m.types.get('steward_gateway_request_duration_seconds')).toBe('histogram');
    // Those requests came through HAProxy's access log (its ring into Steward's receiver).
    expect(m.value('steward_dataplane_access_log_messages_total', { outcome: 'record' })).toBeGreaterThan(0);
    expect(m.value('steward_dataplane_access_log_messages_total', { outcome: 'malformed' })).toBe(0);
    // Every loop passed within the last few seconds; the control DB was read.
    for (const loop of ['checks', 'jobs', 'notifications'])
      expect(now - m.value('steward_loop_last_progress_timestamp_seconds', { loop })).toBeLessThan(5);
    expect(m.value('steward_control_database_up')).toBe(1);
    for (const sample of m.samples) expect(Number.isNaN(sample.value), sample.name).toBe(false);

    await t.query(`delete from jobs where kind = 'metrics-test'`, [], t.controlDatabase);
    expect((await metrics()).find('steward_jobs', { kind: 'metrics-test' })).toEqual([]);
  }, 90_000);

  it('refuses scrapes without a token from outside metrics.allow', async () => {
    const refused: [string, Record<string, string>, string][] = [
      ['no token', {}, '198.51.100.7'],
      [
        'a forged forwarding header',
        { 'x-forwarded-for': '192.0.2.5', 'x-real-ip': '192.0.2.5' },
        '198.51.100.7',
      ],
      ['a wrong token', { authorization: 'Bearer stw_not-a-token' }, '198.51.100.7'],
      ['a wrong token, even from loopback', { authorization: 'Bearer stw_not-a-token' }, '127.0.0.1'],
      ['no token, from loopback (not allow-listed here)', {}, '127.0.0.1'],
    ];
    for (const [what, headers, address] of refused) {
      const res = await scrape(headers, address);
      expect(res.status, what).toBe(401);
      expect(res.text, what).not.toContain('steward_');
      expect(res.text, what).not.toContain('acme');
    }
    const why = JSON.parse((await scrape({}, '198.51.100.7')).text) as { message: string };
    expect(why.message).toContain('metrics.allow');
    expect(why.message).toContain('198.51.100.7');
    for (const address of ['192.0.2.5', '::ffff:192.0.2.200'])
      expect((await scrape({}, address)).status, address).toBe(200);
    expect((await scrape(undefined, '198.51.100.7')).status).toBe(200);
  });

  it("serves HAProxy's own exporter at /metrics/haproxy, behind the same guard", async () => {
    const url = '/metrics/haproxy';
    const res = await t.api.inject({ method: 'GET', url, headers: { authorization: `Bearer ${t.token}` } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toMatch(/^haproxy_backend_http_responses_total\{proxy="st_[^"]+",code="2xx"\} [1-9]/m);
    const refused = await t.api.inject({ method: 'GET', url, remoteAddress: '198.51.100.7' });
    expect(refused.statusCode).toBe(401);
    expect(refused.body).not.toContain('haproxy_');
  });

  it('refuses a bad metrics.allow at start, naming the entry', () => {
    for (const [entry, message] of [
      ['10.0.0.1/8', /"10\.0\.0\.1\/8" has bits set after the \/8 prefix/],
      ['everyone', /"everyone" is not an IPv4 or IPv6 address/],
    ] as const) {
      let error: unknown;
      try {
        parseConfig({ dataDir: '/tmp/x', metrics: { allow: ['127.0.0.1/32', entry] } });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).field).toBe('metrics.allow');
      expect((error as Error).message).toMatch(/^config field metrics\.allow: /);
      expect((error as Error).message).toMatch(message);
    }
  });
});
