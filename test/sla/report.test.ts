import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/system/exec.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAlert } from '../../src/alerts/store.ts';
import { insertMaintenanceWindow, markAnnounced } from '../../src/maintenance/store.ts';
import { CheckStore } from '../../src/monitoring/index.ts';
import { systemPrincipal } from '../../src/core/policy.ts';
import type { CheckState } from '../../src/monitoring/states.ts';
import type { HttpSpec } from '../../src/monitoring/specs.ts';
import { htmlToPdf, renderReportHtml, type SlaReport } from '../../src/sla/index.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * SLA reports against a real Steward: a month of the prod gateway check's
 * intervals, written through the monitoring store's own writer, with an
 * alert, announced maintenance and an operator's exclusion, gives the
 * figures worked out by hand below; the closed month is frozen with the hash
 * of its inputs, and a changed interval afterwards is detected and shown.
 */
let nowMs = Date.parse('2026-04-10T00:00:00Z');
let st: TestSteward;
let control: ControlStore;
let checkId: string;
const u = (text: string): string => `${text.replace(' ', 'T')}:00.000Z`;

beforeAll(async () => {
  st = await startTestSteward({ workers: false, clock: { now: () => new Date(nowMs) } });
  control = openControlStore(st.controlUrl, { max: 2 });
  const created = await st.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
  expect(created.status, created.text).toBe(201);
  const store = new CheckStore(control.db);
  const spec: HttpSpec = {
    kind: 'http',
    via: 'gateway',
    method: 'GET',
    path: null,
    expectStatus: null,
    expectBody: null,
    headers: {},
  };
  checkId = await store.add(
    {
      stageId: await st.services.tenants.stageId('acme', 'prod'),
      tenant: 'acme',
      stage: 'prod',
      kind: 'http',
      builtin: 'gateway',
      spec,
      intervalSeconds: 30,
      timeoutMs: 5000,
      createdBy: 'steward',
    },
    new Date(u('2026-02-20 00:00')),
  );
  // The state changes of February and March (UTC; Berlin is UTC+1 until 29 March, then UTC+2).
  const changes: [string, CheckState][] = [
    ['2026-02-20 00:01', 'up'],
    ['2026-03-03 10:00', 'down'], // 40 min in service time: counted
    ['2026-03-03 10:40', 'up'],
    ['2026-03-05 12:00', 'down'], // 6 min: a short outage, excluded
    ['2026-03-05 12:06', 'up'],
    ['2026-03-10 23:00', 'down'], // 00:00-02:00 Berlin: outside the service time
    ['2026-03-11 01:00', 'up'],
    ['2026-03-12 08:00', 'degraded'], // 60 min at weight 0.5: 30 counted
    ['2026-03-12 09:00', 'up'],
    ['2026-03-15 20:00', 'down'], // inside announced maintenance
    ['2026-03-15 20:30', 'up'],
    ['2026-03-20 09:00', 'down'], // inside the operator's exclusion
    ['2026-03-20 09:20', 'up'],
    ['2026-03-25 14:00', 'unknown'], // 30 min nobody probed
    ['2026-03-25 14:30', 'up'],
  ];
  let from: CheckState = 'unknown';
  for (const [at, to] of changes) {
    const result = {
      at: u(at),
      outcome: to === 'up' ? 'ok' : 'fail',
      latencyMs: 12,
      detail: `GET / answered ${to === 'up' ? 200 : 503}`,
    } as const;
    await store.record(checkId, { state: to, since: u(at), lastProbeAt: u(at), recent: [result] }, [
      {
        at: u(at),
        from,
        to,
        cause:
          to === 'unknown'
            ? { kind: 'not-probing', reason: 'Steward was stopped', lastProbeAt: u(at) }
            : { kind: 'probes', results: [result] },
      },
    ]);
    from = to;
  }
  const { alert } = await openAlert(control.db, {
    rule: 'check-down',
    source: 'check',
    dedupKey: `check:${checkId}:down`,
    groupKey: 'acme/prod',
    tenant: 'acme',
    stage: 'prod',
    checkId,
    severity: 'critical',
    status: 'firing',
    summary: 'acme/prod gateway is down',
    details: {},
    inhibits: false,
    healAction: null,
    flapping: false,
    now: new Date(u('2026-03-03 10:01')),
    fireAt: null,
  });
  // Opened by hand from the alert, weeks later: it is still the outage's incident.
  await st.services.incidents.open(
    { fromAlert: alert.id, severity: 2, title: 'Login errors' },
    systemPrincipal,
  );
  const window = await insertMaintenanceWindow(control.db, {
    tenant: 'acme',
    stage: 'prod',
    reason: 'database upgrade',
    startsAt: new Date(u('2026-03-15 20:00')),
    endsAt: new Date(u('2026-03-15 22:00')),
    createdBy: 'operator:admin',
    timeZone: 'Europe/Berlin',
    announceDays: 7,
  });
  // Announced to the tenant's contacts on 1 March, two weeks ahead.
  await markAnnounced(control.db, window.id, new Date(u('2026-03-01 09:00')));
});

