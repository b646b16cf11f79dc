import { appendFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/contract.ts';
import type { HealAttemptView } from '../../src/healing/index.ts';
import type { StagePsView } from '../../src/runtime/read-model.ts';
import {
  cleanUp,
  cli,
  cliJson,
  eventually,
  makeDataDir,
  startUpJson,
  type UpProcess,
} from '../cli/process.ts';
import { ping, signalApp, wedgeDir } from './support.ts';

/**
 * kill -9 of a real `steward up` while a healing restart is under way (the
 * restarted process takes 8 s to listen): after the next start the attempt
 * is recorded interrupted, never left running; the process it started is
 * adopted, not started a second time; the cool-down still holds, so no
 * second restart follows at once; the alert resolves when the check sees the
 * stage serve again.
 */
describe('kill -9 of steward up mid-healing', () => {
  let dataDir: string;
  const ups: UpProcess[] = [];

  beforeAll(async () => {
    dataDir = await makeDataDir();
    await appendFile(
      join(dataDir, 'steward.yaml'),
      [
        'monitoring:',
        '  tickMs: 200',
        '  timeoutMs: 800',
        'alerts:',
        '  passSeconds: 0.2',
        '  rules:',
        '    - { name: ping-down, match: { builtin: operator }, for: 120s, heal: restart-process }',
        'healing:',
        '  coolDownSeconds: 60',
        '  attemptTimeoutSeconds: 60',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await cleanUp(dataDir, ...ups);
  }, 120_000);

  const web = async (): Promise<{ pid: number; port: number } | undefined> => {
    const [view] = await cliJson<StagePsView[]>(dataDir, ['ps', 'acme']);
    const p = view?.processes.find((x) => x.process === 'web' && x.release === view.release);
    return p?.pid && p.port ? { pid: p.pid, port: p.port } : undefined;
  };
  const attempts = (): Promise<HealAttemptView[]> =>
    cliJson<HealAttemptView[]>(dataDir, ['heal', 'list', '--tenant', 'acme']);

  it('records the attempt interrupted, adopts what it started, and does not restart again at once', async () => {
    ups.push((await startUpJson(dataDir)).up);
    const ok = async (args: string[]): Promise<void> => {
      const result = await cli(dataDir, args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    };
    await ok(['tenant', 'create', 'acme', '--stages', 'prod']);
    await ok(['release', 'add', wedgeDir, '--version', '1.0.0']);
    await ok(['deploy', 'acme', 'prod', '1.0.0']);
    await ok([
      'check',
      'add',
      'acme',
      'prod',
      '--http',
      '/api/ping',
      '--via',
      'processes',
      '--interval',
      '5s',
    ]);
    await eventually(
      'the ping check up',
      async () => {
        const checks = await cliJson<{ origin: string; state: string }[]>(dataDir, ['check', 'list', 'acme']);
        return checks.find((c) => c.origin === 'operator')?.state === 'up' ? true : undefined;
      },
      60_000,
    );
    const filesDir = join(dataDir, 'files', 'acme', 'prod');
    const before = await eventually('the web process', web);
    expect(await ping(before.port)).toMatch(/^ok pid/);

    // The next start of the app waits for this file: the healing restart is under way until it goes.
    await writeFile(join(filesDir, 'slow-start'), '');
    await signalApp(before.pid, 'SIGUSR2');
    const running = await eventually(
      'a healing attempt under way',
      async () => (await attempts()).find((a) => a.outcome === 'running'),
      60_000,
      100,
    );
    const restarted = await eventually('the restarted process', async () => {
      const now = await web();
      return now && now.pid !== before.pid ? now : undefined;
    });
    const up = ups[0];
    up?.child.kill('SIGKILL');
    expect(await up?.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await rm(join(filesDir, 'slow-start'));

    ups.push((await startUpJson(dataDir)).up);
    const after = await attempts();
    const attempt = after.find((a) => a.id === running.id);
    expect(attempt).toMatchObject({
      id: running.id,
      alertId: running.alertId,
      outcome: 'interrupted',
      detail: 'cut short: Steward stopped while it ran',
    });
    expect(attempt?.finishedAt).not.toBeNull();
    // Adopted: the process the interrupted restart started serves, under the same pid.
    const served = await eventually(
      'the restarted process serving',
      async () => ((await ping(restarted.port)).startsWith('ok pid') ? true : undefined),
      30_000,
    );
    expect(served).toBe(true);
    expect((await web())?.pid).toBe(restarted.pid);
    // The check sees it up: the alert resolves, while pending, without a second restart.
    const alert = await eventually(
      'the alert resolved',
      async () => {
        const found = await cliJson<AlertView>(dataDir, ['alert', 'show', running.alertId]);
        return found.status === 'resolved' ? found : undefined;
      },
      60_000,
      500,
    );
    expect(alert.firedAt).toBeNull();
    // Nothing but the interrupted attempt acted; asked again meanwhile, healing said it was cooling down.
    const outcomes = (await attempts()).map((a) => a.outcome).reverse();
    expect(outcomes[0]).toBe('interrupted');
    expect(outcomes.slice(1).every((o) => o === 'skipped-cooling-down')).toBe(true);
    expect(outcomes.length).toBeLessThanOrEqual(2);
    const audit = await cliJson<{ action: string; outcome: string; details: { phase?: string } }[]>(dataDir, [
      'audit',
      'list',
      '--action',
      'heal.restart-process',
    ]);
    // The skips are audited too (denied); the attempt itself started and was interrupted, never finished.
    expect(audit.filter((e) => e.outcome !== 'denied').map((e) => [e.outcome, e.details.phase])).toEqual([
      ['success', 'started'],
      ['failure', 'interrupted'],
    ]);
  }, 240_000);
});
