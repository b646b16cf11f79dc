import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreTestView, RestoreView } from '../../src/backups/restore-service.ts';
import { withClient } from '../../src/databases/client.ts';
import { memberDir } from '../../src/databases/patroni/index.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { patroniAvailable } from '../harness/patroni.ts';
import { backupNow, betweenTwoRows, eventually } from './support.ts';

/**
 * Backups and restores of an `ha` stage through Steward: its cluster's
 * stanza (every member, backups from a standby, archiving through Patroni),
 * a restore test against the fingerprint taken after the backup, a
 * point-in-time restore into a new stage (an ha cluster of its own), and one
 * of the stage itself in place (the whole cluster goes back to the time).
 */
describe.skipIf(!patroniAvailable)('restores of an ha stage', () => {
  let t: TestSteward;
  let database: string;
  let label: string;
  /** The leader's socket, as postgres: on the maintenance database, or `set role` into the stage's. */
  const leader = async (stage = 'prod', db?: string): Promise<pg.ClientConfig> => {
    const target = await t.services.backups.stageTarget('hat', stage);
    return {
      host: target.cluster.dir,
      port: target.cluster.port,
      user: 'postgres',
      database: db ?? (await t.database('hat', stage)),
    };
  };
  const query = async <R extends pg.QueryResultRow>(text: string, config?: pg.ClientConfig): Promise<R[]> =>
    withClient(config ?? (await leader()), async (c) => (await c.query<R>(text)).rows);
  const finished = <T extends { status: string }>(path: string): Promise<T> =>
    eventually(
      path,
      async () => {
        const view = (await t.request('GET', path)).body as T;
        return view.status === 'running' ? undefined : view;
      },
      180_000,
    );

  beforeAll(async () => {
    t = await startTestSteward({ config: { backups: {} } });
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'hat', tier: 'ha', stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('hat', 'ready', 120_000);
    database = await t.database('hat', 'prod');
    await query(`set role ${database}; create table ledger (id bigserial primary key, note text not null)`);
    await query(`insert into ledger (note) select 'row ' || g from generate_series(1, 1000) g`);
    label = (await backupNow(t, 'hat', 'prod')).repos[0]!.run!.label!;
  }, 240_000);

  afterAll(async () => {
    await t?.close();
  }, 120_000);

  it('runs a restore test of the backup taken on a standby', async () => {
    const res = await t.request('POST', '/api/v1/tenants/hat/stages/prod/restore-tests');
    expect(res.status, res.text).toBe(202);
    const test = await finished<RestoreTestView>(`/api/v1/restore-tests/${res.body.id as string}`);
    expect(test.status, test.error ?? '').toBe('succeeded');
    expect(test).toMatchObject({ cluster: database, backupLabel: label });
    expect(test.verification!.fingerprint!.tables).toEqual([
      expect.objectContaining({
        table: 'public.ledger',
        ok: true,
        actual: expect.objectContaining({ rows: 1000 }),
      }),
    ]);
  }, 180_000);

  it('restores into a new stage to a point in time, then the stage itself in place', async () => {
    const target = await betweenTwoRows((note) => query(`insert into ledger (note) values ('${note}')`));
    const asOfTarget = [{ n: 1001 }];

    const res = await t.request('POST', '/api/v1/tenants/hat/stages/prod/restores', {
      toTime: target.toISOString(),
      into: 'copy',
    });
    expect(res.status, res.text).toBe(202);
    const done = await finished<RestoreView>(`/api/v1/restores/${res.body.id as string}`);
    expect(done.status, done.error ?? '').toBe('succeeded');
    console.info(`ha restore into a new stage: ${JSON.stringify(done.timings)}`);
    const copy = await leader('copy');
    const notes = await query<{ note: string }>(
      `select note from ledger where note like '%target' order by id`,
      copy,
    );
    expect(notes.map((r) => r.note)).toEqual(['before the target']);
    expect(await query<{ n: number }>('select count(*)::int as n from ledger', copy)).toEqual(asOfTarget);

    // In place: every member stopped, the first restored to the time, the others copy it.
    const started = Date.now();
    const inPlace = await t.request('POST', '/api/v1/tenants/hat/stages/prod/restores', {
      toTime: target.toISOString(),
      inPlace: true,
      confirm: 'prod',
    });
    expect(inPlace.status, inPlace.text).toBe(202);
    const restored = await finished<RestoreView>(`/api/v1/restores/${inPlace.body.id as string}`);
    expect(restored.status, restored.error ?? '').toBe('succeeded');
    console.info(`ha restore in place: ${Date.now() - started} ms ${JSON.stringify(restored.timings)}`);
    const cluster = (await t.services.ha!.clusterOf(database))!;
    for (const member of cluster.members) {
      const socket = { host: memberDir(member), port: member.pgPort, user: 'postgres', database };
      const rows = await eventually(`${member.name} as of the target`, async () => {
        const n = await query<{ n: number }>('select count(*)::int as n from ledger', socket).catch(() => []);
        return n[0]?.n === 1001 ? n : undefined;
      });
      expect(rows, member.name).toEqual(asOfTarget);
    }
    const stage = await t.services.tenants.stageConnection(await t.services.tenants.stageId('hat', 'prod'));
    await withClient({ connectionString: stage.databaseUrl }, async (c) => {
      expect((await c.query('select current_user as u')).rows).toEqual([{ u: database }]);
      await c.query(`insert into ledger (note) values ('after the restore')`);
      const after = await c.query<{ n: number }>('select count(*)::int as n from ledger');
      expect(after.rows).toEqual([{ n: 1002 }]);
    });
    // Archiving survives the restore: the restored cluster's next backup runs (it waits for its WAL).
    expect(await query('show archive_mode', await leader('prod', 'postgres'))).toEqual([
      { archive_mode: 'on' },
    ]);
    const next = await backupNow(t, 'hat', 'prod', { type: 'incr', repo: 1 });
    expect(next.repos[0]!.run!.label).toMatch(/I$/);
  }, 300_000);
});
