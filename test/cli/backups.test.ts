import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  BackupClusterView,
  BackupRequestView,
  PolicyView,
  StageBackupsView,
} from '../../src/backups/service.ts';
import type { TenantBackupView } from '../../src/backups/service.ts';
import {
  cleanUp,
  cli,
  cliJson,
  makeDataDir,
  spawnUp,
  superuser,
  waitForOutput,
  type UpProcess,
} from './process.ts';

/**
 * `steward up` backs up its own cluster: archiving on from the first start
 * (no restart), and `steward backup …` as a user runs it, as processes.
 */
describe('steward backup, against steward up', () => {
  let dataDir: string;
  let up: UpProcess;

  beforeAll(async () => {
    dataDir = await makeDataDir();
    up = spawnUp(dataDir);
    await waitForOutput(up, 'Press Ctrl-C to stop.');
    const created = await cli(dataDir, ['tenant', 'create', 'acme', '--stages', 'dev,prod']);
    expect(created.code, created.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await cleanUp(dataDir, up);
  }, 120_000);

  it('archives the embedded cluster from its first start, without restarting it', async () => {
    const admin = await superuser(dataDir);
    try {
      const settings = await admin.query<{ name: string; setting: string }>(
        "select name, setting from pg_settings where name in ('archive_mode', 'archive_command')",
      );
      const byName = Object.fromEntries(settings.rows.map((r) => [r.name, r.setting]));
      expect(byName.archive_mode).toBe('on');
      expect(byName.archive_command).toContain('--stanza=shared archive-push');
    } finally {
      await admin.end();
    }
    // The cluster was started once: its log has one "ready to accept connections".
    expect(up.stderr()).not.toMatch(/restart/i);
    const clusters = await cliJson<BackupClusterView[]>(dataDir, ['backup', 'clusters']);
    expect(clusters.map((c) => [c.stanza, c.kind])).toEqual([['shared', 'shared']]);
  });

  it('runs a full backup to both repositories with progress, then lists it with freshness', async () => {
    const run = await cli(dataDir, ['backup', 'run', 'acme', 'prod', '--type', 'full']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stderr).toMatch(/repo1: full backup \d{8}-\d{6}F done in \d+\.\d s, /);
    expect(run.stderr).toMatch(/repo2: full backup \d{8}-\d{6}F done in \d+\.\d s, /);
    expect(run.stderr.indexOf('repo1: full backup')).toBeLessThan(run.stderr.indexOf('repo2: full backup'));
    expect(run.stdout).toMatch(/backup of acme\/prod done: repo1 \S+F, repo2 \S+F/);

    const list = await cliJson<StageBackupsView>(dataDir, ['backup', 'list', 'acme', 'prod']);
    expect(list.cluster).toBe('shared');
    expect(list.freshness?.type).toBe('full');
    expect(list.freshness!.ageSeconds).toBeLessThan(120);
    expect(new Set(list.backups.map((b) => b.repo))).toEqual(new Set([1, 2]));
    expect(list.restorable.map((r) => r.repo)).toEqual([1, 2]);
    expect(list.runs.some((r) => r.requestedBy === 'operator:admin')).toBe(true);

    const table = await cli(dataDir, ['backup', 'list', 'acme', 'prod']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('acme/prod is on cluster shared (shared)');
    expect(table.stdout).toMatch(/newest backup: full \S+F in repo\d, \d+ s old/);

    const shown = await cliJson<TenantBackupView>(dataDir, ['tenant', 'show', 'acme']);
    for (const stage of shown.stages) expect(stage.backup).toMatchObject({ type: 'full' });
    const text = await cli(dataDir, ['tenant', 'show', 'acme']);
    expect(text.stdout).toMatch(/BACKUP/);
    expect(text.stdout).toMatch(/full \d+ s ago/);
    // And how isolated the stages are on this machine.
    expect(text.stdout).toContain(
      'isolation: full (a uid, a bubblewrap sandbox and nftables rules per stage)',
    );
    expect((shown as unknown as { isolation: { level: string } }).isolation.level).toBe('full');
  });

  it('returns at once with --no-wait, and -o json gives the request', async () => {
    const requested = await cliJson<BackupRequestView>(dataDir, [
      'backup',
      'run',
      'acme',
      'dev',
      '--type',
      'incr',
      '--repo',
      '1',
      '--no-wait',
    ]);
    expect(requested).toMatchObject({ type: 'incr', cluster: 'shared' });
    expect(requested.repos.map((r) => r.repo)).toEqual([1]);
    const again = await cli(dataDir, ['backup', 'run', 'acme', 'prod', '--repo', '2']);
    // One open request per cluster: refused with the reason while the first runs, or run after it.
    if (again.code !== 0) expect(again.stderr).toMatch(/already requested/);
  });

  it('sets and shows a policy; bad flags name the flag, the value and what is accepted', async () => {
    const set = await cliJson<PolicyView>(dataDir, [
      'backup',
      'policy',
      'set',
      'acme',
      '--full',
      'weekly',
      '--diff',
      'daily',
      '--incr',
      '2h',
      '--retain',
      '30d',
      '--exports',
      'daily',
      '--keep-daily',
      '7',
      '--keep-weekly',
      '8',
      '--keep-monthly',
      '12',
    ]);
    expect(set.policy).toEqual({
      full: 'weekly',
      diff: 'daily',
      incr: '2h',
      retainDays: 30,
      keepDaily: 7,
      keepWeekly: 8,
      keepMonthly: 12,
      exports: 'daily',
    });
    const shown = await cli(dataDir, ['backup', 'policy', 'show', 'acme']);
    expect(shown.stdout).toContain(
      'tenant acme: full weekly, diff daily, incr 2h, kept 30 days, then the newest full of each of the last 7 days, 8 weeks, 12 months, exports daily',
    );
    const weeklyOff = await cliJson<PolicyView>(dataDir, [
      'backup',
      'policy',
      'set',
      'acme',
      '--keep-weekly',
      'off',
    ]);
    expect(weeklyOff.policy).toMatchObject({ keepDaily: 7, keepWeekly: null, keepMonthly: 12 });
    expect((await cli(dataDir, ['backup', 'policy', 'show', 'acme'])).stdout).toContain(
      'kept 30 days, then the newest full of each of the last 7 days, 12 months,',
    );
    await cli(dataDir, ['backup', 'policy', 'set', 'acme', '--keep-weekly', '8']);
    const off = await cliJson<PolicyView>(dataDir, ['backup', 'policy', 'set', 'acme', '--exports', 'off']);
    expect(off.policy.exports).toBeNull();
    expect((await cli(dataDir, ['backup', 'policy', 'show', 'acme'])).stdout).toContain('exports off');
    const daily = await cliJson<PolicyView>(dataDir, [
      'backup',
      'policy',
      'set',
      'acme',
      '--exports',
      'daily',
    ]);
    expect(daily.policy).toEqual(set.policy);
    for (const [flag, value, accepted] of [
      ['--full', 'hourly', 'weekly or daily'],
      ['--diff', 'weekly', 'daily or off'],
      ['--incr', '1h', '2h or off'],
      ['--retain', '30w', 'a number of days'],
      ['--exports', 'hourly', 'daily or weekly or off'],
      ['--keep-daily', '0', 'a number of days from 1 to 3650, or off'],
      ['--keep-weekly', '8w', 'a number of weeks from 1 to 520, or off'],
      ['--keep-monthly', '121', 'a number of months from 1 to 120, or off'],
    ] as const) {
      const bad = await cli(dataDir, ['backup', 'policy', 'set', 'acme', flag, value]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain(`${flag} "${value}" is not accepted; use ${accepted}`);
    }
    const after = await cliJson<PolicyView>(dataDir, ['backup', 'policy', 'show', 'acme']);
    expect(after.policy).toEqual(set.policy);
  });

  it('verifies the repositories now and records it', async () => {
    const verified = await cli(dataDir, ['backup', 'verify', '--cluster', 'shared']);
    expect(verified.code, `${verified.stdout}\n${verified.stderr}`).toBe(0);
    expect(verified.stdout).toContain('shared: ok');
    const clusters = await cliJson<BackupClusterView[]>(dataDir, ['backup', 'clusters']);
    expect(clusters[0]?.lastVerify?.ok).toBe(true);
  });

  it('exits non-zero with the reason when a backup fails', async () => {
    const missing = await cli(dataDir, ['backup', 'run', 'acme', 'nope']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/tenant acme has no stage "nope"/);

    // repo2 becomes unreadable to pgBackRest (it runs as postgres): repo1 is backed up, repo2 fails.
    const repo2 = join(dataDir, 'backups', 'repo2');
    await chmod(repo2, 0o000);
    try {
      const failed = await cli(dataDir, ['backup', 'run', 'acme', 'prod', '--type', 'full']);
      expect(failed.code).not.toBe(0);
      expect(failed.stderr).toMatch(/repo1: full backup \S+F done in/);
      expect(failed.stderr).toMatch(
        /error: backup \S+ of acme\/prod failed: repo2: pgbackrest backup of stanza shared failed/,
      );
    } finally {
      await chmod(repo2, 0o700);
    }
  });
});
