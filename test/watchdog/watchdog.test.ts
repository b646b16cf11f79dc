import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import type { WatchdogCondition, WatchdogPassResult } from '../../src/watchdog/index.ts';
import { until } from '../harness/stage-app.ts';
import { parseExposition } from '../metrics/exposition.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../notifications/receivers.ts';

/**
 * The watchdog against a real Steward whose work is really stalled: a row
 * lock the job runner's only worker needs, a webhook receiver that holds
 * every delivery, a row lock that keeps the check runner from claiming
 * checks. Each stall raises its watchdog alert; ending it clears the alert.
 * The tests run the watchdog's pass themselves (its timer is off).
 */
const watchdog = {
  enabled: false,
  stalledTicks: 3,
  jobOldestSeconds: 2,
  outboxOldestSeconds: 2,
  checksLateSeconds: 2,
  growingMeasurements: 3,
  growingMinimum: 1000,
};

interface AlertRow {
  id: string;
  source: string;
  dedupKey: string;
  severity: string;
  status: string;
  summary: string;
  resolveNote: string | null;
}

describe('the watchdog', () => {
  let t: TestSteward;
  let hook: WebhookReceiver;
  let locker: pg.Client;

  const pass = (): Promise<WatchdogPassResult> => t.services.watchdog.pass();
  const passUntil = (what: string, test: (r: WatchdogPassResult) => boolean): Promise<WatchdogPassResult> =>
    until(what, async () => {
      const r = await pass();
      return test(r) ? r : undefined;
    });
  const alert = async (condition: WatchdogCondition): Promise<AlertRow | undefined> => {
    const res = await t.request('GET', '/api/v1/alerts?source=watchdog');
    expect(res.status, res.text).toBe(200);
    // The newest: a condition that ended and came back is a new alert.
    return (res.body.alerts as AlertRow[])
      .filter((a) => a.dedupKey === condition)
      .sort((a, b) => Number(b.id) - Number(a.id))[0];
  };

  beforeAll(async () => {
    hook = await startWebhookReceiver();
    t = await startTestSteward({
      config: {
        // One job worker: a job it cannot finish stalls the runner.
        reconcileConcurrency: 1,
        watchdog,
        monitoring: { intervalSeconds: 1, tickMs: 200, timeoutMs: 2000, lateIntervals: 5 },
        // A delivery times out after 1 s: the dispatcher is stalled after 6 s without progress.
        notifications: { retryBaseSeconds: 0.05, retryCapSeconds: 0.2, pollSeconds: 0.1, timeoutSeconds: 1 },
      },
    });
    locker = new pg.Client({ connectionString: replaceDatabase(t.superuserUrl, t.controlDatabase) });
    await locker.connect();
  });

  afterAll(async () => {
    await locker?.end();
    await t?.close();
    await hook?.close();
  });

  it('sees nothing wrong with a Steward that keeps up', async () => {
    const r = await pass();
    expect(r.holding).toEqual([]);
    expect(r.measurement.loops.map((l) => l.loop)).toEqual(['checks', 'jobs', 'notifications']);
    expect(await alert('stalled-jobs')).toBeUndefined();
  });

  it('counts ages from its own start: what piled up while Steward was stopped is not it falling behind', async () => {
    await t.query(
      `insert into jobs (kind, key, run_at) values ('watchdog-test', 'old', now() - interval '1 hour')`,
      [],
      t.controlDatabase,
    );
    try {
      // /metrics shows the age as it is...
      const raw = parseExposition(await t.services.metrics.render());
      expect(raw.value('steward_job_oldest_waiting_seconds', { kind: 'watchdog-test' })).toBeGreaterThan(
        3599,
      );
      // ...the watchdog only what this process has been up for.
      const seen = await t.services.watchdog.measure();
      const up = (Date.now() - t.services.metrics.startedAt) / 1000;
      expect(seen.jobs.oldestWaitingSeconds).toBeLessThanOrEqual(up + 1);
    } finally {
      await t.query(`delete from jobs where kind = 'watchdog-test'`, [], t.controlDatabase);
    }
  });

  it('raises an alert when the job runner stalls and its queue backs up, and clears both when it resumes', async () => {
    // A job due in a moment, its row locked first: the worker runs it, then waits on the lock to finish it.
    await t.query(
      `insert into jobs (kind, key, run_at) values ('reconcile-tenant', '999001', now() + interval '1 second')`,
      [],
      t.controlDatabase,
    );
    await locker.query('begin');
    await locker.query(`select 1 from jobs where kind = 'reconcile-tenant' and key = '999001' for update`);
    try {
      await until('the worker holding the job', async () =>
        (await t.services.watchdog.measure()).jobs.running === 1 ? true : undefined,
      );
      await t.query(
        `insert into jobs (kind, key, run_at) values ('reconcile-tenant', '999002', now())`,
        [],
        t.controlDatabase,
      );
      const stalled = await passUntil(
        'stalled-jobs and job-backlog',
        (r) => r.holding.includes('stalled-jobs') && r.holding.includes('job-backlog'),
      );
      expect(stalled.measurement.jobs).toMatchObject({ waiting: 1, running: 1 });
      const raised = await alert('stalled-jobs');
      expect(raised).toMatchObject({ source: 'watchdog', severity: 'critical', status: 'firing' });
      // /metrics counts it among the open alerts.
      const scraped = parseExposition(await t.services.metrics.render());
      expect(
        scraped.value('steward_alerts', { severity: 'critical', status: 'firing', muted: 'false' }),
      ).toBeGreaterThanOrEqual(1);
      expect(raised?.summary).toMatch(
        /^The job runner made no progress for [\d.]+ s while 1 jobs wait \(1 running\)/,
      );
      expect((await alert('job-backlog'))?.summary).toMatch(
        /^The job queue backed up: 1 waiting; the oldest has waited [\d.]+ s \(limit 2 s\)$/,
      );
      // Raised once: a second pass finds the same open alert.
      await pass();
      const open = await t.request('GET', '/api/v1/alerts?source=watchdog&open=true');
      expect((open.body.alerts as AlertRow[]).filter((a) => a.dedupKey === 'stalled-jobs')).toHaveLength(1);
    } finally {
      await locker.query('rollback');
    }
    await passUntil(
      'the job runner caught up',
      (r) => !r.holding.includes('stalled-jobs') && !r.holding.includes('job-backlog'),
    );
    for (const condition of ['stalled-jobs', 'job-backlog'] as const) {
      const done = await alert(condition);
      expect(done?.status, condition).toBe('resolved');
      expect(done?.resolveNote).toContain(condition);
    }
  }, 60_000);

  it('raises an alert when notifications cannot be delivered, and clears it when the outbox drains', async () => {
    const channel = await t.request('POST', '/api/v1/notification-channels', {
      kind: 'webhook',
      target: hook.url,
      name: 'held-hook',
    });
    expect(channel.status, channel.text).toBe(201);
    hook.hold();
    try {
      await t.services.notifications.enqueue({
        key: 'watchdog-outbox-1',
        kind: 'test',
        subject: 'held',
        body: 'a notification the receiver holds',
      });
      const backed = await passUntil('outbox-backlog', (r) => r.holding.includes('outbox-backlog'));
      expect(backed.measurement.outbox.pending).toBeGreaterThanOrEqual(1);
      expect((await alert('outbox-backlog'))?.summary).toMatch(
        /^The notification outbox backed up: \d+ waiting; the oldest has waited [\d.]+ s \(limit 2 s\)$/,
      );
      // The alert itself goes out through the outbox (after the alerts' group wait), to the same held receiver.
      await until('the alert enqueued', async () =>
        (await t.services.watchdog.measure()).outbox.pending >= 2 ? true : undefined,
      );
    } finally {
      hook.release();
    }
    await passUntil('the outbox drained', (r) => r.cleared.includes('outbox-backlog'));
    expect((await alert('outbox-backlog'))?.status).toBe('resolved');
    // The receiver got the held notification and the watchdog's own alert about it.
    expect(hook.requests.some((r) => r.body.includes('a notification the receiver holds'))).toBe(true);
    await until('the alert told through the outbox', () =>
      Promise.resolve(
        hook.requests.some((r) => r.body.includes('The notification outbox backed up')) || undefined,
      ),
    );
  }, 60_000);

  it('raises an alert when checks are not probed on time, and clears it when they are', async () => {
    await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
    await t.waitForStages('acme');
    await until('the stage checks probed', async () => {
      const res = await t.request('GET', '/api/v1/tenants/acme/checks');
      const checks = res.body.checks as { state: string }[];
      return checks.length > 0 && checks.every((c) => c.state === 'up') ? true : undefined;
    });
    // Locked checks are skipped by the runner's claim: they fall behind.
    await locker.query('begin');
    await locker.query('select id from checks where removed_at is null for update');
    try {
      const late = await passUntil('checks-late', (r) => r.holding.includes('checks-late'));
      expect(late.measurement.checks.mostOverdueSeconds).toBeGreaterThan(2);
      expect((await alert('checks-late'))?.summary).toMatch(
        /^Checks are late: the most overdue was due [\d.]+ s ago \(limit 2 s\); \d+ due$/,
      );
    } finally {
      await locker.query('rollback');
    }
    await passUntil('checks on time again', (r) => r.cleared.includes('checks-late'));
    expect((await alert('checks-late'))?.status).toBe('resolved');
  }, 60_000);

  it('raises an alert when the check runner stops making progress, and clears it when it resumes', async () => {
    // Probes run, but no result can be stored: the pass never completes and no further probe starts.
    await locker.query('begin');
    await locker.query('lock table check_rollups in exclusive mode');
    try {
      const stalled = await passUntil('stalled-checks', (r) => r.holding.includes('stalled-checks'));
      const checks = stalled.measurement.loops.find((l) => l.loop === 'checks');
      expect(checks?.idleSeconds).toBeGreaterThan(checks?.stalledAfterSeconds ?? Infinity);
      expect(await alert('stalled-checks')).toMatchObject({ severity: 'critical', status: 'firing' });
      expect((await alert('stalled-checks'))?.summary).toMatch(
        /^The check runner made no progress for [\d.]+ s/,
      );
    } finally {
      await locker.query('rollback');
    }
    await passUntil('the check runner resumed', (r) => r.cleared.includes('stalled-checks'));
    expect((await alert('stalled-checks'))?.status).toBe('resolved');
  }, 60_000);

  it('raises an alert when the dispatcher stops making progress, and clears it when it resumes', async () => {
    // A delivery succeeds but cannot be recorded: the dispatcher's pass waits on the lock.
    await locker.query('begin');
    await locker.query('lock table notification_deliveries in exclusive mode');
    try {
      await t.services.notifications.enqueue({
        key: 'watchdog-dispatcher-1',
        kind: 'test',
        subject: 'stuck',
        body: 'delivered, not recorded until the lock goes',
      });
      await passUntil('stalled-notifications', (r) => r.holding.includes('stalled-notifications'));
      expect((await alert('stalled-notifications'))?.summary).toMatch(
        /^The notification dispatcher made no progress for [\d.]+ s \(stalled after 6 s\)$/,
      );
    } finally {
      await locker.query('rollback');
    }
    await passUntil('the dispatcher resumed', (r) => r.cleared.includes('stalled-notifications'));
    expect((await alert('stalled-notifications'))?.status).toBe('resolved');
  }, 60_000);
});
