import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BackupBusyError,
  expireAndCheck,
  listBackupRuns,
  newestWal,
  pgbackrestDriver,
  prepareStanza,
  repositoryPassphrase,
  runBackup,
  scheduledBackup,
  type PgBackRestDriver,
  type PreparedStanza,
} from '../../src/backups/index.ts';
import { passphraseSecretName } from '../../src/backups/pgbackrest/setup.ts';
import { lookupUser } from '../../src/system/exec.ts';
import { groupAlive } from '../../src/backups/pgbackrest/process.ts';
import { eventually, startBackupLab, type BackupLab } from './support.ts';

const stanza = 'main';
const canary = 'steward-canary-7f3a9c2e1d-plaintext-row';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

describe('pgBackRest on a cluster with two encrypted path repositories', () => {
  let lab: BackupLab;
  let prepared: PreparedStanza;
  let driver: PgBackRestDriver;
  let repo1: string;
  let repo2: string;
  const setup = () => ({
    db: lab.store.db,
    secrets: lab.secrets,
    cluster: lab.cluster,
    stanza,
    stateDir: join(lab.root, 'backup'),
    repositories: [
      { kind: 'path' as const, path: repo1, retention: { kind: 'time' as const, days: 30 } },
      { kind: 'path' as const, path: repo2, retention: { kind: 'time' as const, days: 30 } },
    ],
  });

  beforeAll(async () => {
    lab = await startBackupLab();
    repo1 = join(lab.root, 'repo1');
    repo2 = join(lab.root, 'repo2');
    await lab.query(`create table ledger (id serial primary key, note text not null)`);
    await lab.query(`insert into ledger (note) select $1 || g from generate_series(1, 2000) g`, [canary]);
    prepared = await prepareStanza(setup());
    driver = prepared.driver;
  }, 120_000);

  afterAll(async () => {
    await lab?.close();
  });

  it('turns archiving on with one restart, writes a private config, and a second pass changes nothing', async () => {
    expect(prepared.restarted).toBe(true);
    const settings = await lab.query<{ name: string; setting: string }>(
      `select name, setting from pg_settings where name in ('archive_mode', 'archive_command', 'wal_level')`,
    );
    const byName = Object.fromEntries(settings.map((s) => [s.name, s.setting]));
    expect(byName.archive_mode).toBe('on');
    expect(byName.wal_level).toBe('replica');
    expect(byName.archive_command).toMatch(/pgbackrest --config=\S+ --stanza=main archive-push %p$/);

    const again = await prepareStanza(setup());
    expect(again.restarted).toBe(false);
    const info = await stat(prepared.configPath);
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.uid).toBe(lookupUser('postgres')!.uid);
    const text = await readFile(prepared.configPath, 'utf8');
    const pass1 = await lab.secrets.get(passphraseSecretName(stanza, 1));
    const pass2 = await lab.secrets.get(passphraseSecretName(stanza, 2));
    expect(pass1).not.toBe(pass2);
    expect(pass1.length).toBeGreaterThanOrEqual(48);
    expect(text).toContain(`repo1-cipher-pass=${pass1}`);
    expect(text).toContain(`repo2-cipher-pass=${pass2}`);
    expect(text).toContain('repo1-cipher-type=aes-256-cbc');
    expect(text).toContain('compress-type=zst');
    // Passphrases live in the secret store sealed, and in the config: nowhere else in the control DB.
    const rows = await lab.store.db.selectFrom('secrets').select(['ciphertext']).execute();
    for (const row of rows) expect(row.ciphertext.toString('latin1')).not.toContain(pass1);
    await driver.check();
  });

  it('makes one passphrase per repository, even when asked for it concurrently', async () => {
    const got = await Promise.all(
      Array.from({ length: 6 }, () => repositoryPassphrase(lab.store.db, lab.secrets, 'race', 1)),
    );
    expect(new Set(got).size).toBe(1);
    expect(await repositoryPassphrase(lab.store.db, lab.secrets, 'race', 2)).not.toBe(got[0]);
  });

  it('takes a full and then an incremental backup, recorded, with sizes in info', async () => {
    const full = await runBackup({ db: lab.store.db, driver }, { type: 'full', repo: 1, timeoutMs: 120_000 });
    expect(full).toMatchObject({ status: 'succeeded', type: 'full', repo: 1, error: null });
    expect(full.label).toMatch(/F$/);
    await lab.query(`insert into ledger (note) values ('after the full')`);
    const incr = await runBackup({ db: lab.store.db, driver }, { type: 'incr', repo: 1, timeoutMs: 120_000 });
    expect(incr).toMatchObject({ status: 'succeeded', type: 'incr' });
    expect(incr.label).toMatch(/I$/);

    const info = await driver.info();
    const listed = info.backups.filter((b) => b.repo === 1);
    expect(listed.map((b) => [b.label, b.type])).toEqual([
      [full.label, 'full'],
      [incr.label, 'incr'],
    ]);
    const [f, i] = listed;
    expect(i!.prior).toBe(full.label);
    expect(f!.databaseBytes).toBeGreaterThan(1_000_000);
    expect(f!.repositoryBytes).toBeGreaterThan(0);
    expect(f!.repositoryBytes).toBeLessThan(f!.databaseBytes);
    expect(i!.repositoryBytes).toBeLessThan(f!.repositoryBytes);
    expect(f!.stoppedAt.getTime()).toBeGreaterThanOrEqual(f!.startedAt.getTime());
    expect(full.sizeBytes).toBe(f!.repositoryBytes);
    expect(full.databaseBytes).toBe(f!.databaseBytes);

    const runs = await listBackupRuns(lab.store.db, stanza);
    expect(runs.map((r) => [r.type, r.status])).toEqual([
      ['incr', 'succeeded'],
      ['full', 'succeeded'],
    ]);
  });

  it('archives WAL asynchronously: a switched segment shows up as the new archive max', async () => {
    const before = newestWal(await driver.info(), 1);
    expect(before).not.toBeNull();
    await lab.query(`insert into ledger (note) values ('wal please')`);
    const switched = await lab.query<{ walfile: string }>(
      'select pg_walfile_name(pg_switch_wal()) as walfile',
    );
    const walfile = switched[0]!.walfile;
    const after: string = await eventually('the switched segment in repo1', async () => {
      const max = newestWal(await driver.info(), 1);
      return max !== null && max >= walfile ? max : null;
    });
    expect(after > before!).toBe(true);
    // Both repositories receive WAL.
    expect(newestWal(await driver.info(), 2)! >= walfile).toBe(true);
  });

  it('encrypts the repository: no file holds a plaintext row, every backup file is an OpenSSL cipher stream', async () => {
    const files = await filesUnder(repo1);
    expect(files.length).toBeGreaterThan(10);
    const dataFiles = files.filter((f) => f.includes('/pg_data/') || f.includes('/archive/'));
    expect(dataFiles.length).toBeGreaterThan(5);
    for (const file of files) {
      const bytes = await readFile(file);
      expect(bytes.includes(Buffer.from(canary)), file).toBe(false);
    }
    for (const file of dataFiles.filter((f) => !f.endsWith('.info') && !f.endsWith('.copy'))) {
      const bytes = await readFile(file);
      if (bytes.length === 0) continue;
      expect(bytes.subarray(0, 8).toString('latin1'), file).toBe('Salted__');
    }
  });

  it('expires the oldest full (and what builds on it) from info and from the repository directory', async () => {
    const first = (await driver.info()).backups.filter((b) => b.repo === 1);
    const second = await runBackup(
      { db: lab.store.db, driver },
      { type: 'full', repo: 1, timeoutMs: 120_000 },
    );
    expect(second.status).toBe('succeeded');
    for (const b of first) expect(existsSync(join(repo1, 'backup', stanza, b.label))).toBe(true);

    const removed = await expireAndCheck(driver, {
      repo: 1,
      retention: { kind: 'count', fulls: 1 },
      now: new Date(),
    });
    expect([...removed].sort()).toEqual(first.map((b) => b.label).sort());
    const left = (await driver.info()).backups.filter((b) => b.repo === 1).map((b) => b.label);
    expect(left).toEqual([second.label]);
    for (const b of first) expect(existsSync(join(repo1, 'backup', stanza, b.label))).toBe(false);
    expect(existsSync(join(repo1, 'backup', stanza, second.label!))).toBe(true);
  });

  it('refuses a second backup of the cluster while one runs; never two at once', async () => {
    const deps = { db: lab.store.db, driver };
    const results = await Promise.allSettled([
      runBackup(deps, { type: 'full', repo: 2, timeoutMs: 120_000 }),
      runBackup(deps, { type: 'full', repo: 2, timeoutMs: 120_000 }),
    ]);
    const done = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(done).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(BackupBusyError);
    expect((done[0] as PromiseFulfilledResult<{ status: string }>).value.status).toBe('succeeded');
    // The runs recorded never overlap in time.
    const runs = [...(await listBackupRuns(lab.store.db, stanza))].reverse();
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.startedAt.getTime()).toBeGreaterThanOrEqual(runs[i - 1]!.finishedAt!.getTime());
    }
  });

  it('kills a hung backup after its limit, records it failed, and leaves no lock behind', async () => {
    let pgid = 0;
    // The real driver; the test stops pgbackrest (SIGSTOP) the moment it starts, as a hang would.
    const hanging: PgBackRestDriver = {
      ...driver,
      backup: (request) =>
        driver.backup({
          ...request,
          onStart: (pid) => {
            pgid = pid;
            process.kill(pid, 'SIGSTOP');
            request.onStart?.(pid);
          },
        }),
    };
    const started = Date.now();
    const run = await runBackup(
      { db: lab.store.db, driver: hanging },
      { type: 'incr', repo: 2, timeoutMs: 3000 },
    );
    const took = Date.now() - started;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/killed after its time limit/);
    expect(took).toBeGreaterThanOrEqual(3000);
    expect(took).toBeLessThan(20_000);
    expect(pgid).toBeGreaterThan(0);
    expect(await groupAlive(pgid)).toBe(false);
    // The next backup is neither refused by Steward nor blocked by pgBackRest's own lock.
    const next = await runBackup({ db: lab.store.db, driver }, { type: 'incr', repo: 2, timeoutMs: 120_000 });
    expect(next.status).toBe('succeeded');
  });

  it('cancels a backup when asked (Steward stopping), and records a run whose pgbackrest cannot start', async () => {
    const controller = new AbortController();
    let pgid = 0;
    const watched: PgBackRestDriver = {
      ...driver,
      backup: (request) =>
        driver.backup({
          ...request,
          onStart: (pid) => {
            pgid = pid;
            request.onStart?.(pid);
            setTimeout(() => controller.abort(), 300);
          },
        }),
    };
    const cancelled = await runBackup(
      { db: lab.store.db, driver: watched },
      { type: 'full', repo: 1, timeoutMs: 120_000, signal: controller.signal },
    );
    expect(cancelled.status).toBe('failed');
    expect(cancelled.error).toMatch(/was cancelled/);
    expect(await groupAlive(pgid)).toBe(false);

    const missing = pgbackrestDriver({
      configPath: prepared.configPath,
      stanza,
      user: lookupUser('postgres'),
      bin: join(lab.root, 'no-such-pgbackrest'),
    });
    const broken = await runBackup(
      { db: lab.store.db, driver: missing },
      { type: 'full', repo: 1, timeoutMs: 10_000 },
    );
    expect(broken).toMatchObject({ status: 'failed' });
    expect(broken.error).toMatch(/did not start: .*ENOENT/);
    const running = await lab.store.db
      .selectFrom('backup_runs')
      .select('id')
      .where('status', '=', 'running')
      .execute();
    expect(running).toEqual([]);
  });

  it('runs what the policy says is due, by the clock, and waits otherwise', async () => {
    const policy = {
      full: 'weekly',
      diff: 'daily',
      incr: '2h',
      retainDays: 30,
      keepDaily: null,
      keepWeekly: null,
      keepMonthly: null,
    } as const;
    const at = (hours: number) => ({ now: () => new Date(Date.now() + hours * 3_600_000) });
    const pass = (hours: number) =>
      scheduledBackup(
        { db: lab.store.db, driver, clock: at(hours) },
        { policy, repo: 1, timeoutMs: 120_000 },
      );
    const now = await pass(0);
    expect(now).toMatchObject({ kind: 'wait' });
    const later = await pass(2.1);
    expect(later.kind === 'ran' && later.run.type).toBe('incr');
    const nextDay = await pass(24.5);
    expect(nextDay.kind === 'ran' && nextDay.run.type).toBe('diff');
    const nextWeek = await pass(24 * 7 + 1);
    expect(nextWeek.kind === 'ran' && nextWeek.run).toMatchObject({ type: 'full', status: 'succeeded' });
    const types = (await driver.info()).backups.filter((b) => b.repo === 1).map((b) => b.type);
    expect(types.slice(-3)).toEqual(['incr', 'diff', 'full']);
  });

  it('after a kill -9 of Steward mid-backup, the next backup runs: no lock left, the orphan ended and recorded failed', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'backup-child.ts')], {
      env: {
        ...process.env,
        STEWARD_TEST_BACKUP: JSON.stringify({
          controlUrl: lab.controlUrl,
          configPath: prepared.configPath,
          stanza,
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const running = await eventually('the child to start pgbackrest', async () => {
      const row = await lab.store.db
        .selectFrom('backup_runs')
        .select(['id', 'pid'])
        .where('status', '=', 'running')
        .where('pid', 'is not', null)
        .executeTakeFirst();
      return row?.pid ? row : null;
    });
    // Freeze the orphan so it is still running when the next backup comes; then the crash.
    process.kill(running.pid!, 'SIGSTOP');
    child.kill('SIGKILL');
    await exited;
    expect(await groupAlive(running.pid!)).toBe(true);

    // The dead child's session held the backup lock; PostgreSQL ends that session (and frees the lock)
    // once it sees the socket close, which on a busy machine takes a moment: until then it is busy.
    const next = await eventually('the killed session to free the backup lock', async () => {
      try {
        return await runBackup({ db: lab.store.db, driver }, { type: 'full', repo: 1, timeoutMs: 120_000 });
      } catch (error) {
        if (error instanceof BackupBusyError) return undefined;
        throw error;
      }
    });
    expect(next.status).toBe('succeeded');
    expect(await groupAlive(running.pid!)).toBe(false);
    const orphan = await lab.store.db
      .selectFrom('backup_runs')
      .select(['status', 'error', 'finished_at'])
      .where('id', '=', running.id)
      .executeTakeFirstOrThrow();
    expect(orphan).toMatchObject({ status: 'failed', error: 'Steward stopped while this backup ran' });
    expect(orphan.finished_at).not.toBeNull();
  });

  it('verifies a sound repository, and fails loudly after one byte of a backup file is flipped', async () => {
    const good = await driver.verify({ repo: 2 });
    expect(good.ok, good.report).toBe(true);
    const newest = (await driver.info()).backups.filter((b) => b.repo === 2 && b.type === 'full').at(-1)!;
    const files = (await filesUnder(join(repo2, 'backup', stanza, newest.label, 'pg_data'))).filter((f) =>
      f.includes('/base/'),
    );
    let victim = '';
    for (const f of files) if ((await stat(f)).size > 64) victim = f;
    expect(victim).not.toBe('');
    const handle = await open(victim, 'r+');
    const { size } = await handle.stat();
    const at = Math.floor(size / 2);
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, at);
    await handle.close();
    const bad = await driver.verify({ repo: 2 });
    // pgBackRest 2.45 exits 0 here ("completed successfully"): only its summary tells.
    expect(bad.ok).toBe(false);
    expect(bad.report).toMatch(/checksum invalid: 1/);
    expect(bad.report).toContain(newest.label);
  });
  it('writes the passphrases nowhere but pgbackrest.conf: not in logs, spool, cluster files or repositories', async () => {
    const passphrases = [1, 2].map((n) => lab.secrets.get(passphraseSecretName(stanza, n)));
    const secretsInClear = await Promise.all(passphrases);
    const everything = await filesUnder(lab.root);
    const others = everything.filter((f) => f !== prepared.configPath && f !== join(lab.root, 'master.key'));
    expect(others.some((f) => f.endsWith('.log'))).toBe(true);
    for (const file of others) {
      const bytes = await readFile(file).catch(() => Buffer.alloc(0));
      for (const secret of secretsInClear) expect(bytes.includes(Buffer.from(secret)), file).toBe(false);
    }
  });
});
