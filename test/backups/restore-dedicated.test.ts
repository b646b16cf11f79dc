import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreTestView, RestoreView } from '../../src/backups/restore-service.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { backupNow, eventually } from './support.ts';
import { withClient } from '../../src/databases/client.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A dedicated stage's own cluster: a restore test (the whole cluster comes
 * back into the scratch, as the test clusters run without full_page_writes),
 * an in-place restore, which is a delta restore of the cluster itself, and a
 * restore into a new stage, which gets a cluster of its own.
 */
describe("restores of a dedicated stage's own cluster", () => {
  let t: TestSteward;
  let store: ControlStore;
  let database: string;
  let port: number;
  let label: string;
  const admin = (): pg.ClientConfig => ({
    host: join(t.dataDir, 'clusters', database),
    port,
    user: 'postgres',
    database,
  });
  const query = <R extends pg.QueryResultRow>(text: string, config = admin()): Promise<R[]> =>
    withClient(config, async (c) => (await c.query<R>(text)).rows);
  const finishedRestore = (id: string, what: string): Promise<RestoreView> =>
    eventually(
      what,
      async () => {
        const view = (await t.request('GET', `/api/v1/restores/${id}`)).body as RestoreView;
        return view.status === 'running' ? undefined : view;
      },
      120_000,
    );

  beforeAll(async () => {
    t = await startTestSteward({ config: { backups: {} } });
    store = openControlStore(t.controlUrl, { max: 2 });
    const created = await t.request('POST', '/api/v1/tenants', {
      slug: 'solo',
      tier: 'dedicated',
      stages: ['prod'],
    });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('solo', 'ready', 60_000);
    database = await t.database('solo', 'prod');
    port = (await t.services.backups.stageTarget('solo', 'prod')).cluster.port;
    await query(`set role ${database}; create table ledger (id bigserial primary key, note text not null)`);
    await query(`insert into ledger (note) select 'row ' || g from generate_series(1, 1000) g`);
    // The schedule backs the new cluster up by itself; this backup comes after the data.
    label = (await backupNow(t, 'solo', 'prod')).repos[0]!.run!.label!;
  }, 180_000);

  afterAll(async () => {
    await store?.close();
    await t?.close();
  }, 60_000);

  it('runs a restore test against the fingerprint taken after the backup', async () => {
    const fingerprints = await store.db
      .selectFrom('backup_fingerprints')
      .select(['database_name', 'exact'])
      .where('cluster', '=', database)
      .where('backup_label', '=', label)
      .execute();
    expect(fingerprints).toEqual([{ database_name: database, exact: true }]);
    const res = await t.request('POST', '/api/v1/tenants/solo/stages/prod/restore-tests');
    expect(res.status, res.text).toBe(202);
    const test = await eventually(
      'the restore test',
      async () => {
        const view = (await t.request('GET', `/api/v1/restore-tests/${res.body.id as string}`))
          .body as RestoreTestView;
        return view.status === 'running' ? undefined : view;
      },
      120_000,
    );
    expect(test.status, test.error ?? '').toBe('succeeded');
    expect(test).toMatchObject({
      cluster: database,
      backupLabel: label,
      restorePoint: `steward-fp-${label}`,
    });
    expect(test.verification!.fingerprint!.tables).toEqual([
      expect.objectContaining({
        table: 'public.ledger',
        ok: true,
        actual: expect.objectContaining({ rows: 1000 }),
      }),
    ]);
  });

  it('restores in place by a delta restore of its cluster', async () => {
    await sleep(1100);
    await query(`insert into ledger (note) values ('before the target')`);
    await sleep(500);
    const target = new Date();
    await sleep(500);
    await query(`insert into ledger (note) values ('after the target')`);

    const res = await t.request('POST', '/api/v1/tenants/solo/stages/prod/restores', {
      toTime: target.toISOString(),
      inPlace: true,
      confirm: 'prod',
    });
    expect(res.status, res.text).toBe(202);
    const done = await finishedRestore(res.body.id as string, 'the restore');
    expect(done.status, done.error ?? '').toBe('succeeded');
    console.log(`delta restore of a dedicated cluster: ${JSON.stringify(done.timings)}`);
    expect(done.keptDatabase).toBeNull();
    const notes = await query<{ note: string }>(
      `select note from ledger where note like '%target' order by id`,
    );
    expect(notes.map((r) => r.note)).toEqual(['before the target']);
    expect(await query<{ n: number }>('select count(*)::int as n from ledger')).toEqual([{ n: 1001 }]);
    // Out of recovery, writable, and the stage converges again.
    await query(`insert into ledger (note) values ('after the restore')`);
    await t.waitForStages('solo', 'ready', 30_000);
    const stage = await store.db
      .selectFrom('stages')
      .select('paused')
      .where('database_name', '=', database)
      .executeTakeFirstOrThrow();
    expect(stage.paused).toBe(false);
  });

  it("restores into a new stage, which gets a cluster of its own, from the stage's own stanza", async () => {
    await sleep(1100);
    await query(`insert into ledger (note) values ('before the copy target')`);
    await sleep(500);
    const target = new Date();
    await sleep(500);
    await query(`insert into ledger (note) values ('after the copy target')`);
    const sourceBefore = await query<{ n: number }>('select count(*)::int as n from ledger');

    const res = await t.request('POST', '/api/v1/tenants/solo/stages/prod/restores', {
      toTime: target.toISOString(),
      into: 'copy',
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ mode: 'into', targetStage: 'copy', cluster: database });
    const done = await finishedRestore(res.body.id as string, 'the restore into a new stage');
    expect(done.status, done.error ?? '').toBe('succeeded');
    console.log(`restore of a dedicated stage into a new stage: ${JSON.stringify(done.timings)}`);

    const copyDb = await t.database('solo', 'copy');
    const copyCluster = (await t.services.backups.stageTarget('solo', 'copy')).cluster;
    expect(copyCluster.dir).toBe(join(t.dataDir, 'clusters', copyDb));
    const copy: pg.ClientConfig = {
      host: copyCluster.dir,
      port: copyCluster.port,
      user: 'postgres',
      database: copyDb,
    };
    const notes = await query<{ note: string }>(
      `select note from ledger where note like '%copy target' order by id`,
      copy,
    );
    expect(notes.map((r) => r.note)).toEqual(['before the copy target']);
    // Everything in it belongs to the new stage's role, as if its app had made it.
    const owners = await query<{ owner: string }>(
      `select distinct pg_get_userbyid(relowner) as owner from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'
       union select pg_get_userbyid(datdba) from pg_database where datname = current_database()`,
      copy,
    );
    expect(owners).toEqual([{ owner: copyDb }]);
    // The source stage is untouched: the row after the target is still there.
    expect(await query<{ n: number }>('select count(*)::int as n from ledger')).toEqual(sourceBefore);
    const sourceNotes = await query<{ note: string }>(
      `select note from ledger where note like '%copy target' order by id`,
    );
    expect(sourceNotes.map((r) => r.note)).toEqual(['before the copy target', 'after the copy target']);
  });
});
