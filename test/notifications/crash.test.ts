import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelView, NotificationView } from '../../src/notifications/index.ts';
import {
  cleanUp,
  cli,
  cliJson,
  eventually,
  makeDataDir,
  spawnCli,
  startUpJson,
  type UpProcess,
} from '../cli/process.ts';
import { startWebhookReceiver, type WebhookReceiver } from './receivers.ts';

/**
 * kill -9 of a real `steward up` while its webhook receiver holds three
 * deliveries: after a restart each notification is delivered, none is lost,
 * and every repeat carries the same idempotency key (at least once).
 */
describe('kill -9 of steward up mid-delivery', () => {
  let dataDir: string;
  let hook: WebhookReceiver;
  const ups: UpProcess[] = [];

  beforeAll(async () => {
    dataDir = await makeDataDir();
    hook = await startWebhookReceiver();
    // Timeouts short enough that a lease (4 timeouts + 5 s) runs out within the test.
    await writeFile(
      join(dataDir, 'steward.yaml'),
      'notifications:\n  timeoutSeconds: 1\n  pollSeconds: 0.2\n  retryBaseSeconds: 0.2\n  retryCapSeconds: 0.5\n',
    );
  });

  afterAll(async () => {
    await cleanUp(dataDir, ...ups);
    await hook?.close();
  }, 120_000);

  it('delivers every notification after the restart, repeats only with the same key', async () => {
    ups.push((await startUpJson(dataDir)).up);
    const secret = 'whsec-crash-test-0123';
    // --secret-env names the variable that carries the secret: never on the command line.
    const result = await cli(
      dataDir,
      [
        '-o',
        'json',
        'notify',
        'channel',
        'add',
        'webhook',
        hook.url,
        '--name',
        'operators',
        '--secret-env',
        'HOOK_SECRET',
      ],
      { env: { HOOK_SECRET: secret } },
    );
    expect(result.code, result.stderr).toBe(0);
    const added = JSON.parse(result.stdout) as ChannelView;
    expect(added).toMatchObject({ name: 'operators', kind: 'webhook', signed: true, preset: 'generic' });
    expect(await cliJson<ChannelView[]>(dataDir, ['notify', 'channel', 'list'])).toEqual([added]);
    hook.hold();
    // Three test sends; their CLI calls die with the server.
    const tests = [0, 1, 2].map(() => spawnCli(dataDir, ['notify', 'test', 'operators']));
    await eventually(
      'three deliveries in flight',
      () => Promise.resolve(hook.requests.length >= 3 ? true : undefined),
      30_000,
      20,
    );
    const up = ups[0];
    up?.child.kill('SIGKILL');
    expect(await up?.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all(tests.map((t) => t.exited));
    const keys = new Set(hook.requests.map((r) => r.headers['idempotency-key'] as string));
    expect(keys.size).toBe(3);
    // The receiver took them: from its side they were delivered, from Steward's they were not yet.
    hook.release();

    ups.push((await startUpJson(dataDir)).up);
    const log = await eventually(
      'every notification delivered after the restart',
      async () => {
        const all = await cliJson<NotificationView[]>(dataDir, ['notify', 'log']);
        return all.length === 3 && all.every((n) => n.status === 'delivered') ? all : undefined;
      },
      60_000,
      500,
    );
    expect(new Set(log.map((n) => n.key))).toEqual(keys);
    for (const n of log) {
      // The attempt cut short by the kill left no delivery row; the one after the restart did.
      expect(n.deliveries.filter((d) => d.outcome === 'delivered')).toHaveLength(1);
      expect(n.attempts).toBeGreaterThanOrEqual(2);
    }
    // Repeats, but only of the same keys: at least once, never a new identity.
    expect(hook.requests.length).toBeGreaterThanOrEqual(6);
    expect(new Set(hook.requests.map((r) => r.headers['idempotency-key'] as string))).toEqual(keys);
  }, 240_000);
});
