import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupRun } from '../../src/backups/runs.ts';
import {
  BackupService,
  type BackupRequestView,
  type BackupTarget,
  type StageBackupsView,
} from '../../src/backups/service.ts';
import { openControlStore } from '../../src/store/db.ts';
import { silentLogger, startTestSteward, type TestSteward } from '../harness/steward.ts';
import { groupAlive } from '../../src/backups/pgbackrest/process.ts';
import { eventually } from './support.ts';

/**
 * The backup service over real PostgreSQL and pgBackRest: Steward's own
 * shared cluster (archiving from its first start), policies through the API,
 * requested runs to both repositories, freshness, verify, and a stop that
 * cancels a running backup. The schedule, dedicated clusters and the checks on
 * repositories are in service-schedule.test.ts.
 */

async function finished(t: TestSteward, id: string, timeoutMs = 120_000): Promise<BackupRequestView> {
  return eventually(
    `backup request ${id} to finish`,
    async () => {
      const res = await t.request('GET', `/api/v1/backup-requests/${id}`);
      expect(res.status, res.text).toBe(200);
      const view = res.body as BackupRequestView;
      return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
    },
    timeoutMs,
  );
}

describe("the backup service on Steward's own shared cluster", () => {
  let t: TestSteward;
  const hooked: { cluster: string; run: BackupRun }[] = [];

  beforeAll(async () => {
    t = await startTestSteward({
      sharedBackups: true,
      config: { backups: { backupTimeoutMinutes: 10 } },
      onBackupSucceeded: (cluster: BackupTarget, run: BackupRun) => {
        hooked.push({ cluster: cluster.stanza, run });
        return Promise.resolve();
      },
    });
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['dev', 'prod'] });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('acme');
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('archives the shared cluster from its first start, never the run-wide one', async () => {
    const own = await t.query<{ setting: string }>(
      "select setting from pg_settings where name = 'archive_mode'",
      [],
    );
    // t.query reaches the run's shared cluster: it must not archive.
    expect(own[0]?.setting).toBe('off');
    const clusters = await t.request('GET', '/api/v1/backup-clusters');
    expect(clusters.status).toBe(200);
    expect(clusters.body.clusters.map((c: { stanza: string }) => c.stanza)).toEqual(['shared']);
  });

  it('shows the default policy, sets one, and refuses bad input naming the field without changing anything', async () => {
    const shown = await t.request('GET', '/api/v1/tenants/acme/backup-policy');
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      tenant: 'acme',
      isDefault: true,
      policy: { full: 'weekly', diff: 'daily', incr: null, retainDays: 30 },
    });

    const set = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', {
      full: 'weekly',
      diff: 'daily',
      incr: '2h',
      retainDays: 30,
    });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toMatchObject({ isDefault: false, policy: { incr: '2h' }, updatedBy: 'operator:admin' });

    const bad: [unknown, string, RegExp][] = [
      [{ full: 'hourly' }, 'full', /"hourly".*weekly, daily/],
      [{ diff: 'weekly' }, 'diff', /"weekly".*daily, off/],
      [{ incr: '1h' }, 'incr', /"1h".*2h, off/],
      [{ retainDays: 0 }, 'retainDays', /0.*at least 1/],
      [{ retainDays: 2.5 }, 'retainDays', /2\.5/],
      [{ keep: 3 }, 'keep', /unknown field "keep".*full, diff, incr, retainDays/],
      [{}, 'full', /at least one of full/],
    ];
    for (const [body, field, message] of bad) {
      const res = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.field, JSON.stringify(body)).toBe(field);
      expect(res.body.message, JSON.stringify(body)).toMatch(message);
    }
    const missing = await t.request('PUT', '/api/v1/tenants/nobody/backup-policy', { full: 'daily' });
    expect(missing.status).toBe(404);

    const after = await t.request('GET', '/api/v1/tenants/acme/backup-policy');
    expect(after.body).toEqual(set.body);
    const events = await t.services.audit.list({ action: 'backup.policy.set' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ tenant: 'acme', actor: 'operator:admin' });

    // Diff off, through "off": only the field given changes.
    const off = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', { diff: 'off' });
    expect(off.body.policy).toEqual({
      full: 'weekly',
      diff: null,
      incr: '2h',
      retainDays: 30,
      keepDaily: null,
      keepWeekly: null,
      keepMonthly: null,
      exports: 'weekly',
    });

    // Retention tiers: a number or "off"; bad ones name the field, the value and what is accepted.
    const tiers = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', {
      keepDaily: 7,
      keepWeekly: 8,
      keepMonthly: 12,
    });
    expect(tiers.status, tiers.text).toBe(200);
    expect(tiers.body.policy).toMatchObject({ retainDays: 30, keepDaily: 7, keepWeekly: 8, keepMonthly: 12 });
    for (const [body, field, message] of [
      [
        { keepDaily: 0 },
        'keepDaily',
        /"0" is not accepted; use a whole number of days from 1 to 3650, or "off"/,
      ],
      [{ keepWeekly: 521 }, 'keepWeekly', /"521" .*weeks from 1 to 520/],
      [{ keepMonthly: 'never' }, 'keepMonthly', /"never" .*months from 1 to 120, or "off"/],
      [{ keepMonthly: 1.5 }, 'keepMonthly', /"1\.5" .*months/],
    ] as const) {
      const res = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', { retainDays: 30, ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.field, JSON.stringify(body)).toBe(field);
      expect(res.body.message, JSON.stringify(body)).toMatch(message);
    }
    expect((await t.request('GET', '/api/v1/tenants/acme/backup-policy')).body).toEqual(tiers.body);
    const tierOff = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', { keepWeekly: 'off' });
    expect(tierOff.body.policy).toMatchObject({ keepDaily: 7, keepWeekly: null, keepMonthly: 12 });

    // An auditor reads policies but changes none.
    const auditor = await t.request('POST', '/api/v1/tokens', { name: 'audit', role: 'auditor' });
    const token = auditor.body.token as string;
    expect((await t.request('GET', '/api/v1/tenants/acme/backup-policy', undefined, token)).status).toBe(200);
    const refused = await t.request('PUT', '/api/v1/tenants/acme/backup-policy', { full: 'daily' }, token);
    expect(refused.status).toBe(403);
  });

  it("runs a cluster by the most demanding of its tenants' policies", async () => {
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'beta', stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('beta');
    const set = await t.request('PUT', '/api/v1/tenants/beta/backup-policy', {
      full: 'daily',
      incr: 'off',
      retainDays: 45,
    });
    expect(set.status, set.text).toBe(200);
    const clusters = await t.request('GET', '/api/v1/backup-clusters');
    expect(clusters.body.clusters[0].policy).toEqual({
      full: 'daily',
      diff: 'daily',
      incr: '2h',
      retainDays: 45,
      // acme keeps 7 dailies and 12 monthlies (set above); beta none.
      keepDaily: 7,
      keepWeekly: null,
      keepMonthly: 12,
    });
  });

  it('backs a stage up to both repositories on request, and lists it with freshness and its restorable range', async () => {
    const expireLog = join(t.dataDir, 'backups', 'state', 'shared', 'log', 'shared-expire.log');
    const expiresSoFar = async (repo: number): Promise<number> =>
      (
        (await readFile(expireLog, 'utf8').catch(() => '')).match(
          new RegExp(`expire command begin [^\\n]*--repo=${repo}\\b`, 'g'),
        ) ?? []
      ).length;
    // The schedule's first pass (a full to each repository, each expired) has ended before counting.
    await eventually(
      "the schedule's first backups",
      async () => {
        const runs = (await t.request('GET', '/api/v1/tenants/acme/stages/prod/backups')).body
          .runs as BackupRun[];
        const scheduled = runs.filter((r) => r.requestId === null && r.status === 'succeeded');
        return (
          runs.every((r) => r.status !== 'running') &&
          [1, 2].every((repo) => scheduled.some((r) => r.repo === repo)) &&
          (await expiresSoFar(2)) >= 1
        );
      },
      120_000,
    );
    const expiresBefore = [await expiresSoFar(1), await expiresSoFar(2)];
    const requested = await t.request('POST', '/api/v1/tenants/acme/stages/prod/backups', { type: 'full' });
    expect(requested.status, requested.text).toBe(202);
    expect(requested.body).toMatchObject({ cluster: 'shared', type: 'full', requestedBy: 'operator:admin' });
    const done = await finished(t, requested.body.id as string);
    expect(done.status, done.reason).toBe('succeeded');
    expect(done.repos.map((r) => [r.repo, r.status, r.run?.type])).toEqual([
      [1, 'succeeded', 'full'],
      [2, 'succeeded', 'full'],
    ]);
    const [one, two] = done.repos;
    expect(one!.run!.label).toMatch(/F$/);
    expect(one!.run!.sizeBytes).toBeGreaterThan(0);
    // repo1 first, then repo2.
    expect(Date.parse(two!.run!.startedAt)).toBeGreaterThanOrEqual(Date.parse(one!.run!.finishedAt!));

    const list = await t.request('GET', '/api/v1/tenants/acme/stages/prod/backups');
    expect(list.status, list.text).toBe(200);
    const view = list.body as StageBackupsView;
    expect(view).toMatchObject({ cluster: 'shared', clusterKind: 'shared', reason: null, error: null });
    const labels = view.backups.map((b) => `${b.repo}:${b.label}`);
    expect(labels).toContain(`1:${one!.run!.label}`);
    expect(labels).toContain(`2:${two!.run!.label}`);
    expect(view.freshness).not.toBeNull();
    expect(view.freshness!.ageSeconds).toBeLessThan(120);
    expect(view.restorable.map((r) => r.repo)).toEqual([1, 2]);
    expect(view.restorable[0]!.latestWal).toMatch(/^[0-9A-F]{24}$/);
    expect(view.runs.filter((r) => r.requestId === done.id)).toHaveLength(2);
    expect(hooked.some((h) => h.cluster === 'shared' && h.run.id === one!.run!.id)).toBe(true);
    // Expired after each requested backup, as after scheduled ones.
    expect(await expiresSoFar(1)).toBeGreaterThan(expiresBefore[0]!);
    expect(await expiresSoFar(2)).toBeGreaterThan(expiresBefore[1]!);
    const events = await t.services.audit.list({ action: 'backup.run.request' });
    expect(events.at(-1)).toMatchObject({
      tenant: 'acme',
      target: `tenant/acme/stage/prod/backup/${done.id}`,
    });
  }, 240_000); // waits up to 120 s for the schedule's first four backups, then makes two more

  it('refuses a second request for the same cluster while one is open; runs never overlap', async () => {
    const [a, b] = await Promise.all([
      t.request('POST', '/api/v1/tenants/acme/stages/prod/backups', { type: 'incr', repo: 1 }),
      t.request('POST', '/api/v1/tenants/beta/stages/prod/backups', { type: 'incr', repo: 'all' }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses, `${a.text}\n${b.text}`).toEqual([202, 409]);
    const refused = a.status === 409 ? a : b;
    expect(refused.body.code).toBe('conflict');
    expect(refused.body.message).toMatch(/already requested/);
    const accepted = a.status === 202 ? a : b;
    const done = await finished(t, accepted.body.id as string);
    expect(done.status, done.reason).toBe('succeeded');

    const badRepo = await t.request('POST', '/api/v1/tenants/acme/stages/prod/backups', {
      type: 'full',
      repo: 3,
    });
    expect(badRepo.status).toBe(400);
    expect(badRepo.body).toMatchObject({ field: 'repo' });
    expect(badRepo.body.message).toMatch(/3.*1, 2, all/);
    const badType = await t.request('POST', '/api/v1/tenants/acme/stages/prod/backups', { type: 'snap' });
    expect(badType.status).toBe(400);
    expect(badType.body.field).toBe('type');

    const runs = (await t.request('GET', '/api/v1/tenants/acme/stages/prod/backups')).body
      .runs as StageBackupsView['runs'];
    const ordered = [...runs].sort((x, y) => Date.parse(x.startedAt) - Date.parse(y.startedAt));
    for (let i = 1; i < ordered.length; i++) {
      expect(Date.parse(ordered[i]!.startedAt)).toBeGreaterThanOrEqual(
        Date.parse(ordered[i - 1]!.finishedAt ?? ordered[i]!.startedAt),
      );
    }
  });

  it('shows backup freshness per stage in tenant show', async () => {
    const shown = await t.request('GET', '/api/v1/tenants/acme');
    expect(shown.status).toBe(200);
    for (const stage of shown.body.stages as { name: string; backup: unknown }[]) {
      expect(stage.backup, stage.name).toMatchObject({ type: expect.any(String), repo: expect.any(Number) });
      expect((stage.backup as { ageSeconds: number }).ageSeconds).toBeLessThan(300);
    }
  });

  it('never fails tenant show when pgbackrest does: the stage shows the error instead', async () => {
    const store = openControlStore(t.controlUrl, { max: 2 });
    try {
      const broken = new BackupService({
        db: store.db,
        secrets: t.services.secrets,
        audit: t.services.audit,
        clock: { now: () => new Date() },
        logger: silentLogger,
        tenants: t.services.tenants,
        settings: t.config.backups,
        dataDir: t.dataDir,
        sharedCluster: t.sharedCluster,
        bin: '/nonexistent/pgbackrest',
      });
      const view = await broken.withFreshness(await t.services.tenants.show('acme'));
      for (const stage of view.stages) {
        expect(stage.backup).toMatchObject({ error: expect.stringMatching(/ENOENT|nonexistent/) });
      }
    } finally {
      await store.close();
    }
  });

  it('verifies the repositories on request and records the result; a damaged file fails verify with an audit event', async () => {
    const verified = await t.request('POST', '/api/v1/backup-clusters/shared/verify');
    expect(verified.status, verified.text).toBe(200);
    expect(verified.body.lastVerify.ok, verified.body.lastVerify.report).toBe(true);
    const listed = await t.request('GET', '/api/v1/backup-clusters');
    expect(listed.body.clusters[0].lastVerify.ok).toBe(true);
    expect(await t.services.audit.list({ action: 'backup.verify' })).toHaveLength(1);

    const unknown = await t.request('POST', '/api/v1/backup-clusters/nothing/verify');
    expect(unknown.status).toBe(404);

    // Damage one stored file of a backup in repo1.
    const backupDir = join(t.dataDir, 'backups', 'repo1', 'backup', 'shared');
    const label = (await readdir(backupDir)).filter((n) => /F$/.test(n)).sort()[0]!;
    const base = join(backupDir, label, 'pg_data', 'base');
    const database = (await readdir(base)).sort()[0]!;
    const file = (await readdir(join(base, database))).sort()[0]!;
    const path = join(base, database, file);
    const bytes = await readFile(path);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] ?? 0) ^ 0xff;
    await writeFile(path, bytes);

    const failed = await t.request('POST', '/api/v1/backup-clusters/shared/verify');
    expect(failed.status).toBe(200);
    expect(failed.body.lastVerify.ok).toBe(false);
    const events = await t.services.audit.list({ action: 'backup.verify.failed' });
    expect(events).toHaveLength(1);
    expect(events[0]!.target).toBe('backup-cluster/shared');
    expect(String((events[0]!.details as { report: string }).report).length).toBeGreaterThan(0);
  });
  it('cancels a running backup when Steward stops, so stop is quick; the request waits for the next start', async () => {
    const requested = await t.request('POST', '/api/v1/tenants/acme/stages/prod/backups', {
      type: 'full',
      repo: 1,
    });
    expect(requested.status, requested.text).toBe(202);
    const id = requested.body.id as string;
    const pid = await eventually('the requested backup to run', async () => {
      const rows = await t.query<{ pid: number | null }>(
        "select pid from backup_runs where request_id = $1 and status = 'running'",
        [id],
        t.controlDatabase,
      );
      return rows[0]?.pid ?? undefined;
    });
    // A hung pgbackrest: only killing its process group ends it.
    process.kill(pid, 'SIGSTOP');
    const started = Date.now();
    await t.steward.stop();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await groupAlive(pid)).toBe(false);
    const [run] = await t.query<{ status: string; error: string }>(
      'select status, error from backup_runs where request_id = $1',
      [id],
      t.controlDatabase,
    );
    expect(run).toMatchObject({ status: 'failed', error: expect.stringMatching(/was cancelled/) });
    const [request] = await t.query<{ status: string; reason: string }>(
      'select status, reason from backup_requests where id = $1',
      [id],
      t.controlDatabase,
    );
    expect(request).toMatchObject({ status: 'pending', reason: expect.stringMatching(/^interrupted/) });
  });
});
