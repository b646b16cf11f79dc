import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentDetail } from '../../src/incidents/index.ts';
import { postmortemExample } from '../../src/incidents/index.ts';
import { apiCli } from '../harness/api-cli.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startMailServer, type MailServer, type ReceivedMail } from '../notifications/receivers.ts';

/**
 * Incidents against a real Steward and a real SMTP server: opened from an
 * alert (linked with its stage), a timeline of updates, alerts, notifications
 * and status-page posts, audited; severity 1-2 close only with a post-mortem;
 * security incidents' notice deadlines remind and escalate by email (a short
 * customer deadline by config, run by the timer); bad input names the field
 * and changes nothing.
 */
const smtpUser = 'incidents-mailer';
const smtpPassword = 'incidents-smtp-password';

let st: TestSteward;
let mail: MailServer;

beforeAll(async () => {
  mail = await startMailServer({ user: smtpUser, password: smtpPassword });
  st = await startTestSteward({
    workers: false,
    config: {
      notifications: {
        smtp: { host: '127.0.0.1', port: mail.port, secure: false, from: 'steward@example.com' },
        retryBaseSeconds: 0.05,
        retryCapSeconds: 0.1,
        timeoutSeconds: 2,
        pollSeconds: 0.1,
      },
      alerts: { groupWaitSeconds: 0 },
      incidents: {
        // 7 s (whole seconds): the timer's reminder comes 3 s before, the escalation at the deadline.
        customerNoticeHours: 0.002,
        authorityNoticeHours: 4,
        remindBeforeMinutes: [60, 0.05],
        escalationChannels: ['security-desk'],
        passSeconds: 0.2,
      },
    },
  });
  await st.services.notifications.keepSmtpCredentials(smtpUser, smtpPassword);
  for (const [name, target] of [
    ['oncall', 'oncall@example.com'],
    ['security-desk', 'security@example.com'],
  ]) {
    const added = await st.request('POST', '/api/v1/notification-channels', { kind: 'email', target, name });
    expect(added.status, added.text).toBe(201);
  }
  for (const slug of ['acme', 'globex']) {
    const created = await st.request('POST', '/api/v1/tenants', { slug, stages: ['test', 'prod'] });
    expect(created.status, created.text).toBe(201);
  }
  // No workers here: the outbox and the notice pass run on their own timers, as in `steward up`.
  await st.services.notifications.start();
  st.services.incidentNotices.start();
});

afterAll(async () => {
  await st?.close();
  await mail?.close();
});

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const mailsWithKey = (key: string): ReceivedMail[] =>
  mail.mails.filter((m) => m.header('x-steward-idempotency-key') === key);
const mailWithKey = (key: string): Promise<ReceivedMail> =>
  until(`a mail with key ${key}`, () => mailsWithKey(key)[0]);

