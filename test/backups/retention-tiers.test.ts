import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expireLabels,
  prepareStanza,
  retentionOf,
  runBackup,
  tieredExpiry,
  walFulls,
  type BackupInfo,
  type PgBackRestDriver,
  type RetentionPolicy,
} from '../../src/backups/index.ts';
import { startBackupLab, type BackupLab } from './support.ts';

const stanza = 'main';
const policy: RetentionPolicy = { retainDays: 1, keepDaily: 1, keepWeekly: null, keepMonthly: 2 };
const retention = retentionOf(policy);

/** The WAL segment names a repository's archive holds, sorted. */
async function archived(repo: string): Promise<string[]> {
  const names: string[] = [];
  const root = join(repo, 'archive', stanza);
  for (const id of await readdir(root, { withFileTypes: true })) {
    if (!id.isDirectory()) continue;
    for (const dir of await readdir(join(root, id.name), { withFileTypes: true })) {
      if (!dir.isDirectory()) continue;
      for (const file of await readdir(join(root, id.name, dir.name))) {
        const segment = /^([0-9A-F]{24})-/.exec(file)?.[1];
        if (segment) names.push(segment);
      }
    }
  }
  return names.sort();
}

describe('tiered retention applied by Steward on real path repositories', () => {
  let lab: BackupLab;
  let driver: PgBackRestDriver;
  let configPath: string;
  let repo1: string;
  let repo2: string;
  const fulls: BackupInfo[] = [];

  const backups = async (repo: number) => (await driver.info()).backups.filter((b) => b.repo === repo);
  const full = async (repo: number, expire?: { now: Date }) => {
    await lab.query(`insert into ledger (note) select 'row ' || g from generate_series(1, 200) g`);
    // WAL of its own between backups: the segments a WAL expire must remove or keep.
    await lab.query('select pg_switch_wal()');
    const run = await runBackup(
      { db: lab.store.db, driver, ...(expire ? { clock: { now: () => expire.now } } : {}) },
      { type: 'full', repo, timeoutMs: 120_000, ...(expire ? { expire: retention } : {}) },
    );
    expect(run).toMatchObject({ status: 'succeeded', error: null });
    const info = (await backups(repo)).find((b) => b.label === run.label);
    expect(info).toBeDefined();
    return info!;
  };

  beforeAll(async () => {
    lab = await startBackupLab();
    repo1 = join(lab.root, 'repo1');
    repo2 = join(lab.root, 'repo2');
    await lab.query(`create table ledger (id serial primary key, note text not null)`);
    const prepared = await prepareStanza({
      db: lab.store.db,
      secrets: lab.secrets,
      cluster: lab.cluster,
      stanza,
      stateDir: join(lab.root, 'backup'),
      repositories: [
        { kind: 'path', path: repo1, retention },
        { kind: 'path', path: repo2, retention },
      ],
    });
    driver = prepared.driver;
    configPath = prepared.configPath;
    for (let i = 0; i < 3; i++) fulls.push(await full(1));
    fulls.push(await full(2));
  }, 120_000);

  afterAll(async () => {
    await lab?.close();
  });

  it("leaves expiring to Steward: pgBackRest's own retention is a count of fulls it never reaches", async () => {
    const text = await readFile(configPath, 'utf8');
    expect(text).toContain('repo1-retention-full-type=count');
    expect(text).toContain('repo1-retention-full=9999');
    expect(text).toContain('repo2-retention-full=9999');
    expect(text).not.toContain('retention-full-type=time');
    // An expire by the configured retention alone removes nothing.
    await driver.expire({ repo: 1 });
    expect((await backups(1)).map((b) => b.label)).toEqual(fulls.slice(0, 3).map((b) => b.label));
  });

  it('expires after a backup by the tiered plan: the full before the window stays, older ones go, with their WAL', async () => {
    const [f1, f2, f3] = fulls as [BackupInfo, BackupInfo, BackupInfo];
    // A day after F3, less a moment: F3 and the new backup are within retainDays, F2 anchors the
    // window, and F1 is the newest of no day or month counted.
    const now = new Date(f3.stoppedAt.getTime() + 86_400_000 - 1);
    expect(tieredExpiry([f1, f2, f3], policy, now)).toEqual([f1.label]);
    const before = await archived(repo1);
    expect(before[0]! <= f1.walStart!).toBe(true);

    const f4 = await full(1, { now });
    const left = (await backups(1)).map((b) => b.label);
    // Within retainDays of `now`: F3, F4; the anchor F2; monthly: the newest of this month, F4.
    // F1's month is F4's too and F1 is older than the window: it goes.
    expect(left).toEqual([f2.label, f3.label, f4.label]);
    expect(existsSync(join(repo1, 'backup', stanza, f1.label))).toBe(false);
    for (const b of [f2, f3, f4]) {
      expect(existsSync(join(repo1, 'backup', stanza, b.label, 'backup.manifest'))).toBe(true);
    }
    // Continuous WAL from F2 on (three fulls: F3 and F4 in the window, F2 before it); none older.
    const after = await archived(repo1);
    expect(after[0]! >= f2.walStart!).toBe(true);
    expect(after.filter((s) => s < f2.walStart!)).toEqual([]);
    expect(after).toContain(f2.walStart);
    // repo2 is not touched by repo1's retention.
    expect((await backups(2)).map((b) => b.label)).toEqual([fulls[3]!.label]);
    fulls.splice(0, 3, f2, f3, f4);
  });

  it('keeps an older full a tier keeps while a newer one goes: still restorable to its own point', async () => {
    const [f2, f3, f4] = fulls as [BackupInfo, BackupInfo, BackupInfo];
    // The plan for these backups had they stopped on these days: F2 the newest of October (kept
    // monthly), F3 early in November (no tier), F4 the newest of November and before the window.
    const dated = [
      { ...f2, stoppedAt: new Date('2026-10-31T23:00:00Z') },
      { ...f3, stoppedAt: new Date('2026-11-01T01:00:00Z') },
      { ...f4, stoppedAt: new Date('2026-11-05T00:00:00Z') },
    ];
    const now = new Date('2026-11-10T00:00:00Z');
    const plan = tieredExpiry(dated, policy, now);
    expect(plan).toEqual([f3.label]);

    const removed = await expireLabels(driver, {
      repo: 1,
      labels: plan,
      walFulls: walFulls(dated, policy.retainDays, now),
    });
    expect(removed).toEqual([f3.label]);
    expect((await backups(1)).map((b) => b.label)).toEqual([f2.label, f4.label]);
    expect(existsSync(join(repo1, 'backup', stanza, f3.label))).toBe(false);
    // F2 stays restorable to its own consistent point: its manifest, its files and its WAL.
    expect(existsSync(join(repo1, 'backup', stanza, f2.label, 'backup.manifest'))).toBe(true);
    expect((await driver.listRepo(1, `backup/${stanza}/${f2.label}/pg_data`)).length).toBeGreaterThan(0);
    const wal = await archived(repo1);
    expect(wal).toContain(f2.walStart);
    expect(wal).toContain(f2.walStop);
    // The WAL between F2's end and F4's start (F3's included) is gone: one full of continuous WAL.
    expect(wal.filter((s) => s > f2.walStop! && s < f4.walStart!)).toEqual([]);
    expect(wal.filter((s) => s >= f4.walStart!).length).toBeGreaterThan(0);
  });

  it('refuses a plan naming a backup the repository does not hold, and changes nothing', async () => {
    const held = (await backups(1)).map((b) => b.label);
    await expect(
      expireLabels(driver, { repo: 1, labels: ['20200101-000000F'], walFulls: 1 }),
    ).rejects.toThrow(/asked to remove 20200101-000000F, which it does not hold/);
    expect((await backups(1)).map((b) => b.label)).toEqual(held);
  });
});
