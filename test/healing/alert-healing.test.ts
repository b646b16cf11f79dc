import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/contract.ts';
import type { HealAttemptView } from '../../src/healing/index.ts';
import { run } from '../../src/system/exec.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startMailServer, type MailServer } from '../notifications/receivers.ts';
import { deployWedge, ping, signalApp, until, webProcess } from './support.ts';

/**
 * Self-healing end to end: a real Steward probes /api/ping of each stage's
 * web process (an operator check); a rule with `for: 15s` restarts the
 * process while its alert is pending. A web process whose work hangs (its
 * liveness answers, so the supervisor sees nothing) is healed before the
 * duration ends: the alert resolves while pending and no email is sent,
 * the attempt is kept with the alert. A fault that survives restarts gets at
 * most healing.maxAttempts restarts; then the alert fires and a real SMTP
 * server receives the email.
 */
const smtpUser = 'healing-mailer';
const smtpPassword = 'healing-smtp-password';

let t: TestSteward;
let mail: MailServer;

beforeAll(async () => {
  mail = await startMailServer({ user: smtpUser, password: smtpPassword });
  t = await startTestSteward({
    runtimeTickMs: 500,
    config: {
      // Built-in checks at their default interval; the operator checks below every 5 s (their shortest).
      monitoring: { tickMs: 200, timeoutMs: 800 },
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'steward@example.com' },
        pollSeconds: 0.2,
        timeoutSeconds: 2,
      },
      alerts: {
        groupWaitSeconds: 0,
        passSeconds: 0.2,
        rules: [
          { name: 'ping-down', match: { builtin: 'operator' }, for: '15s', heal: 'restart-process' },
          { name: 'stage-down', match: {} },
        ],
      },
      // The cool-down outlasts a probe interval: the next attempt waits for the check to see the last one.
      healing: { maxAttempts: 2, coolDownSeconds: 8, attemptTimeoutSeconds: 30 },
    },
  });
  await t.services.notifications.keepSmtpCredentials(smtpUser, smtpPassword);
  const channel = await t.request('POST', '/api/v1/notification-channels', {
    kind: 'email',
    target: 'oncall@example.com',
  });
  expect(channel.status, channel.text).toBe(201);
  await deployWedge(t, 'acme', ['prod', 'test']);
  for (const stage of ['prod', 'test']) {
    const added = await t.request('POST', `/api/v1/tenants/acme/stages/${stage}/checks`, {
      path: '/api/ping',
      via: 'processes',
      expectStatus: 200,
      interval: '5s',
    });
    expect(added.status, added.text).toBe(201);
  }
  await until(
    'the ping checks up',
    async () => {
      const res = await t.request('GET', '/api/v1/tenants/acme/checks');
      const pings = (res.body.checks as { origin: string; state: string }[]).filter(
        (c) => c.origin === 'operator',
      );
      return pings.length === 2 && pings.every((c) => c.state === 'up') ? true : undefined;
    },
    30_000,
  );
}, 240_000);

afterAll(async () => {
  await t?.close();
  await mail?.close();
});

async function pingAlert(stage: string, match: (a: AlertView) => boolean): Promise<AlertView> {
  return until(
    `the ping alert of acme/${stage}`,
    async () => {
      const res = await t.request('GET', `/api/v1/alerts?tenant=acme&stage=${stage}`);
      return (res.body.alerts as AlertView[]).find((a) => a.rule === 'ping-down' && match(a));
    },
    60_000,
  );
}

async function attemptsOf(alert: string): Promise<HealAttemptView[]> {
  const res = await t.request('GET', `/api/v1/healing/attempts?alert=${alert}`);
  expect(res.status, res.text).toBe(200);
  return (res.body.attempts as HealAttemptView[]).reverse();
}

const mailsAbout = (id: string): string[] =>
  mail.mails.filter((m) => m.raw.includes(`alert:${id}:`)).map((m) => m.header('subject') ?? '');

