import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckStore } from '../../src/monitoring/index.ts';
import type { CheckState } from '../../src/monitoring/states.ts';
import type { SlaReport } from '../../src/sla/index.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { run } from '../../src/system/exec.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { gatewayCheckHistory } from '../status/support.ts';
import { addOperator, auditEvents, tokenFor } from '../identity/helpers.ts';

/**
 * Freezing an SLA report by hand (POST …/sla/reports/:period/freeze): after
 * the period closed, before the automatic freeze a day later. Refused while
 * the period is open or an outage still goes on; idempotent; audited; for
 * operators only (tenant admins are refused by the all-routes sweep of
 * test/identity/tenant-admins.test.ts, as for every route not marked for them).
 * Evidence that arrives after the freeze (the checks keep running) is no
 * change of what was frozen.
 */
let nowMs = Date.parse('2026-04-20T00:00:00Z');
let st: TestSteward;
let control: ControlStore;
let acmeCheck: string;
const suffix = Math.random().toString(36).slice(2, 7);
const acme = `fa${suffix}`;
const beta = `fb${suffix}`;
const at = (text: string): string => new Date(text).toISOString();

/** One state change of a check, written through the monitoring store's own writer. */
async function change(checkId: string, when: string, from: CheckState, to: CheckState): Promise<void> {
  const result = { at: at(when), outcome: to === 'up' ? 'ok' : 'fail', latencyMs: 9, detail: to } as const;
  await new CheckStore(control.db).record(
    checkId,
    { state: to, since: at(when), lastProbeAt: at(when), recent: [result] },
    [{ at: at(when), from, to, cause: { kind: 'probes', results: [result] } }],
  );
}

/** A tenant with a prod stage, its gateway check with the given state changes and a 99.5 % SLA in UTC. */
async function tenantWithCheck(slug: string, changes: readonly [string, CheckState][]): Promise<string> {
  const created = await st.request('POST', '/api/v1/tenants', { slug, stages: ['prod'] });
  expect(created.status, created.text).toBe(201);
  const policy = await st.request('PUT', `/api/v1/tenants/${slug}/sla/policy`, {
    target: 99.5,
    timeZone: 'UTC',
    effectiveFrom: '2026-03-01T00:00:00Z',
  });
  expect(policy.status, policy.text).toBe(201);
  return gatewayCheckHistory(
    st,
    control.db,
    slug,
    'prod',
    changes.map(([when, state]) => [Date.parse(when), state] as const),
  );
}

beforeAll(async () => {
  st = await startTestSteward({ workers: false, clock: { now: () => new Date(nowMs) } });
  control = openControlStore(st.controlUrl, { max: 2 });
  acmeCheck = await tenantWithCheck(acme, [
    ['2026-03-25T00:00:00Z', 'up'],
    ['2026-04-07T10:00:00Z', 'down'], // 30 min, counted
    ['2026-04-07T10:30:00Z', 'up'],
  ]);
  // Down since the last evening of April, and still down.
  await tenantWithCheck(beta, [
    ['2026-03-25T00:00:00Z', 'up'],
    ['2026-04-30T23:00:00Z', 'down'],
  ]);
});

afterAll(async () => {
  await control?.close();
  await st?.close();
});

const freeze = (tenant: string, period: string, token?: string) =>
  st.request('POST', `/api/v1/tenants/${tenant}/sla/reports/${period}/freeze`, undefined, token);

