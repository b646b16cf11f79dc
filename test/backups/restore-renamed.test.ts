import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreView } from '../../src/backups/restore-service.ts';
import { withClient } from '../../src/databases/client.ts';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { backupNow, eventually, turnOnFullPageWrites } from './support.ts';

/**
 * A stage made before opaque names is backed up under its old name, then
 * renamed by the reconciler. A point-in-time restore to a time after the
 * rename, from that backup, must find the database in the backup under the
 * old name (--db-include) and, after WAL replay, under the new one.
 */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('a restore from before a stage took its opaque name', () => {
  let t: TestSteward;
  let target: Date;
  const admin = (database = 'postgres'): pg.ClientConfig => ({
    connectionString: replaceDatabase(t.sharedClusterUrl, database),
  });
  const notes = (database: string): Promise<string[]> =>
    withClient(admin(database), async (c) =>
      (await c.query<{ note: string }>('select note from ledger order by id')).rows.map((r) => r.note),
    );
  const control = (sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> =>
    t.query(sql, params, t.controlDatabase);

  beforeAll(async () => {
    t = await startTestSteward({
      sharedBackups: true,
      config: { backups: { backupTimeoutMinutes: 10 } },
    });
    await turnOnFullPageWrites(admin());
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('acme', 'ready', 60_000);

    // The stage as Steward made it before opaque names; paused, the reconciler leaves it so for now.
    const opaque = await t.database('acme', 'prod');
    const old = `${t.prefix}acme_prod`;
    await control("update stages set paused = true where name = 'prod'");
    await withClient(admin(), async (c) => {
      await c.query(`alter database ${quoteIdent(opaque)} rename to ${quoteIdent(old)}`);
      await c.query(`alter role ${quoteIdent(opaque)} rename to ${quoteIdent(old)}`);
    });
    await control("update stages set database_name = $1 where name = 'prod'", [old]);
    await withClient(admin(old), async (c) => {
      await c.query(`set role ${quoteIdent(old)}`);
      await c.query('create table ledger (id bigserial primary key, note text not null)');
      await c.query(`insert into ledger (note) values ('before the backup')`);
    });

    await backupNow(t, 'acme', 'prod');
    await sleep(1100); // past the backup's consistent point

    // Resumed: the reconciler gives the stage an opaque name.
    await control("update stages set paused = false where name = 'prod'");
    await t.steward.resync();
    const renamed = await eventually(
      'the rename',
      async () => {
        const [row] = await control(
          "select database_name, database_renamed_at from stages where name = 'prod'",
        );
        return row?.database_renamed_at ? (row.database_name as string) : undefined;
      },
      60_000,
    );
    expect(renamed).not.toBe(old);
    await withClient(admin(renamed), (c) => c.query(`insert into ledger (note) values ('after the rename')`));
    await sleep(500);
    target = new Date();
    await sleep(500);
    await withClient(admin(renamed), (c) => c.query(`insert into ledger (note) values ('after the target')`));
  }, 240_000);

  afterAll(async () => {
    await t?.close();
  }, 60_000);

  it('restores into a new stage to a time after the rename, from the backup before it', async () => {
    const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restores', {
      toTime: target.toISOString(),
      into: 'copy',
    });
    expect(res.status, res.text).toBe(202);
    const done = await eventually(
      'the restore to end',
      async () => {
        const view = (await t.request('GET', `/api/v1/restores/${res.body.id as string}`))
          .body as RestoreView;
        return view.status === 'running' ? undefined : view;
      },
      180_000,
    );
    expect(done.status, done.error ?? '').toBe('succeeded');
    expect(await notes(await t.database('acme', 'copy'))).toEqual(['before the backup', 'after the rename']);
  }, 240_000);
});