// The two stages are healed side by side.
describe.concurrent('self-healing bound to an alert rule', () => {
  it('heals a hung web process within the rule duration: the alert resolves while pending and nobody is emailed', async () => {
    const before = await webProcess(t, 'acme', 'prod');
    await signalApp(before.pid, 'SIGUSR2');
    const pending = await pingAlert('prod', (a) => a.status === 'pending');
    expect(pending.summary).toContain('/api/ping');
    const resolved = await pingAlert('prod', (a) => a.id === pending.id && a.status === 'resolved');
    expect(resolved.firedAt).toBeNull();
    expect(Date.parse(resolved.resolvedAt ?? '')).toBeLessThan(Date.parse(pending.startedAt) + 15_000);
    const after = await webProcess(t, 'acme', 'prod');
    expect(after.pid).not.toBe(before.pid);
    expect(await ping(after.port)).toMatch(/^ok pid/);

    // One restart; until the next probe saw it up, the alert service asked again and heard "cooling down".
    const [attempt, ...more] = await attemptsOf(pending.id);
    expect(attempt).toMatchObject({ action: 'restart-process', target: 'acme/prod', outcome: 'succeeded' });
    expect(attempt?.detail).toMatch(/^restarted web\.0 \(pid \d+ -> \d+\)/);
    expect(more.map((a) => a.outcome)).toEqual(more.length ? ['skipped-cooling-down'] : []);
    // Past the moment it would have fired, and a few outbox polls later: still no email.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(pending.startedAt) + 17_000 - Date.now())));
    expect(mailsAbout(pending.id)).toEqual([]);
    expect(mail.mails.filter((m) => m.raw.includes('acme/prod'))).toEqual([]);
    const kept = await t.request('GET', `/api/v1/alerts/${pending.id}`);
    expect(kept.body).toMatchObject({ status: 'resolved', firedAt: null, firstNotifiedAt: null });
    // The evidence is shown with the alert.
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: t.dataDir,
      STEWARD_API_URL: await t.steward.start(),
      STEWARD_TOKEN: t.token,
    };
    const steward = resolve(import.meta.dirname, '../../bin/steward');
    const shown = await run(steward, ['alert', 'show', pending.id], { env });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^self-healing:$/m);
    expect(shown.stdout).toMatch(
      new RegExp(
        `^${attempt?.id} +${pending.id} +restart-process +acme/prod .* succeeded +restarted web\\.0`,
        'm',
      ),
    );
    const json = await run(steward, ['alert', 'show', pending.id, '-o', 'json'], { env });
    const shownJson = JSON.parse(json.stdout) as AlertView & { healing: HealAttemptView[] };
    expect(shownJson.id).toBe(pending.id);
    expect(shownJson.healing[0]).toMatchObject({ id: attempt?.id, outcome: 'succeeded' });
  }, 90_000);

  it('restarts a process that stays broken at most healing.maxAttempts times, then the alert fires and people are emailed', async () => {
    const [stage] = await t.query<{ files_dir: string }>(
      "select files_dir from stages s join tenants t on t.id = s.tenant_id where t.slug = 'acme' and s.name = 'test'",
      [],
      t.controlDatabase,
    );
    const marker = join(stage?.files_dir ?? '', 'wedge-on-start');
    await writeFile(marker, '');
    try {
      const first = await webProcess(t, 'acme', 'test');
      await signalApp(first.pid, 'SIGUSR2');
      const pending = await pingAlert('test', (a) => a.status === 'pending');
      const firing = await pingAlert('test', (a) => a.id === pending.id && a.status === 'firing');
      const mails = await until('the email', () => {
        const found = mailsAbout(firing.id);
        return Promise.resolve(found.length > 0 ? found : undefined);
      });
      expect(mails[0]).toContain('acme/test');
      const attempts = await until('the rate limit recorded', async () => {
        const all = await attemptsOf(firing.id);
        return all.at(-1)?.outcome === 'skipped-rate-limited' ? all : undefined;
      });
      expect(attempts.filter((a) => a.outcome === 'succeeded')).toHaveLength(2);
      expect(attempts.filter((a) => a.outcome !== 'succeeded').map((a) => a.outcome)).toEqual([
        'skipped-cooling-down',
        'skipped-rate-limited',
      ]);
      // Both restarts before it fired: healing had its chance first.
      for (const a of attempts.filter((x) => x.outcome === 'succeeded')) {
        expect(Date.parse(a.startedAt)).toBeLessThan(Date.parse(firing.firedAt ?? ''));
      }
      expect(attempts.at(-1)?.detail).toContain('at most 2, healing.maxAttempts');
      // However long it stays broken: no third restart.
      const restarted = await webProcess(t, 'acme', 'test');
      await new Promise((r) => setTimeout(r, 3000));
      expect((await webProcess(t, 'acme', 'test')).pid).toBe(restarted.pid);
      expect((await attemptsOf(firing.id)).filter((a) => a.outcome === 'succeeded')).toHaveLength(2);
    } finally {
      await rm(marker, { force: true });
    }
  }, 90_000);
});
