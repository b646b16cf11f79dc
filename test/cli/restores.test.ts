import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreTestView, RestoreView } from '../../src/backups/restore-service.ts';
import type { TenantView } from '../../src/tenants/service.ts';
import {
  cleanUp,
  cli,
  cliJson,
  makeDataDir,
  sleep,
  spawnUp,
  superuser,
  waitForOutput,
  type UpProcess,
} from './process.ts';

/** A time as an operator types it: local wall time with the offset, here +01:00. */
function typed(at: Date): string {
  const shifted = new Date(at.getTime() + 3_600_000).toISOString();
  return `${shifted.slice(0, 10)} ${shifted.slice(11, 23)}+01`;
}

/**
 * `steward restore` and `steward restore-test` as a user runs them, against
 * `steward up` (its own cluster, archiving and backed up), as processes.
 */
describe('steward restore and restore-test, against steward up', () => {
  let dataDir: string;
  let up: UpProcess;
  let database: string;
  let target: Date;

  async function insert(note: string): Promise<void> {
    const client = await superuser(dataDir, database);
    try {
      await client.query('insert into ledger (note) values ($1)', [note]);
    } finally {
      await client.end();
    }
  }

  async function notes(db: string): Promise<string[]> {
    const client = await superuser(dataDir, db);
    try {
      return (
        await client.query<{ note: string }>(`select note from ledger where note like '%target' order by id`)
      ).rows.map((r) => r.note);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    dataDir = await makeDataDir();
    up = spawnUp(dataDir);
    await waitForOutput(up, 'Press Ctrl-C to stop.');
    const created = await cli(dataDir, ['tenant', 'create', 'acme', '--stages', 'prod']);
    expect(created.code, created.stderr).toBe(0);
    const tenant = await cliJson<TenantView>(dataDir, ['tenant', 'show', 'acme']);
    database = tenant.stages[0]!.database;
    const client = await superuser(dataDir, database);
    try {
      await client.query(`set role ${database}`);
      await client.query('create table ledger (id bigserial primary key, note text not null)');
      await client.query(`insert into ledger (note) select 'row ' || g from generate_series(1, 500) g`);
    } finally {
      await client.end();
    }
    const backup = await cli(dataDir, ['backup', 'run', 'acme', 'prod', '--type', 'full', '--repo', '1']);
    expect(backup.code, `${backup.stdout}\n${backup.stderr}`).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await cleanUp(dataDir, up);
  }, 120_000);

  it('restore-test run: restores, verifies and prints the evidence; -o json gives the record', async () => {
    const text = await cli(dataDir, ['restore-test', 'run', 'acme', 'prod']);
    expect(text.code, `${text.stdout}\n${text.stderr}`).toBe(0);
    expect(text.stderr).toMatch(/restore test \S+ of acme\/prod \(cluster shared\) started/);
    expect(text.stderr).toMatch(/restoring: backup \S+F \(repo1\) to restore point steward-fp-\S+F/);
    expect(text.stdout).toMatch(/: SUCCEEDED\n/);
    expect(text.stdout).toMatch(/RPO \d+ s; restored and verified in \d+\.\d s \(RTO\)/);
    expect(text.stdout).toContain('tables: 1 of 1 match the fingerprint recorded at backup time');

    const json = await cliJson<RestoreTestView>(dataDir, ['restore-test', 'run', 'acme', 'prod']);
    expect(json).toMatchObject({ status: 'succeeded', tenant: 'acme', stage: 'prod', trigger: 'manual' });
    expect(json.verification?.fingerprint?.tables[0]).toMatchObject({ table: 'public.ledger', ok: true });
    const listed = await cliJson<RestoreTestView[]>(dataDir, ['restore-test', 'list', 'acme']);
    expect(listed.map((t) => t.id)).toContain(json.id);
    const table = await cli(dataDir, ['restore-test', 'list']);
    expect(table.stdout).toMatch(/acme\/prod\s+manual\s+succeeded/);
  });

  it('restore --into: progress lines, the summary, and the new stage holds the data at that time', async () => {
    await sleep(1100);
    await insert('before the target');
    await sleep(500);
    target = new Date();
    await sleep(500);
    await insert('after the target');

    const refused = await cli(dataDir, [
      'restore',
      'acme',
      'prod',
      '--to-time',
      '2020-01-01 00:00:00+00',
      '--into',
      'copy',
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /is before the oldest backup; restorable range for acme\/prod in repo1: \S+ … now/,
    );
    const noOffset = await cli(dataDir, [
      'restore',
      'acme',
      'prod',
      '--to-time',
      '2026-01-01 10:00',
      '--into',
      'copy',
    ]);
    expect(noOffset.code).not.toBe(0);
    expect(noOffset.stderr).toMatch(
      /"2026-01-01 10:00" is not a point in time; use a date, a time and a UTC offset/,
    );

    const run = await cli(dataDir, ['restore', 'acme', 'prod', '--to-time', typed(target), '--into', 'copy']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stderr).toMatch(/restore \S+ of acme\/prod to \S+ into copy from backup \S+F queued/);
    expect(run.stderr).toMatch(/^restoring: restoring \S+ from backup \S+F in repo1 to /m);
    expect(run.stdout).toMatch(
      /acme\/prod restored to \S+ into copy from backup \S+F \(repo1\) in \d+\.\d s/,
    );
    expect(run.stdout).toMatch(
      /files: files not restored: acme\/prod has no succeeded export made at or before/,
    );
    const copy = (await cliJson<TenantView>(dataDir, ['tenant', 'show', 'acme'])).stages.find(
      (s) => s.name === 'copy',
    );
    expect(await notes(copy!.database)).toEqual(['before the target']);
  });

  it('restore --in-place asks to confirm (--yes for scripts), -o json gives the record, list and discard', async () => {
    const unconfirmed = await cli(dataDir, [
      'restore',
      'acme',
      'prod',
      '--to-time',
      typed(target),
      '--in-place',
    ]);
    expect(unconfirmed.code).not.toBe(0);
    expect(unconfirmed.stderr).toMatch(/replaces the database of acme\/prod: pass --yes to confirm/);

    const view = await cliJson<RestoreView>(dataDir, [
      'restore',
      'acme',
      'prod',
      '--to-time',
      target.toISOString(),
      '--in-place',
      '--yes',
    ]);
    expect(view).toMatchObject({ status: 'succeeded', mode: 'in-place', targetStage: 'prod' });
    expect(view.keptDatabase).toMatch(/_pre_\d{14}$/);
    expect(await notes(database)).toEqual(['before the target']);

    const listed = await cliJson<RestoreView[]>(dataDir, ['restore', 'list', 'acme']);
    expect(listed.map((r) => r.mode)).toEqual(['in-place', 'into']);
    const table = await cli(dataDir, ['restore', 'list', 'acme']);
    expect(table.stdout).toContain(view.keptDatabase!);
    const discarded = await cli(dataDir, ['restore', 'discard', view.id, '--yes']);
    expect(discarded.code, discarded.stderr).toBe(0);
    expect(discarded.stdout).toContain(`the kept database ${view.keptDatabase!} is dropped`);
    const shown = await cliJson<RestoreView>(dataDir, ['restore', 'show', view.id]);
    expect(shown).toMatchObject({ keptDatabase: null, discardedBy: 'operator:admin' });
  });
});
