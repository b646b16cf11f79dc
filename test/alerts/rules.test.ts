import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView, HealAction } from '../../src/alerts/index.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import { eventually } from '../cli/process.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startMailServer, type MailServer } from '../notifications/receivers.ts';

/** Polls every 100 ms for up to 30 s. */
const until = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> =>
  eventually(what, probe, 30_000, 100);

/**
 * Rules over real checks: a real Steward probes each stage's database every
 * second (as the stage's role); a test turns a stage database's connections
 * off and on again, and a real SMTP server receives what people are told.
 */
const smtpUser = 'rules-mailer';
const smtpPassword = 'rules-smtp-password';
const tenants = ['acme', 'slowco', 'quiet', 'inhib', 'flappy'] as const;

let st: TestSteward;
let mail: MailServer;
const heals: { alert: string; action: HealAction; status: string }[] = [];

beforeAll(async () => {
  mail = await startMailServer({ user: smtpUser, password: smtpPassword });
  st = await startTestSteward({
    config: {
      // Probes every second; a probe 5 s late (a loaded machine) counts as Steward not probing.
      monitoring: { intervalSeconds: 1, tickMs: 200, timeoutMs: 800, lateIntervals: 5 },
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'steward@example.com' },
        pollSeconds: 0.2,
        timeoutSeconds: 2,
      },
      alerts: {
        groupWaitSeconds: 0,
        passSeconds: 0.2,
        flapChanges: 4,
        flapWindowMinutes: 2,
        rules: [
          {
            name: 'slow-database',
            match: { tenant: 'slowco', kind: 'database' },
            for: '6s',
            heal: 'restart-stage',
          },
          { name: 'stage-database-down', match: { kind: 'database' }, inhibits: true },
          { name: 'stage-down', match: {} },
        ],
      },
    },
  });
  await st.services.notifications.keepSmtpCredentials(smtpUser, smtpPassword);
  // A healer that records what it is asked (self-healing supplies the real one).
  st.services.alerts.useHealer({
    heal: (alert, action) => {
      heals.push({ alert: alert.id, action, status: alert.status });
      return Promise.resolve();
    },
  });
  expect(
    (
      await st.request('POST', '/api/v1/notification-channels', {
        kind: 'email',
        target: 'oncall@example.com',
      })
    ).status,
  ).toBe(201);
  for (const slug of tenants) await st.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
  for (const slug of tenants) await st.waitForStages(slug);
  await until('every database check up', async () => {
    for (const slug of tenants) {
      const res = await st.request('GET', `/api/v1/tenants/${slug}/checks`);
      const db = (res.body.checks as { builtin: string; state: string }[]).find(
        (c) => c.builtin === 'database',
      );
      if (db?.state !== 'up') return undefined;
    }
    return true;
  });
}, 120_000);

afterAll(async () => {
  await st?.close();
  await mail?.close();
});

/** Turns a stage database's connections off (its database check goes down) or on. */
async function connections(slug: string, on: boolean): Promise<void> {
  const database = await st.database(slug, 'prod');
  await st.query(`alter database ${quoteIdent(database)} allow_connections ${on}`);
}

async function alertsOf(slug: string): Promise<AlertView[]> {
  const res = await st.request('GET', `/api/v1/alerts?tenant=${slug}`);
  expect(res.status, res.text).toBe(200);
  return res.body.alerts as AlertView[];
}

const waitAlert = (slug: string, what: string, match: (a: AlertView) => boolean): Promise<AlertView> =>
  until(`${slug}: ${what}`, async () => (await alertsOf(slug)).find(match));

const mailsAbout = (id: string): string[] =>
  mail.mails.filter((m) => m.raw.includes(`alert:${id}:`)).map((m) => m.header('subject') ?? '');

