import { randomUUID } from 'node:crypto';
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../../src/databases/client.ts';
import { memberDir, serverBinDir } from '../../src/databases/patroni/index.ts';
import { renderConfig } from '../../src/backups/pgbackrest/config.ts';
import { pgbackrestDriver, type PgBackRestDriver } from '../../src/backups/pgbackrest/driver.ts';
import { haArchivingParameters, haStanzaInstances } from '../../src/backups/pgbackrest/ha.ts';
import { findPgBackRest } from '../../src/backups/pgbackrest/setup.ts';
import { newestWal } from '../../src/backups/pgbackrest/info.ts';
import { waitForArchivedWal } from '../../src/backups/restore/wal.ts';
import { restoreIntoScratch } from '../../src/backups/restore/scratch.ts';
import {
  HaClusterRestore,
  type HaRestoreCluster,
  type HaRestoreRow,
} from '../../src/backups/restore/ha-restore.ts';
import { nextRestoreStep, type RestoreFacts } from '../../src/backups/restore/planner.ts';
import { betweenTwoRows, eventually } from './support.ts';
import { postgresRunAs } from '../../src/system/exec.ts';
import { patroniAvailable, sharedEtcd, startTestCluster, type TestHaCluster } from '../harness/patroni.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Backups and point-in-time restores of an `ha` cluster, on a real
 * three-member Patroni cluster: one stanza listing every member (backups
 * read from a standby), archive_command in Patroni's dynamic config (the
 * primary archives, whichever member it is).
 */
