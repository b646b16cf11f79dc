import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

describe('tenant lifecycle', () => {
  let t: TestSteward;
  beforeAll(async () => {
    t = await startTestSteward();
  });
  afterAll(async () => {
    await t.close();
  });

  it('creates a tenant whose stages each get a database, a role and a files directory', async () => {
    const created = await t.request('POST', '/api/v1/tenants', {
      slug: 'acme',
      stages: ['dev', 'test', 'prod'],
    });
    expect(created.status).toBe(201);
    await t.waitForStages('acme');
    const shown = await t.request('GET', '/api/v1/tenants/acme');
    expect(shown.body.phase).toBe('ready');
    expect(shown.body.stages.map((s: { name: string }) => s.name)).toEqual(['dev', 'test', 'prod']);
    const names = (shown.body.stages as { database: string }[]).map((s) => s.database);
    const databases = await t.query<{ datname: string; owner: string }>(
      'select datname, pg_get_userbyid(datdba) as owner from pg_database where datname = any($1) order by datname',
      [names],
    );
    expect(databases.map((d) => d.datname)).toEqual([...names].sort());
    for (const d of databases) expect(d.owner).toBe(d.datname);
    for (const stage of shown.body.stages as { filesDir: string }[])
      expect(existsSync(stage.filesDir)).toBe(true);
  });

  it('deletes a tenant and leaves no database, role, directory or secret behind', async () => {
    await t.request('POST', '/api/v1/tenants', { slug: 'gone-soon', stages: ['dev', 'prod'] });
    await t.waitForStages('gone-soon');
    const shown = await t.request('GET', '/api/v1/tenants/gone-soon');
    const deleted = await t.request('DELETE', '/api/v1/tenants/gone-soon');
    expect(deleted.status).toBe(202);
    await t.waitForStages('gone-soon', 'gone');
    const names = (shown.body.stages as { database: string }[]).map((s) => s.database);
    expect(names).toHaveLength(2);
    const left = await t.query('select datname from pg_database where datname = any($1)', [names]);
    expect(left).toEqual([]);
    const roles = await t.query('select rolname from pg_roles where rolname = any($1)', [names]);
    expect(roles).toEqual([]);
    for (const stage of shown.body.stages as { filesDir: string }[])
      expect(existsSync(stage.filesDir)).toBe(false);
    const secrets = await t.query(
      "select name from secrets where name like 'stage/gone-soon/%'",
      [],
      t.controlDatabase,
    );
    expect(secrets).toEqual([]);
  });
});