afterAll(async () => {
  await control?.close();
  await st?.close();
});

const report = async (period: string): Promise<SlaReport> => {
  const res = await st.request('GET', `/api/v1/tenants/acme/sla/reports/${period}`);
  expect(res.status, res.text).toBe(200);
  return res.body as SlaReport;
};

describe('SLA policy', () => {
  it('refuses bad input, naming field, value and what is accepted, and changes nothing', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ target: 100 }, /field "target" "100" is too long or too large: at most 100/],
      [
        { target: 99.5, timeZone: 'Mars/Olympus' },
        /field "timeZone": "Mars\/Olympus" is not a time zone; use an IANA name/,
      ],
      [
        { target: 99.5, serviceTime: 'daily 5-22' },
        /field "serviceTime": "daily 5-22" is not a recurring window; use 'daily 05:00-22:00'/,
      ],
      [
        { target: 99.5, excludeOutagesUpTo: 'ten minutes' },
        /field "excludeOutagesUpTo": "ten minutes" is not a duration; use a whole number with s, m, h or d/,
      ],
      [
        { target: 99.5, period: 'week' },
        /field "period": "week" is not accepted; use one of month, quarter, calendar-year/,
      ],
      [{ target: 99.5, maintenanceMaxHours: 8 }, /field "maintenanceNotice" is required/],
      [
        { target: 99.5, serviceTime: 'daily 05:00-22:00', maintenanceWindow: 'daily 22:00-05:00' },
        /give one/,
      ],
      [{ target: 99.5, checks: ['999999'] }, /field "checks": "999999" is not a check of tenant acme/],
    ];
    for (const [body, message] of cases) {
      const res = await st.request('PUT', '/api/v1/tenants/acme/sla/policy', body);
      expect(res.status, res.text).toBeGreaterThanOrEqual(400);
      expect(res.body.message).toMatch(message);
    }
    const shown = await st.request('GET', '/api/v1/tenants/acme/sla/policy');
    expect(shown.body).toMatchObject({ current: null, versions: [] });
  });

  it('sets versions that apply from their effective time, audited', async () => {
    const v1 = await st.request('PUT', '/api/v1/tenants/acme/sla/policy', {
      target: 99.5,
      period: 'month',
      timeZone: 'Europe/Berlin',
      serviceTime: 'daily 05:00-22:00',
      excludeOutagesUpTo: '10m',
      partialWeight: 0.5,
      maintenanceNotice: '7d',
      maintenanceMaxHours: 8,
      effectiveFrom: '2026-01-01T00:00:00+01:00',
    });
    expect(v1.status, v1.text).toBe(201);
    expect(v1.body).toMatchObject({
      version: 1,
      mergeGapMinutes: 5,
      unknownCountsAsDown: false,
      checks: null,
    });
    // A version may not rewrite the past of another.
    const again = await st.request('PUT', '/api/v1/tenants/acme/sla/policy', {
      target: 99,
      effectiveFrom: '2025-12-01T00:00:00Z',
    });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/field "effectiveFrom": .* is not after version 1's/);
    const audit = await st.query<{ action: string; target: string }>(
      "select action, target from audit_events where action like 'sla.%' order by seq",
      [],
      st.controlDatabase,
    );
    expect(audit).toEqual([{ action: 'sla.policy.set', target: 'tenant/acme/sla/policy/1' }]);
  });

  it('records an exclusion with its reason, audited', async () => {
    const bad = await st.request('POST', '/api/v1/tenants/acme/sla/exclusions', {
      from: '2026-03-20 10:00',
      until: '2026-03-20 09:00',
      reason: 'x',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/field "until": .* is not after from/);
    // Local times are read in the policy's zone: 10:00-11:00 Berlin is 09:00-10:00Z.
    const made = await st.request('POST', '/api/v1/tenants/acme/sla/exclusions', {
      from: '2026-03-20 10:00',
      until: '2026-03-20 11:00',
      reason: 'upstream DNS provider outage (their incident 4711)',
    });
    expect(made.status, made.text).toBe(201);
    expect(made.body).toMatchObject({
      from: '2026-03-20T09:00:00.000Z',
      until: '2026-03-20T10:00:00.000Z',
      by: 'operator:admin',
    });
  });
});