describe.skipIf(!patroniAvailable)('pgBackRest for an ha cluster', () => {
  let cluster: TestHaCluster;
  let driver: PgBackRestDriver;
  let configPath: string;
  let state: string;
  const user = postgresRunAs();

  const leaderSocket = async (): Promise<pg.ClientConfig> => {
    const leader = (await cluster.rest.leader())!;
    return cluster.socket(leader);
  };
  const query = async <R extends pg.QueryResultRow>(text: string): Promise<R[]> =>
    withClient(await leaderSocket(), async (c) => (await c.query<R>(text)).rows);

  beforeAll(async () => {
    cluster = await startTestCluster({ size: 3 });
    await cluster.waitForLeader();
    state = join(cluster.dir, 'pgbackrest');
    for (const sub of ['', 'repo1', 'lock', 'log', 'spool']) {
      await mkdir(join(state, sub), { recursive: true, mode: 0o700 });
      if (user) await chown(join(state, sub), user.uid, user.gid);
    }
    configPath = join(state, 'pgbackrest.conf');
    const instances = haStanzaInstances(
      cluster.members.map((m) => ({ dataDir: m.dataDir, pgPort: m.pgPort, socketDir: memberDir(m) })),
    );
    await writeFile(
      configPath,
      renderConfig({
        stanza: cluster.scope,
        ...instances,
        stateDir: state,
        compressType: 'zst',
        processMax: 1,
        repositories: [
          {
            kind: 'path',
            path: join(state, 'repo1'),
            passphrase: 'test-passphrase-for-ha',
            retention: { kind: 'count', fulls: 2 },
          },
        ],
      }),
      { mode: 0o600 },
    );
    if (user) await chown(configPath, user.uid, user.gid);
    const bin = findPgBackRest();
    // archive_mode needs a restart of every member: Patroni marks them pending_restart.
    await cluster.rest.patchConfig({
      postgresql: { parameters: haArchivingParameters({ stanza: cluster.scope, configPath, bin }) },
    });
    driver = pgbackrestDriver({ configPath, stanza: cluster.scope, user, bin });
    // Patroni takes the new dynamic config in its next loop (loop_wait 2 s), then restarts apply it.
    await sleep(2200);
    await Promise.all(cluster.members.map((member) => cluster.rest.restart(member.name)));
    await cluster.waitForLeader();
    await driver.stanzaCreate();
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('backs up from a standby, and whichever member is primary archives', async () => {
    await query('create table ledger (id bigserial primary key, note text not null)');
    await query(`insert into ledger (note) select 'row ' || g from generate_series(1, 1000) g`);
    const backup = await driver.backup({ type: 'full', repo: 1, timeoutMs: 120_000 });
    expect(backup.ok, backup.ok ? '' : backup.error).toBe(true);
    const info = await driver.info();
    expect(info.backups.map((b) => b.type)).toEqual(['full']);
    // pgBackRest copied the files from a standby, once it had replayed up to the backup's start.
    const log = await readFile(join(state, 'log', `${cluster.scope}-backup.log`), 'utf8');
    expect(log).toMatch(/replay on the standby/);

    const before = (await cluster.rest.leader())!;
    await cluster.rest.switchover();
    const after = await cluster.waitForLeader();
    expect(after).not.toBe(before);
    const [switched] = await query<{ walfile: string }>('select pg_walfile_name(pg_switch_wal()) as walfile');
    await waitForArchivedWal(() => driver.info(), 1, switched!.walfile, { timeoutMs: 30_000 });
    expect(newestWal(await driver.info(), 1)! >= switched!.walfile).toBe(true);

    // What restore tests and restores into a new stage read: the stanza's backup, taken on a
    // standby, comes back into a scratch instance, consistent and promoted.
    const scratch = await restoreIntoScratch({
      configPath,
      stanza: cluster.scope,
      binDir: serverBinDir(inject('pgBinDir')),
      user,
      parentDir: join(state, 'scratch'),
      repo: 1,
      set: backup.ok ? backup.label : '',
      target: { kind: 'immediate' },
      timeoutMs: 60_000,
    });
    try {
      const rows = await withClient(scratch.connection('postgres'), async (c) => {
        await c.query(`select 1`);
        return (await c.query<{ n: number }>(`select count(*)::int as n from pg_catalog.pg_database`)).rows;
      });
      expect(rows[0]!.n).toBeGreaterThanOrEqual(3);
    } finally {
      await scratch.remove();
    }
  }, 120_000);

  it('restores the cluster in place to a point in time: one member restored, the others copy it', async () => {
    const target = await betweenTwoRows((note) => query(`insert into ledger (note) values ('${note}')`));
    const backups = (await driver.info()).backups;
    const backup = backups.at(-1)!;
    const timelineBefore = (await cluster.rest.cluster()).members.find((m) => m.role === 'leader')!.timeline!;

    // The restore row's facts, as RestoreService keeps them (no Steward here: the ha tier's driver is not in yet).
    const row: HaRestoreRow & RestoreFacts = {
      id: randomUUID(),
      status: 'running',
      mode: 'in-place',
      target_stage: 'prod',
      repo: 1,
      backup_label: backup.label,
      target_time: target,
      archived_wal: null,
      fingerprint: null,
      files_note: null,
    };
    let facts = { ...row };
    let paused = false;
    const steps = new HaClusterRestore({
      progress: () => Promise.resolve(),
      archived: (_row, walFile) => Promise.resolve(void (facts = { ...facts, archived_wal: walFile })),
      pauseStage: (_row, value) => Promise.resolve(void (paused = value)),
      signal: new AbortController().signal,
      timeoutMs: 120_000,
    });
    const haCluster: HaRestoreCluster = {
      scope: cluster.scope,
      namespace: cluster.namespace,
      etcdUrls: [sharedEtcd().url],
      members: cluster.members,
      rest: cluster.rest,
      binDir: serverBinDir(inject('pgBinDir')),
      user,
      configPath,
      stanza: cluster.scope,
      pgbackrest: findPgBackRest(),
      info: () => driver.info(),
    };
    const taken: string[] = [];
    const timed: string[] = [];
    const started = Date.now();
    for (;;) {
      const observed = await steps.observe(facts, haCluster, { paused, stagedFiles: false });
      const step = nextRestoreStep(observed, facts);
      taken.push(step.kind);
      const stepStarted = Date.now();
      if (taken.length > 20) throw new Error(`no end: ${taken.join(', ')}`);
      if (step.kind === 'finish') break;
      if (step.kind === 'stage-files') facts = { ...facts, files_note: 'files not restored: no export' };
      else if (step.kind === 'resume-stage') paused = false;
      else {
        try {
          await steps.run(step, facts, haCluster);
        } catch (error) {
          for (const m of cluster.members) {
            console.error(
              `${m.name} patroni.log:\n${(await readFile(join(m.dataDir, '..', 'patroni.log'), 'utf8').catch(() => '')).split('\n').slice(-25).join('\n')}`,
            );
          }
          console.error(JSON.stringify(await cluster.rest.cluster().catch((e: unknown) => String(e))));
          throw error;
        }
      }
      timed.push(`${step.kind} ${Date.now() - stepStarted} ms`);
    }
    console.info(`ha restore in place: ${Date.now() - started} ms: ${timed.join(', ')}`);
    // The emptied members start only once the restored one leads (else one of them bootstraps an empty
    // cluster of its own: seen in CI); whether the planner has to wait for that depends on timing.
    const waited = taken.indexOf('await-leader');
    if (waited >= 0)
      expect(taken.slice(waited - 1, waited + 2)).toEqual(['start-member', 'await-leader', 'start-members']);
    expect(taken.filter((kind) => kind !== 'await-leader')).toEqual([
      'archive',
      'stage-files',
      'stop-members',
      'restore-member',
      'recover-member',
      'empty-members',
      'reset-dcs',
      'start-member',
      'start-members',
      'await-cluster',
      'resume-stage',
      'finish',
    ]);
    const leader = await cluster.waitForLeader();
    expect(leader).toBe(cluster.members[0]!.name);
    const status = await cluster.rest.cluster();
    expect(status.members.find((m) => m.role === 'leader')!.timeline!).toBeGreaterThan(timelineBefore);
    const notes = await query<{ note: string }>(
      `select note from ledger where note like '%target' order by id`,
    );
    expect(notes.map((r) => r.note)).toEqual(['before the target']);
    // Writable, and every member holds the restored rows.
    await query(`insert into ledger (note) values ('after the restore')`);
    for (const member of cluster.members) {
      const count = await eventually(`${member.name} to hold the restored rows`, () =>
        withClient(cluster.socket(member.name), async (c) => {
          const n = (await c.query<{ n: number }>('select count(*)::int as n from ledger')).rows[0]!.n;
          return n === 1002 ? n : undefined;
        }).catch(() => undefined),
      );
      expect(count).toBe(1002);
    }
  }, 240_000);
});
