import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreTestView, RestoreView } from '../../src/backups/restore-service.ts';
import { withClient } from '../../src/databases/client.ts';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import { quoteIdent, quoteLiteral } from '../../src/databases/sql.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';
import { backupNow, eventually, turnOnFullPageWrites } from '../backups/support.ts';

/**
 * A hostile tenant (issue 9, part 1): its stage's role plants look-alikes of
 * the functions, aggregates and operators Steward's queries use, moves public
 * ahead of pg_catalog for its database and role, and adds constraint, index,
 * trigger and materialized-view functions that fire on a restore. Each of
 * them records who ran it and tries `RESET ROLE` and `COPY … TO PROGRAM`,
 * which only a superuser may run. Then every Steward operation that touches
 * the database runs: provision, credentials, a backup and its fingerprint, a
 * restore test, point-in-time restores into a new stage and in place, an
 * export and an import, removal. The program never runs, and nothing planted
 * ever runs as a role other than the tenant's own.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The tenant's code: records current_user and session_user, tries to become the superuser, tries a shell. */
function hostileSql(database: string, role: string, marker: string): string[] {
  const program = quoteLiteral(`/usr/bin/touch ${marker}`);
  return [
    // Unlogged: the fingerprints leave it out, so that what the planted code records is no difference.
    `create unlogged table public.canary (tag text, cu text, su text, at timestamptz default pg_catalog.now())`,
    `grant select, insert on public.canary to public`,
    `create function public.plant(tag text) returns void language plpgsql as $body$
     begin
       begin
         insert into public.canary (tag, cu, su) values (tag, current_user, session_user);
       exception when others then null;
       end;
       begin execute 'reset role'; exception when others then null; end;
       begin execute 'reset session authorization'; exception when others then null; end;
       begin
         insert into public.canary (tag, cu, su) values (tag || ' after reset', current_user, session_user);
       exception when others then null;
       end;
       begin
         execute 'copy (select 1) to program ' || ${quoteLiteral(program)};
       exception when others then null;
       end;
     end $body$`,
    `create function public.planted(tag text) returns integer language plpgsql as $body$
     begin perform public.plant(tag); return 1; end $body$`,
    // Better overload matches than pg_catalog's (integer against bigint), or equal ones once public comes first.
    `create function public.hashtextextended(t text, seed integer) returns bigint language plpgsql as $body$
     begin perform public.plant('hashtextextended'); return pg_catalog.hashtextextended(t, seed::bigint); end $body$`,
    `create function public.hashtext(t text) returns integer language plpgsql as $body$
     begin perform public.plant('hashtext'); return pg_catalog.hashtext(t); end $body$`,
    `create function public.md5(t text) returns text language plpgsql as $body$
     begin perform public.plant('md5'); return pg_catalog.md5(t); end $body$`,
    `create function public.count_step(n bigint) returns bigint language plpgsql as $body$
     begin perform public.plant('count'); return n operator(pg_catalog.+) 1; end $body$`,
    `create aggregate public.count(*) (sfunc = public.count_step, stype = bigint, initcond = '0')`,
    `create function public.sum_step(s numeric, v numeric) returns numeric language plpgsql as $body$
     begin perform public.plant('sum'); if s is null then return v; end if; return s operator(pg_catalog.+) v; end $body$`,
    `create aggregate public.sum(numeric) (sfunc = public.sum_step, stype = numeric)`,
    `create function public.text_eq(a text, b text) returns boolean language plpgsql as $body$
     begin perform public.plant('text ='); return a operator(pg_catalog.=) b; end $body$`,
    `create operator public.= (leftarg = text, rightarg = text, function = public.text_eq)`,
    `create type public.mood as enum ('calm', 'angry')`,
    `create function public.mood_eq(a public.mood, b public.mood) returns boolean language plpgsql as $body$
     begin perform public.plant('mood ='); return a::text operator(pg_catalog.=) b::text; end $body$`,
    `create operator public.= (leftarg = public.mood, rightarg = public.mood, function = public.mood_eq)`,
    // Fires on a restore: a check constraint during COPY, an index expression, a materialized view's query.
    `create function public.note_ok(n text) returns boolean language plpgsql as $body$
     begin perform public.plant('check'); return true; end $body$`,
    `create function public.note_key(n text) returns text language plpgsql immutable as $body$
     begin perform public.plant('index'); return n; end $body$`,
    `create function public.on_insert() returns trigger language plpgsql as $body$
     begin perform public.plant('trigger'); return new; end $body$`,
    `create table public.ledger (
       id bigserial primary key,
       note text not null check (public.note_ok(note)),
       mood public.mood not null default 'calm',
       extra integer default public.planted('default'))`,
    `create index on public.ledger (public.note_key(note))`,
    `create trigger ledger_insert before insert on public.ledger for each row execute function public.on_insert()`,
    `insert into public.ledger (note) select 'row ' || g from generate_series(1, 50) g`,
    `create materialized view public.watch as select public.planted('materialized view') as n`,
    // What every session into the database, or as the role, would start with.
    `alter database ${quoteIdent(database)} set search_path = public, pg_catalog`,
    `alter role ${quoteIdent(role)} set search_path = public, pg_catalog`,
  ];
}

