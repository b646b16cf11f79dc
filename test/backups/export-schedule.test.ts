import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportScheduleJobKind, type ExportView } from '../../src/backups/logical/index.ts';
import { ManualClock } from '../identity/helpers.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { eventually } from './support.ts';

/**
 * Logical exports scheduled by the tenant's backup policy (one sweeper pass
 * at a time, called directly, with a clock the test moves) and kept by its
 * retention. The exports themselves run as jobs, for real (pg_dump, age).
 *
 * acme: a passphrase key, exports daily. nokey: the default (weekly), no key.
 * quiet: a key, exports off.
 */
describe('exports scheduled by policy, kept by the same retention', () => {
  let t: TestSteward;
  const clock = new ManualClock();
  const hour = 3600;

  const pass = () => t.services.exportSchedule.scheduledPass();

  async function finished(tenant: string): Promise<ExportView[]> {
    return eventually(`the exports of ${tenant} to finish`, async () => {
      const all = await t.services.exports.list(tenant);
      return all.some((e) => e.status === 'running') ? undefined : all;
    });
  }

  const skipLines = (tenant: string): number =>
    t
      .logs()
      .split('\n')
      .filter((l) => l.includes('"msg":"scheduled exports skipped"') && l.includes(`"tenant":"${tenant}"`))
      .length;

  beforeAll(async () => {
    t = await startTestSteward({ clock });
    for (const [slug, stages] of [
      ['acme', ['dev', 'prod']],
      ['nokey', ['dev', 'prod']],
      ['quiet', ['prod']],
    ] as const) {
      const created = await t.request('POST', '/api/v1/tenants', { slug, stages });
      expect(created.status, created.text).toBe(201);
    }
    for (const slug of ['acme', 'nokey', 'quiet']) await t.waitForStages(slug);
    for (const slug of ['acme', 'quiet']) {
      const key = await t.request('PUT', `/api/v1/tenants/${slug}/export-key`, { generate: 'passphrase' });
      expect(key.status, key.text).toBe(200);
    }
    const daily = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', { exports: 'daily' });
    expect(daily.status, daily.text).toBe(200);
    expect(daily.body.policy).toEqual({
      full: 'weekly',
      diff: 'daily',
      incr: null,
      retainDays: 30,
      keepDaily: null,
      keepWeekly: null,
      keepMonthly: null,
      exports: 'daily',
    });
    const off = await t.request('PUT', '/api/v1/tenants/quiet/backup-policy', { exports: 'off' });
    expect(off.status, off.text).toBe(200);
    expect(off.body.policy.exports).toBeNull();
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('queues one sweeper job at start', async () => {
    const jobs = await t.query<{ key: string }>(
      'select key from jobs where kind = $1',
      [exportScheduleJobKind],
      t.controlDatabase,
    );
    expect(jobs).toEqual([{ key: 'all' }]);
  });

  it('refuses a bad export schedule naming the field, the value and what is accepted, changing nothing', async () => {
    const before = await t.request('GET', '/api/v1/tenants/acme/backup-policy');
    const audits = (await t.services.audit.list({ action: 'backup.policy.set' })).length;
    for (const value of ['hourly', 5, true]) {
      const bad = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', { exports: value });
      expect(bad.status, bad.text).toBe(400);
      expect(bad.body.field).toBe('exports');
      expect(bad.body.message).toMatch(/daily.*weekly.*off/);
      if (value === 'hourly') expect(bad.body.message).toContain('hourly');
    }
    // With a good field beside it, nothing is changed either.
    const mixed = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', {
      retainDays: 7,
      exports: 'hourly',
    });
    expect(mixed.status).toBe(400);
    const after = await t.request('GET', '/api/v1/tenants/acme/backup-policy');
    expect(after.body).toEqual(before.body);
    expect((await t.services.audit.list({ action: 'backup.policy.set' })).length).toBe(audits);
  });

  it('exports every ready stage on the first pass, as the schedule, and not again at the same time', async () => {
    const now = clock.now();
    const first = await pass();
    expect(first.created.map((e) => [e.tenant, e.stage, e.createdBy])).toEqual([
      ['acme', 'dev', 'schedule'],
      ['acme', 'prod', 'schedule'],
    ]);
    expect(first.nextDue?.getTime()).toBe(now.getTime() + 24 * hour * 1000);
    expect(first.skipped).toEqual([{ tenant: 'nokey', reason: expect.stringMatching(/no export key/) }]);

    // Still running or done, the new exports are recent: nothing more now.
    const second = await pass();
    expect(second.created).toEqual([]);

    const events = await t.services.audit.list({ tenant: 'acme', action: 'export.create' });
    expect(events).toHaveLength(2);
    for (const event of events) {
      expect(event).toMatchObject({ actor: 'system', details: { scheduled: true, every: 'daily' } });
    }

    const done = await finished('acme');
    expect(done.map((e) => e.status)).toEqual(['succeeded', 'succeeded']);
    const third = await pass();
    expect(third.created).toEqual([]);
    expect(third.pruned).toEqual([]);
  });

  it('makes none for a tenant without a key (saying why, once a pass) or with exports off, and nothing fails', async () => {
    expect(await t.services.exports.list('nokey')).toEqual([]);
    expect(await t.services.exports.list('quiet')).toEqual([]);
    // Three passes so far, one line each for nokey's two stages; none for quiet.
    expect(skipLines('nokey')).toBe(3);
    expect(skipLines('quiet')).toBe(0);
    expect(t.logs()).toContain('tenant nokey has no export key');
    const failures = (await t.services.audit.list({})).filter((e) => e.outcome === 'failure');
    expect(failures).toEqual([]);
  });

  it('exports again a day later, and comes back within the hour', async () => {
    clock.advance(25 * hour);
    const later = await pass();
    expect(later.created.map((e) => `${e.tenant}/${e.stage}`)).toEqual(['acme/dev', 'acme/prod']);
    expect(later.pruned).toEqual([]);
    const done = await finished('acme');
    expect(done.map((e) => e.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(await t.services.exports.list('quiet')).toEqual([]);

    // The job: the next export is a day away, so it asks again in an hour, not later.
    const outcome = await t.services.exportSchedule.handle({
      id: '0',
      kind: exportScheduleJobKind,
      key: 'all',
      attempts: 0,
      requestedAt: '',
    });
    expect(outcome).toEqual({ kind: 'requeue', afterMs: 3_600_000 });
  });

  it('does not count a failed export: the stage is exported again', async () => {
    const [newest] = await t.services.exports.list('acme', 'prod');
    await t.query(
      "update logical_exports set status = 'failed', reason = 'made to fail by the test' where id = $1",
      [newest!.id],
      t.controlDatabase,
    );
    const again = await pass();
    expect(again.created.map((e) => `${e.tenant}/${e.stage}`)).toEqual(['acme/prod']);
    await finished('acme');
  });

  it("removes exports the tenant's retention no longer keeps, never the newest good one of a stage", async () => {
    const before = await t.services.exports.list('acme');
    // dev: two good (25 h apart); prod: two good and the failed one between them.
    expect(before).toHaveLength(5);
    const set = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', { retainDays: 1 });
    expect(set.status, set.text).toBe(200);
    const oldest = before.filter((e) => e.createdAt === before.at(-1)!.createdAt);
    expect(oldest.map((e) => e.stage).sort()).toEqual(['dev', 'prod']);
    const paths = await t.query<{ path: string }>(
      'select path from logical_exports where id = any($1::uuid[])',
      [oldest.map((e) => e.id)],
      t.controlDatabase,
    );
    expect(paths).toHaveLength(2);
    for (const { path } of paths) expect(path.startsWith(join(t.dataDir, 'exports', 'acme'))).toBe(true);

    const pruned = await pass();
    expect(pruned.created).toEqual([]);
    expect([...pruned.pruned].sort()).toEqual(oldest.map((e) => e.id).sort());
    const left = await t.services.exports.list('acme');
    expect(left.map((e) => [e.stage, e.status]).sort()).toEqual([
      ['dev', 'succeeded'],
      ['prod', 'failed'],
      ['prod', 'succeeded'],
    ]);
    const expired = await t.services.audit.list({ tenant: 'acme', action: 'export.expire' });
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ actor: 'system', details: { retainDays: 1 } });

    // Exports off, three days on: the failed one goes, the newest good export of each stage stays.
    expect((await t.request('PUT', '/api/v1/tenants/acme/backup-policy', { exports: 'off' })).status).toBe(
      200,
    );
    clock.advance(3 * 24 * hour);
    const quiet = await pass();
    expect(quiet.created).toEqual([]);
    const kept = await t.services.exports.list('acme');
    expect(kept.map((e) => [e.stage, e.status]).sort()).toEqual([
      ['dev', 'succeeded'],
      ['prod', 'succeeded'],
    ]);
    for (const e of kept) {
      const row = await t.query<{ path: string }>(
        'select path from logical_exports where id = $1',
        [e.id],
        t.controlDatabase,
      );
      expect((await stat(row[0]!.path)).size).toBeGreaterThan(0);
    }
    // The pruned exports' files are gone with them.
    for (const { path } of paths) await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });
});
