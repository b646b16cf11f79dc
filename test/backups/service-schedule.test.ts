import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackupService, type StageBackupsView } from '../../src/backups/service.ts';
import { parseConfig } from '../../src/core/config.ts';
import { openControlStore } from '../../src/store/db.ts';
import { ManualClock } from '../identity/helpers.ts';
import { startTestSteward, silentLogger, type TestSteward } from '../harness/steward.ts';
import { eventually } from './support.ts';

/**
 * The backup service's schedule (one pass, with a clock the test moves), a
 * dedicated stage's own cluster, and the checks on repositories: geography,
 * regions and S3 keys.
 */

describe('the schedule of a cluster, with a clock the test moves', () => {
  let t: TestSteward;
  const clock = new ManualClock();

  beforeAll(async () => {
    t = await startTestSteward({ sharedBackups: true, workers: false, clock, config: { backups: {} } });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('takes a full in repo1 and then repo2 when there is none, waits, and takes a diff a day later', async () => {
    const first = await t.services.backups.scheduledPass('shared');
    expect(first.policy).toEqual({
      full: 'weekly',
      diff: 'daily',
      incr: null,
      retainDays: 30,
      keepDaily: null,
      keepWeekly: null,
      keepMonthly: null,
    });
    expect(
      first.repos.map((r) => [r.repo, r.kind, r.kind === 'ran' ? [r.run.type, r.run.status] : null]),
    ).toEqual([
      [1, 'ran', ['full', 'succeeded']],
      [2, 'ran', ['full', 'succeeded']],
    ]);
    const ran = first.repos[0]!;
    expect(ran.kind === 'ran' && ran.run.requestedBy).toBe('schedule');

    const second = await t.services.backups.scheduledPass('shared');
    expect(second.repos.map((r) => r.kind)).toEqual(['wait', 'wait']);
    const until = second.repos[0]!.kind === 'wait' ? second.repos[0]!.until.getTime() : 0;
    expect(until - clock.now().getTime()).toBeGreaterThan(23 * 3600_000);
    // A day after the full stopped (real time, a few seconds after the clock's start).
    expect(until - clock.now().getTime()).toBeLessThanOrEqual(24 * 3600_000 + 60_000);

    // The jobs the start queued: the schedule's now, a verify a day after the stanza was prepared.
    const jobs = await t.query<{ kind: string; key: string; in_hours: number }>(
      `select kind, key, extract(epoch from run_at - now()) / 3600 as in_hours from jobs
        where kind like 'backup-%' order by kind`,
      [],
      t.controlDatabase,
    );
    expect(jobs.map((j) => [j.kind, j.key])).toEqual([
      ['backup-cluster', 'shared'],
      ['backup-verify', 'shared'],
    ]);
    expect(Number(jobs[1]!.in_hours)).toBeGreaterThan(23);
    // The job handlers: the schedule's asks again within the hour (its cap), the verify's in a day.
    const job = { id: '0', kind: 'backup-cluster', key: 'shared', attempts: 0, requestedAt: '' };
    expect(await t.services.backups.handleCluster(job)).toEqual({ kind: 'requeue', afterMs: 3_600_000 });
    expect(await t.services.backups.handleVerify({ ...job, kind: 'backup-verify' })).toEqual({
      kind: 'requeue',
      afterMs: 24 * 3_600_000,
    });
    const [cluster] = await t.services.backups.clusters();
    expect(cluster?.lastVerify?.ok, cluster?.lastVerify?.report).toBe(true);
    expect(await t.services.backups.handleCluster({ ...job, key: 'gone' })).toEqual({ kind: 'done' });

    clock.advance(25 * 3600);
    const third = await t.services.backups.scheduledPass('shared');
    expect(third.repos.map((r) => (r.kind === 'ran' ? [r.run.type, r.run.status] : r.kind))).toEqual([
      ['diff', 'succeeded'],
      ['diff', 'succeeded'],
    ]);
  });
});

describe('backup repositories and geography', () => {
  let t: TestSteward;

  beforeAll(async () => {
    t = await startTestSteward({
      config: {
        regions: [
          { name: 'de-nbg', geography: 'eu' },
          { name: 'fi-hel', geography: 'eu' },
          { name: 'us-east', geography: 'us' },
        ],
        defaultRegion: 'de-nbg',
        backups: { repositories: [{ kind: 'path' }, { kind: 'path', region: 'fi-hel' }] },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('refuses a tenant whose geography a repository is outside of, and creates nothing', async () => {
    const refused = await t.request('POST', '/api/v1/tenants', { slug: 'yankee', region: 'us-east' });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(
      /repo1 is in region de-nbg \(geography eu\), outside tenant yankee's geography us/,
    );
    expect((await t.request('GET', '/api/v1/tenants/yankee')).status).toBe(404);
    const accepted = await t.request('POST', '/api/v1/tenants', { slug: 'euro', region: 'fi-hel' });
    expect(accepted.status, accepted.text).toBe(201);
    await t.waitForStages('euro');
  });

  it('shows stages on a shared cluster Steward does not run as not backed up, and refuses to back them up', async () => {
    const list = await t.request('GET', '/api/v1/tenants/euro/stages/prod/backups');
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({
      cluster: null,
      freshness: null,
      reason: 'not backed up by Steward: the shared cluster is external',
    });
    const shown = await t.request('GET', '/api/v1/tenants/euro');
    expect(shown.body.stages.every((s: { backup: unknown }) => s.backup === null)).toBe(true);
    const run = await t.request('POST', '/api/v1/tenants/euro/stages/prod/backups', { type: 'full' });
    expect(run.status).toBe(409);
    expect(run.body.message).toMatch(/shared cluster is external/);
  });

  it('refuses a repository in an unknown region in the config, and an S3 repository without keys at start', async () => {
    expect(() =>
      parseConfig({ dataDir: '/x', backups: { repositories: [{ kind: 'path', region: 'mars' }] } }),
    ).toThrow(/config field backups\.repositories\.0\.region: "mars" is not one of the regions \(local\)/);
    const s3 = parseConfig({
      dataDir: t.dataDir,
      backups: {
        repositories: [
          { kind: 'path' },
          { kind: 's3', endpoint: 's3.example.com', bucket: 'steward', s3Region: 'eu-1', path: '/x' },
        ],
      },
    });
    const store = openControlStore(t.controlUrl, { max: 2 });
    const service = new BackupService({
      db: store.db,
      secrets: t.services.secrets,
      audit: t.services.audit,
      clock: { now: () => new Date() },
      logger: silentLogger,
      tenants: t.services.tenants,
      settings: s3.backups,
      dataDir: t.dataDir,
    });
    try {
      await expect(service.start()).rejects.toThrow(
        /STEWARD_BACKUP_REPO2_S3_KEY and STEWARD_BACKUP_REPO2_S3_KEY_SECRET/,
      );
    } finally {
      await store.close();
    }
  });
});

describe("a dedicated stage's own cluster", () => {
  let t: TestSteward;

  beforeAll(async () => {
    t = await startTestSteward({ config: { backups: {} } });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('gets a stanza of its own once ready, and is backed up to both repositories by its schedule', async () => {
    const created = await t.request('POST', '/api/v1/tenants', {
      slug: 'solo',
      tier: 'dedicated',
      stages: ['prod'],
    });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('solo', 'ready', 60_000);
    const database = await t.database('solo', 'prod');
    const view = await eventually(
      'the schedule to back up the dedicated cluster to both repositories',
      async () => {
        const res = await t.request('GET', '/api/v1/tenants/solo/stages/prod/backups');
        const body = res.body as StageBackupsView;
        return new Set(body.backups.map((b) => b.repo)).size === 2 ? body : undefined;
      },
      90_000,
    );
    expect(view).toMatchObject({ cluster: database, clusterKind: 'dedicated', error: null });
    expect(view.freshness?.type).toBe('full');
    expect(view.runs.every((r) => r.requestedBy === 'schedule')).toBe(true);
    const clusters = await t.request('GET', '/api/v1/backup-clusters');
    expect(clusters.body.clusters).toEqual([
      expect.objectContaining({
        stanza: database,
        kind: 'dedicated',
        live: true,
        tenant: 'solo',
        stage: 'prod',
      }),
    ]);
    const target = await t.services.backups.stageTarget('solo', 'prod');
    expect(target).toMatchObject({ stanza: database, kind: 'dedicated' });
    expect(target.cluster.dir).toBe(join(t.dataDir, 'clusters', database));
    expect(target.stateDir).toBe(join(t.dataDir, 'backups', 'state', database));

    // Removing the stage removes its cluster; its backups stay in the repositories, listed as removed.
    expect((await t.request('DELETE', '/api/v1/tenants/solo')).status).toBe(202);
    await t.waitForStages('solo', 'gone', 60_000);
    const after = await t.request('GET', '/api/v1/backup-clusters');
    expect(after.body.clusters).toEqual([
      expect.objectContaining({ stanza: database, kind: 'dedicated', live: false, tenant: null }),
    ]);
    const verify = await t.request('POST', `/api/v1/backup-clusters/${database}/verify`);
    expect(verify.status).toBe(404);
    expect(verify.body.message).toMatch(/no longer runs here \(its stage was removed\)/);
  });
});