async function incident(id: string): Promise<IncidentDetail> {
  const res = await st.request('GET', `/api/v1/incidents/${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body as IncidentDetail;
}

async function auditActions(id: string): Promise<string[]> {
  const audit = await st.request('GET', '/api/v1/audit?limit=1000');
  return (audit.body.events as { action: string; target: string }[])
    .filter((e) => e.target === `incident:${id}`)
    .map((e) => e.action);
}

describe('incidents', () => {
  it('opens from an alert (its tenant, stage and check linked) and keeps a timeline, audited', async () => {
    const alert = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'acme-login-errors',
      tenant: 'acme',
      stage: 'prod',
      severity: 'critical',
      summary: 'login answers 500',
    });
    const opened = await st.request('POST', '/api/v1/incidents', {
      severity: 2,
      title: 'Login errors',
      fromAlert: alert.id,
      note: 'customers call',
    });
    expect(opened.status, opened.text).toBe(201);
    const id = opened.body.id as string;
    expect(opened.body).toMatchObject({
      tenant: 'acme',
      stage: 'prod',
      severity: 2,
      severityName: 'major',
      status: 'investigating',
      openedBy: 'operator:admin',
      postmortemRequired: true,
      alerts: [{ id: alert.id, checkId: null }],
    });
    // One open incident per alert.
    const again = await st.request('POST', '/api/v1/incidents', {
      severity: 2,
      title: 'Login errors again',
      fromAlert: alert.id,
    });
    expect(again.status).toBe(409);
    expect(again.body.message).toContain(`already linked to open incident ${id}`);

    const identified = await st.request('POST', `/api/v1/incidents/${id}/updates`, {
      status: 'identified',
      note: 'The connection pool is exhausted; we are raising it.',
      public: true,
    });
    expect(identified.status, identified.text).toBe(200);
    expect((await st.request('POST', `/api/v1/incidents/${id}/owner`, { owner: 'anna' })).status).toBe(200);
    // Self-healing is asked about the alert (acme/prod runs no release here: the attempt fails, recorded).
    await st.services.healing.heal(alert, 'restart-process');
    expect(
      (await st.request('POST', `/api/v1/incidents/${id}/updates`, { note: 'pool raised, watching' })).status,
    ).toBe(200);

    const opening = await mailWithKey(`incident:${id}:opened`);
    expect(opening.header('subject')).toBe(
      `[Steward] Incident ${id} investigating (severity 2, acme/prod): Login errors`,
    );
    await mailWithKey(`alert:${alert.id}:fired`);
    const shown = await until('the notifications delivered', async () => {
      const view = await incident(id);
      const delivered = view.timeline.filter((e) => e.source === 'notification' && e.kind === 'delivered');
      return delivered.length >= 3 ? view : undefined;
    });
    expect(shown.owner).toBe('anna');
    expect(shown.status).toBe('identified');
    const kinds = shown.timeline.map((e) => `${e.source}/${e.kind}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'update/opened',
        'alert/fired',
        'update/status',
        'update/owner',
        'update/note',
        'notification/delivered',
      ]),
    );
    const healed = shown.timeline.find((e) => e.source === 'healing');
    expect(healed?.text).toBe(
      `self-healing restart-process acme/prod for alert ${alert.id}: failed (acme/prod runs no release)`,
    );
    expect(kinds.indexOf('alert/fired')).toBeLessThan(kinds.indexOf('update/opened'));
    const post = shown.timeline.find((e) => e.public);
    expect(post).toMatchObject({
      source: 'update',
      kind: 'status',
      text: 'investigating → identified: The connection pool is exhausted; we are raising it.',
    });
    expect(shown.timeline.filter((e) => e.source === 'notification').map((e) => e.text)).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`incident:${id}:opened`),
        expect.stringContaining(`alert:${alert.id}:fired`),
      ]),
    );
    // Status-page posts, as the status page reads them.
    const posts = await st.request('GET', '/api/v1/incidents/posts?tenant=acme');
    expect(posts.body.posts).toEqual([
      expect.objectContaining({ incident: id, tenant: 'acme', stage: 'prod', status: 'identified' }),
    ]);
    expect(await auditActions(id)).toEqual([
      'incident.open',
      'incident.update',
      'incident.assign',
      'incident.update',
    ]);
    const listed = await st.request('GET', '/api/v1/incidents?open=true');
    expect(listed.body.incidents.map((i: { id: string }) => i.id)).toContain(id);
  });

  it('a severity 1-2 incident closes only resolved and with a post-mortem', async () => {
    const opened = await st.request('POST', '/api/v1/incidents', {
      tenant: 'acme',
      stage: 'prod',
      severity: 1,
      title: 'prod down',
    });
    const id = opened.body.id as string;
    const early = await st.request('POST', `/api/v1/incidents/${id}/close`);
    expect(early.status).toBe(409);
    expect(early.body.message).toContain('is investigating, not resolved');
    await st.request('POST', `/api/v1/incidents/${id}/updates`, { status: 'resolved', note: 'back' });
    const noPm = await st.request('POST', `/api/v1/incidents/${id}/close`);
    expect(noPm.status).toBe(409);
    expect(noPm.body).toMatchObject({ field: 'postmortem' });
    expect(noPm.body.message).toContain('severity 1: a post-mortem is required before it closes');
    expect(noPm.body.message).toContain(`steward incident postmortem ${id} --file`);

    const badPm = await st.request('PUT', `/api/v1/incidents/${id}/postmortem`, {
      document: postmortemExample.replace('due: 2026-12-20', 'due: soon'),
    });
    expect(badPm.status).toBe(400);
    expect(badPm.body).toMatchObject({ field: 'postmortem.actions.0.due' });
    expect(badPm.body.message).toContain('"soon" is not accepted; use a date such as 2026-12-20');
    expect((await incident(id)).postmortem).toBeNull();

    const pm = await st.request('PUT', `/api/v1/incidents/${id}/postmortem`, { document: postmortemExample });
    expect(pm.status, pm.text).toBe(200);
    expect(pm.body.postmortem.impact.slaMinutes).toBe(42);
    const closed = await st.request('POST', `/api/v1/incidents/${id}/close`);
    expect(closed.status, closed.text).toBe(200);
    expect(closed.body).toMatchObject({ status: 'resolved', closedBy: 'operator:admin' });
    const after = await st.request('POST', `/api/v1/incidents/${id}/updates`, { note: 'one more thing' });
    expect(after.status).toBe(409);
    expect(after.body.message).toContain('is closed');
    expect(await auditActions(id)).toEqual([
      'incident.open',
      'incident.update',
      'incident.postmortem',
      'incident.close',
    ]);

    // Severity 3 closes without one.
    const minor = await st.request('POST', '/api/v1/incidents', {
      tenant: 'acme',
      severity: 3,
      title: 'slow export',
    });
    await st.request('POST', `/api/v1/incidents/${minor.body.id}/updates`, {
      status: 'resolved',
      note: 'fixed',
    });
    expect((await st.request('POST', `/api/v1/incidents/${minor.body.id}/close`)).status).toBe(200);
  });

  it("security deadlines: the timer reminds before the customers' deadline and escalates when it passes", async () => {
    const opened = await st.request('POST', '/api/v1/incidents', {
      tenant: 'acme',
      severity: 2,
      title: 'exposed export link',
      security: true,
    });
    const id = opened.body.id as string;
    const confirmed = await st.request('POST', `/api/v1/incidents/${id}/breach`, {});
    expect(confirmed.status, confirmed.text).toBe(200);
    // A confirmed breach is severity 1.
    expect(confirmed.body.severity).toBe(1);
    expect(confirmed.body.deadlines).toMatchObject([
      { party: 'customers', state: 'open' },
      { party: 'authority', state: 'open' },
    ]);
    const customersDue = Date.parse(confirmed.body.deadlines[0].due as string);
    expect(customersDue - Date.parse(confirmed.body.breachConfirmedAt as string)).toBe(7000);

    const reminder = await mailWithKey(`incident:${id}:customers:remind:0.05`);
    expect(reminder.to).toEqual(['oncall@example.com']);
    expect(reminder.header('subject')).toMatch(/left to tell the affected customers of security incident/);
    const missed = await mailWithKey(`incident:${id}:customers:missed`);
    expect(Date.now()).toBeGreaterThanOrEqual(customersDue);
    expect(missed.to).toEqual(['security@example.com']);
    expect(missed.header('subject')).toBe(
      `[Steward] MISSED: the affected customers not told of security incident ${id} (acme)`,
    );
    expect(missed.raw).toContain(`steward incident notified ${id} --party customers`);
    // The authority's 4 h have no reminder due yet; each notice went out once, however often the pass ran.
    await st.services.incidentNotices.pass();
    expect(
      mail.mails.filter((m) => m.header('x-steward-idempotency-key')?.startsWith(`incident:${id}:authority`)),
    ).toEqual([]);
    expect(mailsWithKey(`incident:${id}:customers:missed`)).toHaveLength(1);

    const told = await st.request('POST', `/api/v1/incidents/${id}/notices`, {
      party: 'customers',
      who: 'anna, by email to the security contacts',
    });
    expect(told.status, told.text).toBe(200);
    expect(told.body.deadlines[0]).toMatchObject({
      state: 'notified-late',
      notifiedWho: 'anna, by email to the security contacts',
    });
    const twice = await st.request('POST', `/api/v1/incidents/${id}/notices`, {
      party: 'customers',
      who: 'ben',
    });
    expect(twice.status).toBe(409);
    expect((await incident(id)).timeline.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['breach-confirmed', 'severity', 'notified']),
    );
  });

  it("security deadlines follow the tenant's contract term; a breach confirmed after the fact reminds once", async () => {
    const terms = await st.request('PUT', '/api/v1/tenants/globex/incident-terms', {
      customerNoticeHours: 2,
    });
    expect(terms.status, terms.text).toBe(200);
    expect(terms.body).toMatchObject({ customerNoticeHours: 2, authorityNoticeHours: 4, fromContract: true });

    const open = async (title: string): Promise<string> =>
      (
        await st.request('POST', '/api/v1/incidents', {
          tenant: 'globex',
          severity: 1,
          title,
          security: true,
        })
      ).body.id as string;
    const a = await open('stolen laptop');
    const ago = (minutes: number): string => new Date(Date.now() - minutes * 60_000).toISOString();
    expect((await st.request('POST', `/api/v1/incidents/${a}/breach`, { at: ago(70) })).status).toBe(200);
    // 50 min left for the customers: the 60-minute reminder, not the others; nothing for the authority (2 h 50 min).
    const reminder = await mailWithKey(`incident:${a}:customers:remind:60`);
    expect(reminder.header('subject')).toMatch(
      /^\[Steward\] (49|50) min left to tell the affected customers/,
    );
    const b = await open('database dump on a public bucket');
    expect((await st.request('POST', `/api/v1/incidents/${b}/breach`, { at: ago(185) })).status).toBe(200);
    await mailWithKey(`incident:${b}:customers:missed`);
    const authority = await mailWithKey(`incident:${b}:authority:remind:60`);
    expect(authority.header('subject')).toContain('the supervisory authority (GDPR Art. 33)');
    await st.services.incidentNotices.pass();
    const about = (id: string): string[] =>
      mail.mails
        .map((m) => m.header('x-steward-idempotency-key') ?? '')
        .filter((k) => k.startsWith(`incident:${id}:`) && !k.endsWith(':opened'));
    expect(about(a)).toEqual([`incident:${a}:customers:remind:60`]);
    expect(about(b).sort()).toEqual([`incident:${b}:authority:remind:60`, `incident:${b}:customers:missed`]);
  });

  it('refuses bad input naming the field, the value and what is accepted, and changes nothing', async () => {
    const before = (await st.request('GET', '/api/v1/incidents')).body.incidents.length as number;
    const bad: [unknown, string, RegExp][] = [
      [{ tenant: 'acme', severity: 5, title: 'x' }, 'severity', /"5" is not accepted; use 1, 2, 3 or 4/],
      [{ tenant: 'acme', severity: 2, title: '  ' }, 'title', /use 1 to 200 characters/],
      [{ severity: 2, title: 'x' }, 'tenant', /field "tenant" is required/],
      [{ tenant: 'nope', severity: 2, title: 'x' }, 'tenant', /tenant "nope" does not exist/],
      [{ tenant: 'acme', stage: 'staging', severity: 2, title: 'x' }, 'stage', /its stages are test, prod/],
      [
        { tenant: 'acme', severity: 2, title: 'x', fromAlert: 'forty' },
        'fromAlert',
        /"forty" is not an alert id/,
      ],
      [{ tenant: 'acme', severity: 2, title: 'x', fromAlert: '999999' }, 'fromAlert', /no alert "999999"/],
      [
        { tenant: 'acme', severity: 2, title: 'x', owner: 'a b' },
        'owner',
        /"a b" is not accepted; use a login/,
      ],
      [{ tenant: 'acme', severity: 2, title: 'x', colour: 'red' }, 'colour', /accepted fields are/],
    ];
    for (const [body, field, message] of bad) {
      const res = await st.request('POST', '/api/v1/incidents', body);
      expect(res.status, res.text).toBeGreaterThanOrEqual(400);
      expect(res.body.field, res.text).toBe(field);
      expect(res.body.message).toMatch(message);
    }
    expect((await st.request('GET', '/api/v1/incidents')).body.incidents).toHaveLength(before);

    const id = (await st.request('POST', '/api/v1/incidents', { tenant: 'acme', severity: 4, title: 'typo' }))
      .body.id as string;
    const status = await st.request('POST', `/api/v1/incidents/${id}/updates`, {
      status: 'fixed',
      note: 'x',
    });
    expect(status.body).toMatchObject({ field: 'status' });
    expect(status.body.message).toContain(
      '"fixed" is not accepted; use one of investigating, identified, monitoring, resolved',
    );
    const breach = await st.request('POST', `/api/v1/incidents/${id}/breach`, {});
    expect(breach.status).toBe(409);
    expect(breach.body.message).toContain('is not a security incident');
    const sec = (
      await st.request('POST', '/api/v1/incidents', {
        tenant: 'acme',
        severity: 2,
        title: 's',
        security: true,
      })
    ).body.id as string;
    const early = await st.request('POST', `/api/v1/incidents/${sec}/notices`, {
      party: 'customers',
      who: 'anna',
    });
    expect(early.status).toBe(409);
    expect(early.body.message).toContain('no confirmed breach');
    const future = await st.request('POST', `/api/v1/incidents/${sec}/breach`, {
      at: '2099-01-01T00:00:00Z',
    });
    expect(future.body).toMatchObject({ field: 'at' });
    expect(future.body.message).toContain('is in the future');
    const noZone = await st.request('POST', `/api/v1/incidents/${sec}/breach`, { at: '2026-12-01 10:00' });
    expect(noZone.body.message).toContain('use a time with its zone');
    await st.request('POST', `/api/v1/incidents/${sec}/breach`, {});
    const party = await st.request('POST', `/api/v1/incidents/${sec}/notices`, {
      party: 'press',
      who: 'anna',
    });
    expect(party.body).toMatchObject({ field: 'party' });
    expect(party.body.message).toContain('use one of customers, authority');
    const terms = await st.request('PUT', '/api/v1/tenants/acme/incident-terms', { customerNoticeHours: 0 });
    expect(terms.body).toMatchObject({ field: 'customerNoticeHours' });
    expect((await st.request('GET', '/api/v1/incidents/seven')).body.message).toContain(
      '"seven" is not an incident id',
    );
    expect((await st.request('GET', '/api/v1/incidents/999999')).status).toBe(404);
    const view = await incident(id);
    expect(view.status).toBe('investigating');
    expect(view.timeline.filter((e) => e.source === 'update')).toHaveLength(1);
  });

  it('the CLI opens, updates, gives a post-mortem, closes, lists and prints the severity rules', async () => {
    const cli = await apiCli(st);
    const opened = await cli(
      '-o',
      'json',
      'incident',
      'open',
      '--tenant',
      'globex',
      '--stage',
      'prod',
      '--severity',
      '2',
      '--title',
      'Login errors',
    );
    expect(opened.code, opened.stderr).toBe(0);
    const id = (JSON.parse(opened.stdout) as IncidentDetail).id;
    const bad = await cli('incident', 'open', '--tenant', 'globex', '--severity', '7', '--title', 'x');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('field "severity": "7" is not accepted; use 1, 2, 3 or 4');
    const updated = await cli(
      'incident',
      'update',
      id,
      '--status',
      'resolved',
      '--note',
      'pool raised',
      '--public',
    );
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toContain('investigating → resolved: pool raised');
    const file = join(st.dataDir, 'pm.yaml');
    await writeFile(file, postmortemExample);
    expect((await cli('incident', 'postmortem', id, '--file', file)).code).toBe(0);
    const closed = await cli('incident', 'close', id);
    expect(closed.code, closed.stderr).toBe(0);
    expect(closed.stdout).toMatch(/closed .* by operator:admin/);
    const rules = await cli('incident', 'severities');
    expect(rules.stdout).toContain('1 critical:');
    expect(rules.stdout).toContain('post-mortem required before closing');
  });
});
