import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/system/exec.ts';
import type { HealAttemptView } from '../../src/healing/index.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { alertOf, deployWedge, ping, signalApp, until, webProcess } from './support.ts';

/**
 * The healer's drivers against a real Steward and a real app: a web process
 * whose work hangs while its liveness answers (the supervisor sees nothing
 * wrong) is restarted, the attempt is evidence linked to its alert and in
 * the audit log, and the cool-down and the rate limit stop a loop.
 */
describe('self-healing actions', () => {
  let t: TestSteward;

  beforeAll(async () => {
    t = await startTestSteward({
      runtimeTickMs: 500,
      config: { healing: { maxAttempts: 3, coolDownSeconds: 2, attemptTimeoutSeconds: 30 } },
    });
    await deployWedge(t, 'acme');
  }, 180_000);

  afterAll(async () => {
    await t?.close();
  });

  const attempts = async (alert: string): Promise<HealAttemptView[]> => {
    const res = await t.request('GET', `/api/v1/healing/attempts?alert=${alert}`);
    expect(res.status, res.text).toBe(200);
    return (res.body.attempts as HealAttemptView[]).reverse();
  };

  it('restarts a web process that hangs while its liveness answers, and records the attempt with its alert', async () => {
    const before = await webProcess(t, 'acme');
    expect(await ping(before.port)).toMatch(/^ok pid/);
    await signalApp(before.pid, 'SIGUSR2');
    await until('the app wedged', async () => ((await ping(before.port)) === 'hangs' ? true : undefined));
    // The supervisor's own probe is satisfied: it restarts nothing.
    await new Promise((r) => setTimeout(r, 3500));
    expect((await webProcess(t, 'acme')).pid).toBe(before.pid);

    await t.services.healing.heal(alertOf('a1'), 'restart-process');
    await t.services.healing.settled();
    const after = await webProcess(t, 'acme');
    expect(after.pid).not.toBe(before.pid);
    expect(await ping(after.port)).toMatch(/^ok pid/);

    const [attempt, ...rest] = await attempts('a1');
    expect(rest).toEqual([]);
    expect(attempt).toMatchObject({
      alertId: 'a1',
      action: 'restart-process',
      tenant: 'acme',
      stage: 'prod',
      process: null,
      target: 'acme/prod',
      outcome: 'succeeded',
    });
    expect(attempt?.detail).toMatch(/^restarted web\.0 \(pid \d+ -> \d+\); healthy again after [\d.]+ s$/);
    expect(Date.parse(attempt?.finishedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(attempt?.startedAt ?? ''),
    );
    const audit = await t.services.audit.list({ action: 'heal.restart-process', tenant: 'acme' });
    expect(audit.map((e) => [e.outcome, e.details.phase, e.details.alert])).toEqual([
      ['success', 'started', 'a1'],
      ['success', 'finished', 'a1'],
    ]);
    expect(audit[0]?.target).toBe('tenant/acme/stage/prod');
  });

  it('cools down after an attempt, then stops at the rate limit: a fault that survives restarts is not restarted forever', async () => {
    // From now on the app starts wedged: a restart does not help.
    const [stage] = await t.query<{ files_dir: string }>(
      "select files_dir from stages s join tenants t on t.id = s.tenant_id where t.slug = 'acme'",
      [],
      t.controlDatabase,
    );
    await writeFile(join(stage?.files_dir ?? '', 'wedge-on-start'), '');
    const first = await webProcess(t, 'acme');
    await signalApp(first.pid, 'SIGUSR2');
    const alert = alertOf('a2');
    const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 2100));
    await pause(); // past the cool-down of the first test's attempt on the same target

    await t.services.healing.heal(alert, 'restart-process');
    // A second call while it runs neither acts nor records anything.
    await t.services.healing.heal(alert, 'restart-process');
    await t.services.healing.settled();
    const second = await webProcess(t, 'acme');
    expect(second.pid).not.toBe(first.pid);
    expect(await ping(second.port)).toBe('hangs');
    // Within the cool-down: skipped, and said once however often the alert service asks.
    await t.services.healing.heal(alert, 'restart-process');
    await t.services.healing.heal(alert, 'restart-process');
    await pause();
    await t.services.healing.heal(alert, 'restart-process');
    await t.services.healing.settled();
    const third = await webProcess(t, 'acme');
    expect(third.pid).not.toBe(second.pid);
    // Three attempts within the window (a1's included): no more, however long it stays broken.
    await pause();
    for (let i = 0; i < 3; i++) await t.services.healing.heal(alert, 'restart-process');
    await t.services.healing.settled();
    expect((await webProcess(t, 'acme')).pid).toBe(third.pid);
    const outcomes = (await attempts('a2')).map((a) => a.outcome);
    expect(outcomes).toEqual(['succeeded', 'skipped-cooling-down', 'succeeded', 'skipped-rate-limited']);
    const limited = (await attempts('a2')).at(-1);
    expect(limited?.detail).toMatch(
      /^3 attempts to restart-process acme\/prod within 60 min \(at most 3, healing\.maxAttempts\); the next is allowed at /,
    );
    await rm(join(stage?.files_dir ?? '', 'wedge-on-start'));
  });

  it('restarts a whole stage', async () => {
    const before = await webProcess(t, 'acme');
    await t.services.healing.heal(alertOf('a5'), 'restart-stage');
    await t.services.healing.settled();
    const [attempt] = await attempts('a5');
    expect(attempt?.outcome, attempt?.detail).toBe('succeeded');
    expect(attempt?.detail).toMatch(/^restarted acme\/prod: 1 processes of release 1\.0\.0 healthy after/);
    const after = await webProcess(t, 'acme');
    expect(after.pid).not.toBe(before.pid);
    expect(await ping(after.port)).toMatch(/^ok pid/);
  });

  it('says why it does nothing: no stage, backups off', async () => {
    await t.services.healing.heal(alertOf('a3', { tenant: null, stage: null }), 'restart-stage');
    await t.services.healing.heal(alertOf('a3', { tenant: null, stage: null }), 'restart-stage');
    expect((await attempts('a3')).map((a) => [a.outcome, a.detail])).toEqual([
      ['skipped-no-target', 'the alert names no tenant and stage, and restart-stage acts on a stage'],
    ]);
    await t.services.healing.heal(alertOf('a4'), 'rerun-backup');
    await t.services.healing.settled();
    expect((await attempts('a4')).map((a) => [a.outcome, a.detail])).toEqual([
      ['failed', 'physical backups are off (backups.enabled: false)'],
    ]);
  });

  it('lists attempts with steward heal list, and refuses a bad limit naming it', async () => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: t.dataDir,
      STEWARD_API_URL: await t.steward.start(),
      STEWARD_TOKEN: t.token,
    };
    const cli = (...args: string[]) => run(resolve(import.meta.dirname, '../../bin/steward'), args, { env });
    const listed = await cli('heal', 'list', '--tenant', 'acme', '-o', 'json');
    expect(listed.code, listed.stderr).toBe(0);
    const rows = JSON.parse(listed.stdout) as HealAttemptView[];
    expect(rows.map((r) => r.alertId)).toContain('a1');
    expect(rows.every((r) => r.tenant === 'acme')).toBe(true);
    const table = await cli('heal', 'list', '--alert', 'a1');
    expect(table.stdout).toMatch(/a1 +restart-process +acme\/prod .* succeeded +restarted web\.0/);
    const bad = await t.request('GET', '/api/v1/healing/attempts?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ field: 'limit' });
  });
});
