import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { alertOf, until } from './support.ts';

/**
 * The rerun-backup action over Steward's own shared cluster and real
 * pgBackRest: it requests a backup of the stage's cluster as an operator's
 * `steward backup run` would, the run succeeds, and a second ask within the
 * cool-down does not request another.
 */
describe('self-healing: re-run a failed backup', () => {
  let t: TestSteward;

  beforeAll(async () => {
    t = await startTestSteward({ sharedBackups: true, config: { backups: { backupTimeoutMinutes: 10 } } });
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('acme');
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('requests a backup of the stage cluster; the run succeeds; the cool-down stops a second request', async () => {
    const alert = alertOf('b1', { summary: 'backup check down: no good backup for 26 h' });
    await t.services.healing.heal(alert, 'rerun-backup');
    await t.services.healing.settled();
    await t.services.healing.heal(alert, 'rerun-backup');
    const attempts = await t.services.healing.attemptsFor('b1');
    expect(attempts.map((a) => a.outcome)).toEqual(['succeeded', 'skipped-cooling-down']);
    const detail = attempts[0]?.detail ?? '';
    expect(detail).toMatch(/^requested backup [0-9a-f-]{36} of cluster shared \(incr, repos 1, 2\)$/);
    const id = /backup ([0-9a-f-]{36})/.exec(detail)?.[1] ?? '';
    const done = await until(
      'the requested backup',
      async () => {
        const request = await t.services.backups.request(id);
        return request.status === 'succeeded' || request.status === 'failed' ? request : undefined;
      },
      180_000,
    );
    expect(done.status, done.reason).toBe('succeeded');
    expect(done).toMatchObject({ tenant: 'acme', stage: 'prod', requestedBy: 'system' });
  }, 240_000);
});