describe('freezing an SLA report', () => {
  it('refuses an open period, naming it and when it closes, and freezes nothing', async () => {
    const res = await freeze(acme, '2026-04');
    expect(res.status, res.text).toBe(409);
    expect(res.body).toMatchObject({ code: 'conflict', field: 'period' });
    expect(res.body.message).toMatch(
      /field "period": 2026-04 is still open: it closes at 2026-05-01T00:00:00.000Z \(midnight in UTC\); a report can be frozen once its period has closed/,
    );
    const bad = await freeze(acme, '2026-4');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/field "period": "2026-4" is not a period/);
    expect(await auditEvents(st, 'sla.report.freeze', `tenant/${acme}/sla/report/2026-04`)).toHaveLength(0);
  });

  it('freezes a closed period before the automatic freeze, once, audited', async () => {
    nowMs = Date.parse('2026-05-01T09:00:00Z');
    const before = await st.request('GET', `/api/v1/tenants/${acme}/sla/reports/2026-04`);
    expect(before.body).toMatchObject({ frozen: null, freezesAt: '2026-05-02T00:00:00.000Z' });

    const auditor = await tokenFor(st, await addOperator(st, `aud${suffix}`, 'auditor'));
    const refused = await freeze(acme, '2026-04', auditor);
    expect(refused.status).toBe(403);

    const res = await freeze(acme, '2026-04');
    expect(res.status, res.text).toBe(200);
    const frozen = res.body as SlaReport;
    expect(frozen.frozen).toMatchObject({
      frozenAt: '2026-05-01T09:00:00.000Z',
      inputsSha256: frozen.inputsSha256,
      evidenceChanged: false,
    });
    expect(frozen.freezesAt).toBeNull();
    expect(frozen.figures).toMatchObject({ closed: true, status: 'met' });
    expect(frozen.figures.minutes.countedDowntime).toBe(30);

    nowMs += 60_000;
    const again = await freeze(acme, '2026-04');
    expect(again.status).toBe(200);
    expect(again.body.frozen).toEqual(frozen.frozen);
    const audit = await auditEvents(st, 'sla.report.freeze', `tenant/${acme}/sla/report/2026-04`);
    expect(audit).toHaveLength(1);
    expect(audit[0]?.details).toMatchObject({ how: 'explicit', inputsSha256: frozen.inputsSha256 });
    expect(audit[0]?.actor).toBe('operator:admin');
  });

  it('takes later evidence for none of its business: the frozen report stays unchanged', async () => {
    // The check keeps running after the freeze: a blip on 1 May, then days later.
    await change(acmeCheck, '2026-05-01T12:00:00Z', 'up', 'down');
    await change(acmeCheck, '2026-05-01T12:05:00Z', 'down', 'up');
    nowMs = Date.parse('2026-05-05T00:00:00Z');
    const later = await st.request('GET', `/api/v1/tenants/${acme}/sla/reports/2026-04`);
    expect(later.status, later.text).toBe(200);
    expect(later.body.frozen).toMatchObject({ frozenAt: '2026-05-01T09:00:00.000Z', evidenceChanged: false });
    expect(later.body.inputsSha256).toBe(later.body.frozen.inputsSha256);

    // An exclusion added to the frozen period afterwards is a change, and shown as one.
    const excluded = await st.request('POST', `/api/v1/tenants/${acme}/sla/exclusions`, {
      from: '2026-04-07T10:00:00Z',
      until: '2026-04-07T10:30:00Z',
      reason: 'upstream provider outage',
    });
    expect(excluded.status, excluded.text).toBe(201);
    const changed = await st.request('GET', `/api/v1/tenants/${acme}/sla/reports/2026-04`);
    expect(changed.body.frozen).toMatchObject({ evidenceChanged: true });
    expect(changed.body.frozen.recomputed.minutes.countedDowntime).toBe(0);
    expect(changed.body.figures.minutes.countedDowntime).toBe(30);
  });

  it('refuses while an outage across the period end still goes on', async () => {
    nowMs = Date.parse('2026-05-01T09:00:00Z');
    const res = await freeze(beta, '2026-04');
    expect(res.status, res.text).toBe(409);
    expect(res.body.message).toMatch(
      new RegExp(
        `the outage of ${beta} since 2026-04-30T23:00:00.000Z is still going on.*freeze 2026-04 after it ends, or let the report freeze it from 2026-05-02T00:00:00.000Z`,
      ),
    );
    expect(await auditEvents(st, 'sla.report.freeze', `tenant/${beta}/sla/report/2026-04`)).toHaveLength(0);
  });

  it('from the CLI: steward sla freeze', async () => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: st.dataDir,
      STEWARD_API_URL: await st.steward.start(),
      STEWARD_TOKEN: st.token,
    };
    const cli = (...args: string[]) => run(resolve(import.meta.dirname, '../../bin/steward'), args, { env });
    const frozen = await cli('sla', 'freeze', acme, '--period', '2026-04');
    expect(frozen.code, frozen.stderr).toBe(0);
    expect(frozen.stdout).toMatch(
      new RegExp(
        `^${acme} 2026-04: frozen 2026-05-01T09:00:00.000Z by \\S+, met, availability [\\d.]+ % \\(target 99.5 %\\), inputs sha256 [0-9a-f]{64}\\n$`,
      ),
    );
  });
});