describe('alert rules over check states', () => {
  it('a stage database going down fires, emails, and resolves when it is up again', async () => {
    const started = Date.now();
    await connections('acme', false);
    const firing = await waitAlert('acme', 'a firing alert', (a) => a.status === 'firing');
    expect(firing).toMatchObject({
      rule: 'stage-database-down',
      source: 'check',
      severity: 'critical',
      tenant: 'acme',
      stage: 'prod',
      groupKey: 'acme/prod',
      summary: expect.stringMatching(/^database check down: /) as string,
      mutedBy: null,
    });
    expect(String(firing.details.seen)).toContain('not currently accepting connections');
    const subject = await until('the email', () => Promise.resolve(mailsAbout(firing.id)[0]));
    expect(subject).toMatch(/^\[Steward\] FIRING critical: acme\/prod: database check down/);
    const told = await until('firstNotifiedAt', async () => {
      const a = await st.services.alerts.get(firing.id);
      return a.firstNotifiedAt ? a : undefined;
    });
    // Down after 2 failed probes a second apart, told within seconds of that.
    expect(Date.parse(told.firstNotifiedAt ?? '') - started).toBeLessThan(15_000);

    await connections('acme', true);
    const resolved = await waitAlert(
      'acme',
      'resolved',
      (a) => a.id === firing.id && a.status === 'resolved',
    );
    expect(resolved).toMatchObject({ resolvedBy: 'system', resolveNote: 'the check is up again' });
    await until('the resolved email', () =>
      Promise.resolve(mailsAbout(firing.id).find((s) => s.includes('RESOLVED critical'))),
    );
  });

  it('a rule with a duration is pending (healing is asked, nobody is told), resolves silently, or fires after it', async () => {
    await connections('slowco', false);
    const pending = await waitAlert('slowco', 'a pending alert', (a) => a.status === 'pending');
    expect(pending.rule).toBe('slow-database');
    await until('the healer asked', () =>
      Promise.resolve(heals.find((h) => h.alert === pending.id && h.action === 'restart-stage')),
    );
    // Healing "fixed it" within the duration: kept as evidence, resolved, nobody told.
    await connections('slowco', true);
    const quiet = await waitAlert(
      'slowco',
      'resolved',
      (a) => a.id === pending.id && a.status === 'resolved',
    );
    expect(quiet.firedAt).toBeNull();
    expect(quiet.firstNotifiedAt).toBeNull();

    // Still down after the duration: it fires and people are told.
    await connections('slowco', false);
    const next = await waitAlert('slowco', 'a new pending alert', (a) => a.status === 'pending');
    const fired = await waitAlert('slowco', 'firing', (a) => a.id === next.id && a.status === 'firing');
    expect(Date.parse(fired.firedAt ?? '') - Date.parse(fired.startedAt)).toBeGreaterThanOrEqual(5_000);
    await until('the email', () => Promise.resolve(mailsAbout(fired.id)[0]));
    expect(mailsAbout(pending.id)).toEqual([]);
    await connections('slowco', true);
  }, 60_000);

  it('a silence mutes: the alert is recorded with mutedBy, and told once the silence is removed', async () => {
    const bad = await st.request('POST', '/api/v1/silences', { tenant: 'quiet', for: '2h', reason: '' });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('reason');
    const added = await st.request('POST', '/api/v1/silences', {
      tenant: 'quiet',
      for: '2h',
      reason: 'vendor migration',
    });
    expect(added.status, added.text).toBe(201);
    await connections('quiet', false);
    const muted = await waitAlert('quiet', 'a firing alert', (a) => a.status === 'firing');
    expect(muted.mutedBy).toBe(`silence:${added.body.id}`);
    await new Promise((r) => setTimeout(r, 1500));
    expect(mailsAbout(muted.id)).toEqual([]);
    expect((await st.request('DELETE', `/api/v1/silences/${added.body.id}`)).status).toBe(200);
    await until('told after the silence', () => Promise.resolve(mailsAbout(muted.id)[0]));
    expect((await st.services.alerts.get(muted.id)).mutedBy).toBeNull();
    await connections('quiet', true);
    await waitAlert('quiet', 'resolved', (a) => a.id === muted.id && a.status === 'resolved');
  });

  it('inhibition: a down shared cluster mutes the alerts of the stages on it', async () => {
    const cluster = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'shared-cluster-down',
      severity: 'critical',
      summary: 'the shared cluster does not answer',
      inhibits: true,
    });
    await connections('inhib', false);
    const symptom = await waitAlert('inhib', 'a firing alert', (a) => a.status === 'firing');
    expect(symptom.mutedBy).toBe(`alert:${cluster.id}`);
    await new Promise((r) => setTimeout(r, 1500));
    expect(mailsAbout(symptom.id)).toEqual([]);
    expect(mailsAbout(cluster.id)).toHaveLength(1);
    // The cause is gone but the stage is still down: now it is told.
    await st.services.alerts.clear('watchdog', 'shared-cluster-down', 'the cluster answers again');
    await until('the stage alert told', () => Promise.resolve(mailsAbout(symptom.id)[0]));
    await connections('inhib', true);
    await waitAlert('inhib', 'resolved', (a) => a.id === symptom.id && a.status === 'resolved');
  });

  it('a flapping check keeps one alert, marked flapping, not a storm of notifications', async () => {
    const databaseCheck = async (): Promise<string> => {
      const res = await st.request('GET', '/api/v1/tenants/flappy/checks');
      return (res.body.checks as { builtin: string; state: string }[]).find((c) => c.builtin === 'database')
        ?.state as string;
    };
    const toggle = async (on: boolean): Promise<void> => {
      await connections('flappy', on);
      await until(`the check ${on ? 'up' : 'down'}`, async () =>
        (await databaseCheck()) === (on ? 'up' : 'down') ? true : undefined,
      );
    };
    // down, up, down, up: 4 changes in the window is flapping.
    for (const on of [false, true, false, true]) await toggle(on);
    const all = await alertsOf('flappy');
    // The first down fired and resolved; the second fired, then became flapping and stays open while it flaps.
    expect(all).toHaveLength(2);
    const [flapping, first] = all;
    expect(first?.status).toBe('resolved');
    expect(flapping).toMatchObject({ status: 'firing', flapping: true });
    await new Promise((r) => setTimeout(r, 1000));
    const told = mail.mails.filter((m) => m.header('subject')?.includes('flappy/prod')).length;
    // Fired and resolved for the first, fired for the second: 3, whatever it does next.
    expect(told).toBe(3);
    await toggle(false);
    await toggle(true);
    expect(await alertsOf('flappy')).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 1000));
    expect(mail.mails.filter((m) => m.header('subject')?.includes('flappy/prod')).length).toBe(3);
  }, 90_000);
});