describe('a hostile tenant database: Steward never runs its code with more than its own role', () => {
  let t: TestSteward;
  const marker = `/tmp/steward-canary-${randomBytes(6).toString('hex')}`;
  /** Each stage's connection, by stage name, as the credentials API gives it. */
  const stages = new Map<string, { url: string; database: string; role: string }>();
  let target: Date;

  const admin = (database = 'postgres'): pg.ClientConfig => ({
    connectionString: replaceDatabase(t.sharedClusterUrl, database),
  });

  async function credentials(stage: string): Promise<{ url: string; database: string; role: string }> {
    const res = await t.request('GET', `/api/v1/tenants/acme/stages/${stage}/credentials`);
    expect(res.status, res.text).toBe(200);
    const url = new URL(res.body.databaseUrl as string);
    const found = {
      url: res.body.databaseUrl as string,
      database: decodeURIComponent(url.pathname.slice(1)),
      role: decodeURIComponent(url.username),
    };
    stages.set(stage, found);
    return found;
  }

  /** The canary's rows, read as the stage's own role. */
  async function canary(stage: string): Promise<{ tag: string; cu: string; su: string }[]> {
    const { url } = stages.get(stage) ?? (await credentials(stage));
    return withClient(
      { connectionString: url, options: '-c search_path=pg_catalog,pg_temp' },
      async (c) =>
        (await c.query<{ tag: string; cu: string; su: string }>('select tag, cu, su from public.canary'))
          .rows,
    );
  }

  /** The marker goes once seen, so that each step shows its own escape. */
  function expectNoEscape(): void {
    const escaped = existsSync(marker);
    rmSync(marker, { force: true });
    expect(escaped, `${marker}: the tenant's COPY … TO PROGRAM ran as a superuser`).toBe(false);
  }

  async function expectOwnRolesOnly(stage: string): Promise<void> {
    const roles = new Set([...stages.values()].map((s) => s.role));
    const rows = await canary(stage);
    expect(rows.length).toBeGreaterThan(0);
    const foreign = rows.filter((r) => !roles.has(r.cu) || !roles.has(r.su));
    expect(foreign, `planted code in ${stage} ran as another role`).toEqual([]);
  }

  async function waitFor<T extends { status: string }>(url: string, timeoutMs = 180_000): Promise<T> {
    return eventually(
      url,
      async () => {
        const res = await t.request('GET', url);
        expect(res.status, res.text).toBe(200);
        const view = res.body as T;
        return view.status === 'running' ? undefined : view;
      },
      timeoutMs,
    );
  }

  beforeAll(async () => {
    t = await startTestSteward({
      sharedBackups: true,
      runtimeTickMs: 500,
      config: { backups: { backupTimeoutMinutes: 10 } },
    });
    await turnOnFullPageWrites(admin());
    const created = await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
    expect(created.status, created.text).toBe(201);
    await t.waitForStages('acme', 'ready', 60_000);
    const prod = await credentials('prod');
    await withClient({ connectionString: prod.url }, async (c) => {
      for (const statement of hostileSql(prod.database, prod.role, marker)) await c.query(statement);
      // Only a superuser may make event triggers: the tenant cannot plant one.
      await expect(
        c.query(`create event trigger watch on ddl_command_start execute function public.on_insert()`),
      ).rejects.toThrow(/permission denied/);
    });
    expect((await canary('prod')).map((r) => r.tag)).toContain('trigger');
  }, 120_000);

  afterAll(async () => {
    await rm(marker, { force: true });
    await t?.close();
  }, 60_000);

  it('plants code that would run as a superuser if Steward ran it so', async () => {
    // The planted code works: run by a superuser, it escapes (the check this suite relies on).
    const prod = stages.get('prod')!;
    await withClient(admin(prod.database), async (c) => {
      await c.query('begin');
      await c.query(`select hashtextextended('x', 0)`);
      await c.query('rollback');
    });
    expect(existsSync(marker)).toBe(true);
    await rm(marker, { force: true });
  });

  it('backs up and fingerprints the stage without running its code as anyone else', async () => {
    await backupNow(t, 'acme', 'prod');
    const fingerprints = await t.query<{ tables: { table: string; rows: number }[] }>(
      'select tables from backup_fingerprints where database_name = $1',
      [stages.get('prod')!.database],
      t.controlDatabase,
    );
    expect(fingerprints[0]?.tables).toEqual(
      expect.arrayContaining([expect.objectContaining({ table: 'ledger', rows: 50 })]),
    );
    await sleep(1100); // past the backup's consistent point
    await withClient({ connectionString: stages.get('prod')!.url }, (c) =>
      c.query(`insert into public.ledger (note) values ('before the target')`),
    );
    await sleep(500);
    target = new Date();
    await sleep(500);
    await withClient({ connectionString: stages.get('prod')!.url }, (c) =>
      c.query(`insert into public.ledger (note) values ('after the target')`),
    );
    expectNoEscape();
  }, 180_000);

  it('runs a restore test of the stage without running its code as anyone else', async () => {
    const res = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restore-tests', {});
    expect(res.status, res.text).toBe(202);
    const done = await waitFor<RestoreTestView>(`/api/v1/restore-tests/${res.body.id as string}`);
    expect(done.status, done.error ?? '').toBe('succeeded');
    expectNoEscape();
  }, 240_000);

  it('restores the stage into a new stage and in place without running its code as anyone else', async () => {
    const into = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restores', {
      toTime: target.toISOString(),
      into: 'copy',
    });
    expect(into.status, into.text).toBe(202);
    const copied = await waitFor<RestoreView>(`/api/v1/restores/${into.body.id as string}`);
    expect(copied.status, copied.error ?? '').toBe('succeeded');
    expectNoEscape();
    await credentials('copy');
    const notes = await withClient(
      { connectionString: stages.get('copy')!.url },
      async (c) => (await c.query<{ n: number }>(`select count(*)::int as n from public.ledger`)).rows[0]!.n,
    );
    expect(notes).toBe(51);

    const inPlace = await t.request('POST', '/api/v1/tenants/acme/stages/prod/restores', {
      toTime: target.toISOString(),
      inPlace: true,
      confirm: 'prod',
    });
    expect(inPlace.status, inPlace.text).toBe(202);
    const swapped = await waitFor<RestoreView>(`/api/v1/restores/${inPlace.body.id as string}`);
    expect(swapped.status, swapped.error ?? '').toBe('succeeded');
    expectNoEscape();
    const discarded = await t.request('POST', `/api/v1/restores/${inPlace.body.id as string}/discard`);
    expect(discarded.status, discarded.text).toBe(200);
    expectNoEscape();
  }, 360_000);

  it('exports the stage and imports it into a new stage without running its code as anyone else', async () => {
    const key = await t.request('PUT', '/api/v1/tenants/acme/export-key', { generate: 'passphrase' });
    expect(key.status, key.text).toBe(200);
    const made = await t.request('POST', '/api/v1/tenants/acme/stages/prod/exports');
    expect(made.status, made.text).toBe(202);
    const done = await waitFor<{ status: string; reason: string }>(
      `/api/v1/exports/${made.body.id as string}`,
    );
    expect(done.status, done.reason).toBe('succeeded');
    const file = await t.api.inject({
      method: 'GET',
      url: `/api/v1/exports/${made.body.id as string}/download`,
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(file.statusCode, file.body).toBe(200);
    const imported = await t.api.inject({
      method: 'POST',
      url: '/api/v1/tenants/acme/imports?stage=imported',
      headers: {
        authorization: `Bearer ${t.token}`,
        'content-type': 'application/vnd.steward.export',
        'x-steward-passphrase': key.body.passphrase as string,
      },
      payload: file.rawPayload,
    });
    expect(imported.statusCode, imported.body).toBe(201);
    expectNoEscape();
    await credentials('imported');
  }, 240_000);

  it('never ran planted code as a role other than the stage roles, in any database left', async () => {
    for (const stage of ['prod', 'copy', 'imported']) await expectOwnRolesOnly(stage);
    // The restores did run the tenant's constraint and view code: as the new stage's own role.
    const copy = stages.get('copy')!;
    const ranInCopy = (await canary('copy')).filter((r) => r.cu === copy.role).map((r) => r.tag);
    expect(ranInCopy).toEqual(expect.arrayContaining(['check', 'materialized view']));
    expectNoEscape();
  });

  it('removes the stages, then the tenant, without running their code', async () => {
    for (const stage of ['copy', 'imported']) {
      const removed = await t.request('DELETE', `/api/v1/tenants/acme/stages/${stage}`);
      expect(removed.status, removed.text).toBe(202);
    }
    await eventually('the stages to go', async () => {
      const res = await t.request('GET', '/api/v1/tenants/acme');
      return (res.body.stages as { name: string }[]).length === 1;
    });
    expectNoEscape();
    const removed = await t.request('DELETE', '/api/v1/tenants/acme');
    expect(removed.status, removed.text).toBe(202);
    await t.waitForStages('acme', 'gone', 60_000);
    const left = await withClient(
      admin(),
      async (c) =>
        (await c.query('select datname from pg_database where datname = $1', [stages.get('prod')!.database]))
          .rows,
    );
    expect(left).toEqual([]);
    expectNoEscape();
  }, 120_000);
});