describe('SLA report', () => {
  it('computes March from the intervals: every clause with its minutes, every outage with its evidence', async () => {
    const r = await report('2026-03');
    const scope = 31 * 17 * 60;
    const measured = scope - 60 - 60 - 6 - 30;
    expect(r.figures.minutes).toEqual({
      scope,
      maintenance: 60, // 21:00-22:00 Berlin of the 21:00-23:00 window
      operatorExcluded: 60,
      shortOutages: 6,
      unknown: 30,
      down: 40,
      degraded: 60,
      up: measured - 40 - 60,
      measured,
      countedDowntime: 70,
      budget: Math.round(measured * 0.005 * 1000) / 1000,
    });
    expect(r.figures.availability).toBe(Math.round(((measured - 70) / measured) * 100 * 10_000) / 10_000);
    expect(r.figures.status).toBe('met');
    expect(r.checks.map((c) => c.id)).toEqual([checkId]);
    const byStart = Object.fromEntries(r.outages.map((o) => [o.start, o]));
    const counted = byStart['2026-03-03T10:00:00.000Z'];
    expect(counted).toMatchObject({ clause: 'counted', inPeriod: { counted: 40 } });
    expect(counted?.evidence.alerts.map((a) => a.summary)).toEqual(['acme/prod gateway is down']);
    expect(counted?.evidence.incidents).toEqual([
      expect.objectContaining({ severity: 2, title: 'Login errors', status: 'investigating' }),
    ]);
    expect(JSON.stringify(counted?.evidence.states[0]?.cause)).toContain('GET / answered 503');
    expect(byStart['2026-03-05T12:00:00.000Z']).toMatchObject({
      clause: 'short-outage',
      inPeriod: { shortOutage: 6 },
    });
    expect(byStart['2026-03-10T23:00:00.000Z']?.inPeriod).toMatchObject({
      outsideServiceTime: 120,
      counted: 0,
    });
    expect(byStart['2026-03-15T20:00:00.000Z']?.inPeriod).toMatchObject({ maintenance: 30, counted: 0 });
    expect(byStart['2026-03-15T20:00:00.000Z']?.evidence.maintenance).toHaveLength(1);
    expect(byStart['2026-03-20T09:00:00.000Z']?.inPeriod).toMatchObject({ operatorExcluded: 20, counted: 0 });
    expect(r.figures.exclusions).toEqual([
      expect.objectContaining({
        reason: 'upstream DNS provider outage (their incident 4711)',
        excludedMinutes: 60,
      }),
    ]);
    expect(r.figures.maintenance).toEqual([
      expect.objectContaining({ verdict: 'excluded', excludedMinutes: 60 }),
    ]);
  });

  it('a closed period is frozen: the same hash when recomputed, and a changed record afterwards is detected and shown', async () => {
    const first = await report('2026-03');
    expect(first.frozen).toMatchObject({
      frozenBy: 'operator:admin',
      evidenceChanged: false,
      inputsSha256: first.inputsSha256,
    });
    const again = await report('2026-03');
    expect(again.inputsSha256).toBe(first.inputsSha256);
    expect(again.frozen?.evidenceChanged).toBe(false);
    expect(renderReportHtml(again)).toContain('the same hash');

    // Someone shortens the counted outage in the evidence after the fact.
    await st.query(
      "update check_states set ended_at = '2026-03-03T10:05:00Z' where check_id = $1 and started_at = '2026-03-03T10:00:00Z'",
      [checkId],
      st.controlDatabase,
    );
    await st.query(
      "update check_states set started_at = '2026-03-03T10:05:00Z' where check_id = $1 and started_at = '2026-03-03T10:40:00Z'",
      [checkId],
      st.controlDatabase,
    );
    const tampered = await report('2026-03');
    expect(tampered.inputsSha256).not.toBe(first.inputsSha256);
    expect(tampered.frozen).toMatchObject({ inputsSha256: first.inputsSha256, evidenceChanged: true });
    // The report keeps the frozen figures and shows what today's records say.
    expect(tampered.figures.minutes.down).toBe(40);
    // Now 5 min long, it is a short outage: only the weighted degraded half hour counts.
    expect(tampered.frozen?.recomputed?.minutes).toMatchObject({
      down: 0,
      shortOutages: 6 + 5,
      countedDowntime: 30,
    });
    const html = renderReportHtml(tampered);
    expect(html).toContain('The evidence changed since this report was frozen');
    const audit = await st.query<{ action: string }>(
      "select action from audit_events where action = 'sla.report.freeze'",
      [],
      st.controlDatabase,
    );
    expect(audit).toHaveLength(1);
  });

  it('refuses periods without a policy version, not yet begun, or malformed', async () => {
    for (const [period, message] of [
      [
        '2025-12',
        /field "period": no version of acme's SLA policy applies in 2025-12; the first takes effect 2025-12-31T23:00:00.000Z/,
      ],
      ['2026-06', /field "period": "2026-06" has not started yet/],
      [
        '2026-13',
        /field "period": "2026-13" is not a period; use a year \(2026\), a month \(2026-03\) or a quarter \(2026-Q1\)/,
      ],
    ] as const) {
      const res = await st.request('GET', `/api/v1/tenants/acme/sla/reports/${period}`);
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(message);
    }
  });

  it('a period not yet ended is measured to date and projected, and is not frozen', async () => {
    const r = await report('2026-04');
    expect(r.figures.closed).toBe(false);
    expect(r.figures.asOf).toBe('2026-04-10T00:00:00.000Z');
    expect(r.figures.minutes.down).toBe(0);
    expect(r.figures.projected?.measured).toBe(30 * 17 * 60);
    expect(r.frozen).toBeNull();
    expect(r.figures.status).toBe('on-track');
  });

  it('a later policy version applies only to its part', async () => {
    nowMs = Date.parse('2026-05-10T00:00:00Z');
    const v2 = await st.request('PUT', '/api/v1/tenants/acme/sla/policy', {
      target: 99.9,
      period: 'month',
      timeZone: 'Europe/Berlin',
      effectiveFrom: '2026-04-16T00:00:00+02:00',
    });
    expect(v2.status, v2.text).toBe(201);
    const r = await report('2026-04');
    expect(r.policies.map((p) => p.version)).toEqual([1, 2]);
    // 15 days of 17 h under version 1, then 15 days of 24 h under version 2.
    expect(r.figures.parts.map((p) => p.minutes.scope)).toEqual([15 * 17 * 60, 15 * 24 * 60]);
    expect(r.figures.minutes.budget).toBe(
      Math.round((15 * 17 * 60 * 0.005 + 15 * 24 * 60 * 0.001) * 1000) / 1000,
    );
    // Other checks on request: version 3 names the check explicitly (any of the tenant's checks may be named).
    const v3 = await st.request('PUT', '/api/v1/tenants/acme/sla/policy', {
      target: 99.9,
      checks: [checkId],
      effectiveFrom: '2026-05-01T00:00:00Z',
    });
    expect(v3.status, v3.text).toBe(201);
    const may = await report('2026-05');
    expect(may.policies.map((p) => [p.version, p.checks])).toEqual([
      [2, null],
      [3, [checkId]],
    ]);
    expect(may.checks.map((c) => c.id)).toEqual([checkId]);
  });

  it('renders self-contained HTML and prints it to PDF with Chromium', async () => {
    const r = await report('2026-03');
    const html = renderReportHtml(r);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
    expect(html).toContain('SLA report: acme, 2026-03');
    expect(html).toContain('upstream DNS provider outage');
    const res = await st.request('GET', '/api/v1/tenants/acme/sla/reports/2026-03?format=html');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<!doctype html>');
    const dir = await mkdtemp(join(tmpdir(), 'sla-pdf-'));
    try {
      const pdf = await htmlToPdf(html);
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      expect(pdf.length).toBeGreaterThan(5000);
      await expect(htmlToPdf(html, join(dir, 'no-chromium'))).rejects.toThrow(
        /install the Debian package "chromium"/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('from the CLI: policy show, a summary, -o json and -o html to a file; exit 3 when the evidence changed', async () => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: st.dataDir,
      STEWARD_API_URL: await st.steward.start(),
      STEWARD_TOKEN: st.token,
    };
    const cli = (...args: string[]) => run(resolve(import.meta.dirname, '../../bin/steward'), args, { env });
    const shown = await cli('sla', 'policy', 'show', 'acme');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('service time  daily 05:00-22:00');
    expect(shown.stdout).toContain('in force: version 3');
    const bad = await cli('sla', 'policy', 'set', 'acme', '--target', '99.5', '--tz', 'Berlin/Mitte');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('field "timeZone": "Berlin/Mitte" is not a time zone');
    const summary = await cli('sla', 'report', 'acme', '--period', '2026-04');
    expect(summary.code, summary.stderr).toBe(0);
    expect(summary.stdout).toMatch(/^acme 2026-04: met, availability 100 % /);
    const json = await cli('-o', 'json', 'sla', 'report', 'acme', '--period', '2026-04');
    expect((JSON.parse(json.stdout) as SlaReport).figures.period).toBe('2026-04');
    const dir = await mkdtemp(join(tmpdir(), 'sla-cli-'));
    try {
      const html = await cli(
        '-o',
        'html',
        'sla',
        'report',
        'acme',
        '--period',
        '2026-03',
        '--out',
        join(dir, 'r.html'),
      );
      // March was tampered with above: the report says so, and so does the exit status.
      expect(html.code).toBe(3);
      expect(await readFile(join(dir, 'r.html'), 'utf8')).toContain(
        'The evidence changed since this report was frozen',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
