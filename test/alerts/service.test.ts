import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { freePort } from '../../src/system/ports.ts';
import { run } from '../../src/system/exec.ts';
import type { AlertView } from '../../src/alerts/index.ts';
import { eventually } from '../cli/process.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { startMailServer, type MailServer } from '../notifications/receivers.ts';

/** Polls every 100 ms for up to 30 s. */
const until = <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> =>
  eventually(what, probe, 30_000, 100);

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
      alerts: { groupWaitSeconds: 1 },
    },
  });
  await st.services.notifications.keepSmtpCredentials(smtpUser, smtpPassword);
  const added = await st.request('POST', '/api/v1/notification-channels', {
    kind: 'email',
    target: 'oncall@example.com',
  });
  expect(added.status, added.text).toBe(201);
  expect(
    (await st.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod', 'dev'] })).status,
  ).toBe(201);
});

afterAll(async () => {
  await st?.close();
  await mail?.close();
});

/** Runs the outbox until `count` mails with this text arrived; each as its subject line, a blank line, then the whole message. */
async function mailsAbout(text: string, count = 1): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    // No timers run here (workers: false): the alert pass tells what the group wait let through.
    await st.services.alerts.pass();
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

  it('groups: alerts of one tenant and stage that fire within the group wait are told in one notification', async () => {
    const raise = (key: string, stage: string, summary: string) =>
      st.services.alerts.raise({
        source: 'watchdog',
        dedupKey: key,
        tenant: 'grp',
        stage,
        severity: 'warning',
        summary,
      });
    const a = await raise('grp-1', 'prod', 'first symptom');
    const b = await raise('grp-2', 'prod', 'second symptom');
    const c = await raise('grp-3', 'dev', 'elsewhere');
    // Within the group wait nothing is told.
    await st.services.alerts.pass();
    expect((await st.services.alerts.get(a.id)).firstNotifiedAt).toBeNull();
    const [grouped] = await mailsAbout(`alert:${a.id}:fired:group:${b.id}`);
    expect(grouped).toContain('FIRING warning: grp/prod: 2 alerts: first symptom; second symptom');
    expect(grouped).toContain(`steward alert ack ${b.id}`);
    await mailsAbout(`alert:${c.id}:fired`);
    expect(mail.mails.filter((m) => m.raw.includes(`alert:${b.id}:fired`))).toHaveLength(0);
    for (const id of [a.id, b.id]) expect((await st.services.alerts.get(id)).firstNotifiedAt).not.toBeNull();
    for (const key of ['grp-1', 'grp-2', 'grp-3']) await st.services.alerts.clear('watchdog', key, 'done');
  });

  it('silences and maintenance windows mute (alerts recorded with mutedBy), and refuse bad input', async () => {
    const post = (url: string, body: unknown) => st.request('POST', url, body);
    const bad: [string, unknown, number, string, RegExp][] = [
      ['/api/v1/silences', { tenant: 'acme', for: '2h' }, 400, 'reason', /"reason" is required/],
      ['/api/v1/silences', { tenant: 'acme', reason: 'x' }, 400, 'for', /needs an end/],
      [
        '/api/v1/silences',
        { tenant: 'acme', for: '1h', until: '2030-01-01T00:00:00Z', reason: 'x' },
        400,
        'for',
        /one of them/,
      ],
      [
        '/api/v1/silences',
        { tenant: 'acme', for: 'forever', reason: 'x' },
        400,
        'for',
        /"forever" is not a duration/,
      ],
      ['/api/v1/silences', { tenant: 'acme', for: '2400h', reason: 'x' }, 400, 'for', /1s to 90 days/],
      [
        '/api/v1/silences',
        { tenant: 'acme', until: '2001-01-01T00:00:00Z', reason: 'x' },
        400,
        'until',
        /a time after/,
      ],
      ['/api/v1/silences', { tenant: 'acme', until: 'tomorrow', reason: 'x' }, 400, 'until', /ISO 8601/],
      [
        '/api/v1/silences',
        { tenant: 'acme', stage: 'qa', for: '1h', reason: 'x' },
        404,
        'stage',
        /no stage "qa"; its stages are/,
      ],
      ['/api/v1/silences', { tenant: 'ghost', for: '1h', reason: 'x' }, 404, '', /ghost/],
      [
        '/api/v1/silences',
        { tenant: 'acme', for: '1h', reason: 'x', colour: 1 },
        400,
        'colour',
        /accepted fields/,
      ],
      [
        '/api/v1/maintenance-windows',
        { tenant: 'acme', for: '1h', from: 'now', reason: 'x' },
        400,
        'from',
        /ISO 8601/,
      ],
    ];
    for (const [url, body, status, field, message] of bad) {
      const res = await post(url, body);
      expect(res.status, `${JSON.stringify(body)}: ${res.text}`).toBe(status);
      if (field) expect(res.body.field).toBe(field);
      expect(res.body.message).toMatch(message);
    }
    expect((await st.request('GET', '/api/v1/silences')).body.silences).toEqual([]);

    const window = await post('/api/v1/maintenance-windows', {
      tenant: 'acme',
      stage: 'prod',
      for: '1h',
      reason: 'database upgrade',
    });
    expect(window.status, window.text).toBe(201);
    const silence = await post('/api/v1/silences', {
      tenant: 'acme',
      stage: 'dev',
      for: '2h',
      reason: 'vendor migration',
    });
    expect(silence.status, silence.text).toBe(201);
    const inWindow = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'acme-prod-slow',
      tenant: 'acme',
      stage: 'prod',
      severity: 'critical',
      summary: 'slow',
    });
    expect(inWindow.mutedBy).toBe(`maintenance:${window.body.id}`);
    const silenced = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'acme-dev-slow',
      tenant: 'acme',
      stage: 'dev',
      severity: 'critical',
      summary: 'slow',
    });
    expect(silenced.mutedBy).toBe(`silence:${silence.body.id}`);
    await new Promise((r) => setTimeout(r, 1200));
    await st.services.alerts.pass();
    await st.services.notifications.pass();
    expect(mail.mails.filter((m) => /alert:(\d+):fired/.exec(m.raw)?.[1] === inWindow.id)).toHaveLength(0);

    // The window ends: what it muted is told.
    const ended = await post(`/api/v1/maintenance-windows/${window.body.id}/end`, {});
    expect(ended.status, ended.text).toBe(200);
    expect((await post(`/api/v1/maintenance-windows/${window.body.id}/end`, {})).status).toBe(404);
    await mailsAbout(`alert:${inWindow.id}:fired`);
    expect((await st.services.alerts.get(silenced.id)).mutedBy).toBe(`silence:${silence.body.id}`);
    expect((await st.request('DELETE', `/api/v1/silences/${silence.body.id}`)).status).toBe(200);
    expect((await st.request('DELETE', `/api/v1/silences/${silence.body.id}`)).body.message).toContain(
      'already removed',
    );
    await mailsAbout(`alert:${silenced.id}:fired`);

    const audit = await st.request('GET', '/api/v1/audit?limit=1000');
    const actions = (audit.body.events as { action: string }[]).map((e) => e.action);
    for (const action of ['maintenance.start', 'maintenance.end', 'silence.add', 'silence.remove'])
      expect(actions).toContain(action);
    for (const key of ['acme-prod-slow', 'acme-dev-slow'])
      await st.services.alerts.clear('watchdog', key, 'done');
  });

  it('the CLI lists, shows, acknowledges and resolves alerts, lists rules, and adds silences and windows', async () => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: st.dataDir,
      STEWARD_API_URL: await st.steward.start(),
      STEWARD_TOKEN: st.token,
    };
    const cli = (...args: string[]) => run(resolve(import.meta.dirname, '../../bin/steward'), args, { env });
    const alert = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'cli-alert',
      tenant: 'acme',
      stage: 'prod',
      severity: 'critical',
      summary: 'checks are late by 12 s',
    });
    const listed = await cli('-o', 'json', 'alert', 'list', '--open', '--tenant', 'acme');
    expect(listed.code, listed.stderr).toBe(0);
    const open = JSON.parse(listed.stdout) as AlertView[];
    expect(open.map((a) => a.id)).toContain(alert.id);
    expect(open.every((a) => a.status !== 'resolved' && a.tenant === 'acme')).toBe(true);
    const table = await cli('alert', 'list', '--open');
    expect(table.stdout).toMatch(
      new RegExp(`^${alert.id} +firing +critical +acme/prod +checks are late by 12 s`, 'm'),
    );
    const shown = await cli('alert', 'show', alert.id);
    expect(shown.stdout).toContain('summary      checks are late by 12 s');
    const acked = await cli('alert', 'ack', alert.id);
    expect(acked.code, acked.stderr).toBe(0);
    expect(acked.stdout).toBe(`alert ${alert.id} acknowledged by operator:admin\n`);
    const noNote = await cli('alert', 'resolve', alert.id);
    expect(noNote.code).not.toBe(0);
    expect(noNote.stderr).toContain("required option '--note <text>' not specified");
    const resolved = await cli('alert', 'resolve', alert.id, '--note', 'the scheduler caught up');
    expect(resolved.code, resolved.stderr).toBe(0);
    expect((await st.services.alerts.get(alert.id)).resolveNote).toBe('the scheduler caught up');

    const rules = await cli('-o', 'json', 'alert', 'rules');
    expect((JSON.parse(rules.stdout) as { name: string }[]).map((r) => r.name)).toEqual([
      'stage-backup',
      'stage-certificate',
      'stage-disk',
      'ha-leader',
      'ha-member-down',
      'ha-replication',
      'stage-database-down',
      'stage-down',
    ]);
    expect((await cli('alert', 'rules')).stdout).toMatch(
      /stage-database-down +kind=database +down +0s +critical/,
    );

    const silenced = await cli(
      'silence',
      'add',
      '--tenant',
      'acme',
      '--for',
      '2h',
      '--reason',
      'vendor migration',
    );
    expect(silenced.code, silenced.stderr).toBe(0);
    const silenceId = /^silence (\d+) for acme until /.exec(silenced.stdout)?.[1] ?? '';
    expect(silenceId).not.toBe('');
    const badSilence = await cli('silence', 'add', '--tenant', 'acme', '--for', '2y', '--reason', 'x');
    expect(badSilence.code).not.toBe(0);
    expect(badSilence.stderr).toContain('field "for": "2y" is not a duration');
    expect((await cli('silence', 'list')).stdout).toContain('vendor migration');
    expect((await cli('silence', 'remove', silenceId)).stdout).toBe(`silence ${silenceId} removed\n`);
    const window = await cli(
      'maintenance',
      'add',
      'acme',
      'prod',
      '--for',
      '1h',
      '--reason',
      'database upgrade',
    );
    expect(window.code, window.stderr).toBe(0);
    expect(window.stdout).toMatch(/^maintenance window \d+ for acme\/prod from /);
    expect((await cli('-o', 'json', 'maintenance', 'list')).stdout).toContain('database upgrade');
    const windowId = /^maintenance window (\d+)/.exec(window.stdout)?.[1] ?? '';
    expect((await cli('maintenance', 'end', windowId)).code).toBe(0);
  });

  it('keeps resolved alerts and ended silences for alerts.retentionDays (400 by default), open ones always', async () => {
    const old = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'old-one',
      severity: 'info',
      summary: 'long ago',
    });
    const open = await st.services.alerts.raise({
      source: 'watchdog',
      dedupKey: 'open-one',
      severity: 'info',
      summary: 'still open',
    });
    await st.services.alerts.clear('watchdog', 'old-one', 'over');
    await st.query(
      "update alerts set started_at = now() - interval '402 days', fired_at = now() - interval '402 days', resolved_at = now() - interval '401 days' where id = $1",
      [old.id],
      st.controlDatabase,
    );
    await st.query(
      "update alerts set started_at = now() - interval '500 days' where id = $1",
      [open.id],
      st.controlDatabase,
    );
    const pruned = await st.services.alerts.prune();
    expect(pruned.alerts).toBe(1);
    expect((await st.request('GET', `/api/v1/alerts/${old.id}`)).status).toBe(404);
    expect((await st.services.alerts.get(open.id)).status).toBe('firing');
    await st.services.alerts.clear('watchdog', 'open-one', 'done');
  });

  it('converges after a crash: an alert left untold is told once; a state change the hook missed still raises and resolves', async () => {
    // What a process killed between opening an alert and telling it leaves behind.
    const [left] = await st.query<{ id: string }>(
      `insert into alerts (source, dedup_key, group_key, tenant_slug, stage_name, severity, status, summary, started_at, fired_at)
       values ('watchdog', 'left-untold', 'acme/dev', 'acme', 'dev', 'critical', 'firing', 'left untold', now() - interval '5 seconds', now() - interval '5 seconds')
       returning id::text`,
      [],
      st.controlDatabase,
    );
    await mailsAbout(`alert:${left?.id}:fired`);
    await st.services.alerts.pass();
    await st.services.notifications.pass();
    expect(mail.mails.filter((m) => m.raw.includes(`alert:${left?.id}:fired`))).toHaveLength(1);
    await st.services.alerts.clear('watchdog', 'left-untold', 'done');

    // A check recorded down by a process that died before its alert hook ran.
    const [check] = await st.query<{ id: string }>(
      `insert into checks (scope, tenant_slug, stage_name, kind, origin, builtin, spec, interval_seconds, timeout_ms, created_by, created_at)
       values ('stage', 'acme', 'prod', 'database', 'builtin', 'database', '{"kind":"database"}', 30, 1000, 'test', now() - interval '1 minute')
       returning id::text`,
      [],
      st.controlDatabase,
    );
    const setState = async (state: string): Promise<void> => {
      await st.query(
        'update check_states set ended_at = now() where check_id = $1 and ended_at is null',
        [check?.id],
        st.controlDatabase,
      );
      await st.query(
        `insert into check_states (check_id, state, started_at, cause) values ($1, $2, now(), '{"kind":"probes","results":[]}')`,
        [check?.id, state],
        st.controlDatabase,
      );
    };
    await setState('down');
    const sync = () => st.services.alerts.checkAlerts?.sync() ?? Promise.resolve(0);
    await sync();
    const checkAlerts = async () =>
      (await st.services.alerts.list({ source: 'check', tenant: 'acme' })).filter(
        (a) => a.dedupKey === `check:${check?.id}`,
      );
    expect(await checkAlerts()).toMatchObject([{ status: 'firing', rule: 'stage-database-down' }]);
    expect(await sync()).toBe(0);
    await setState('up');
    await sync();
    expect(await checkAlerts()).toMatchObject([{ status: 'resolved', resolveNote: 'the check is up again' }]);
    // A check that goes away takes its open alert with it.
    await setState('down');
    await sync();
    await st.query('update checks set removed_at = now() where id = $1', [check?.id], st.controlDatabase);
    await sync();
    expect((await checkAlerts())[0]).toMatchObject({
      status: 'resolved',
      resolveNote: 'the check was removed',
    });
  });
});
