import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordFingerprintsApart, takeFingerprint } from '../../src/backups/fingerprint.ts';
import { closeCopyTarget, openCopyTarget, swapDatabases } from '../../src/backups/restore/copy.ts';
import { catalogOperations } from '../../src/databases/catalog.ts';
import { renameOperations } from '../../src/databases/rename.ts';
import { withClient } from '../../src/databases/client.ts';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import {
  maintenance,
  pinned,
  pinnedOptions,
  pinnedUrl,
  stageRoleSession,
} from '../../src/databases/privileged.ts';
import { quoteIdent } from '../../src/databases/sql.ts';

/**
 * The rules of ../../src/databases/privileged.ts, checked one by one: every
 * session starts with search_path pinned whatever a tenant set for its
 * database and role, superuser sessions go to the maintenance database, and
 * the SQL they send calls no function and uses no operator unqualified.
 */

/** Function calls and operators of a SQL text that are not qualified with pg_catalog. */
function unqualified(sql: string): string[] {
  const keywords = new Set(
    'coalesce exists any all not and or in from join on where values array with as'.split(' '),
  );
  const text = sql
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""')
    .replace(/operator\(pg_catalog\.[^)]+\)/gi, ' ');
  const found: string[] = [];
  for (const m of text.matchAll(/(?<![.\w])([a-z_][a-z0-9_]*)\s*\(/gi)) {
    if (!keywords.has(m[1]!.toLowerCase())) found.push(`${m[1]!}(`);
  }
  for (const m of text.matchAll(/(<>|!=|<=|>=|=|<|>|~~|\|\||\+|\blike\b)/gi)) found.push(m[1]!);
  return found;
}

/** A real pool that keeps every SQL text it is sent. */
function recordingPool(config: pg.PoolConfig): { pool: pg.Pool; texts: string[] } {
  const pool = new pg.Pool(config);
  const texts: string[] = [];
  const query = pool.query.bind(pool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>;
  (pool as unknown as { query: typeof query }).query = (text, values) => {
    texts.push(text);
    return query(text, values);
  };
  return { pool, texts };
}

describe('unqualified (the checker itself)', () => {
  it.each([
    ['select count(*) from t where a = 1', ['count(', '=']],
    ['select pg_catalog.count(*) from t where a operator(pg_catalog.=) 1', []],
    [`select hashtextextended(t::text, 0)`, ['hashtextextended(']],
    [`select 'a = b(' as x, "f(" from t`, []],
    ['select 1 where n like $1', ['like']],
  ])('%s', (sql, found) => {
    expect(unqualified(sql)).toEqual(found);
  });
});

describe('pinned, maintenance and stage role sessions', () => {
  it('pins search_path in the config, or in the URL, where node-postgres would let the URL win', () => {
    expect(pinned({ host: '/run', database: 'x' })).toEqual({
      host: '/run',
      database: 'x',
      options: pinnedOptions,
    });
    expect(pinnedOptions).toMatch(/^-c search_path=pg_catalog,pg_temp /);
    expect(pinned({ host: '/run', options: '-c work_mem=1MB' }).options).toBe(
      `-c work_mem=1MB ${pinnedOptions}`,
    );
    const url = new URL(
      pinnedUrl('postgres://u:p@127.0.0.1:5432/db?options=-c%20work_mem%3D1MB').connectionString!,
    );
    expect(url.searchParams.get('options')).toBe(`-c work_mem=1MB ${pinnedOptions}`);
  });

  it('moves a superuser to the maintenance database, whatever database it named', () => {
    expect(maintenance({ host: '/run', user: 'postgres', database: 'st_acme_prod' })).toMatchObject({
      database: 'postgres',
      options: pinnedOptions,
    });
    const url = new URL(
      maintenance({ connectionString: 'postgres://postgres:p@h:1/st_acme_prod' }).connectionString!,
    );
    expect(url.pathname).toBe('/postgres');
  });

  it("spells a stage's session out from its DATABASE_URL, on its database or another", () => {
    const url = 'postgres://st_acme_prod:p%40ss@127.0.0.1:6543/st_acme_prod';
    expect(stageRoleSession(url)).toEqual({
      host: '127.0.0.1',
      port: 6543,
      user: 'st_acme_prod',
      password: 'p@ss',
      database: 'st_acme_prod',
      options: pinnedOptions,
    });
    expect(stageRoleSession(url, 'st_acme_prod_rst_1').database).toBe('st_acme_prod_rst_1');
  });
});

describe('privileged sessions against a planted database and role', () => {
  const superuserUrl = inject('pgSuperuserUrl');
  const name = `dbpriv_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const admin = (database = 'postgres'): pg.ClientConfig => ({
    connectionString: replaceDatabase(superuserUrl, database),
  });

  beforeAll(async () => {
    await withClient(admin(), async (c) => {
      await c.query(`create role ${name} login password '${password}'`);
      await c.query(`create database ${name} owner ${name}`);
    });
    await withClient({ ...stageRoleSession(superuserUrl, name), user: name, password }, async (c) => {
      await c.query(`alter database ${name} set search_path = public, pg_catalog`);
      await c.query(`alter role ${name} set search_path = public, pg_catalog`);
      await c.query(`alter role ${name} set default_transaction_read_only = on`);
      await c.query('create table public.t (a integer)');
      await c.query('insert into public.t values (1), (2)');
    });
  });

  afterAll(async () => {
    await withClient(admin(), async (c) => {
      await c.query(`drop database if exists ${quoteIdent(name)} with (force)`);
      await c.query(`drop database if exists ${quoteIdent(`${name}_rst`)} with (force)`);
      await c.query(`drop database if exists ${quoteIdent(`${name}_pre`)} with (force)`);
      await c.query(`drop database if exists ${quoteIdent(`${name}_bad`)} with (force)`);
      await c.query(`drop role if exists ${quoteIdent(`${name}_bad`)}`);
      await c.query(`drop role if exists ${quoteIdent(`${name}_rst`)}`);
      await c.query(`drop role if exists ${quoteIdent(name)}`);
    });
  });

  const searchPath = (config: pg.ClientConfig): Promise<string> =>
    withClient(config, async (c) =>
      (
        await c.query<{ p: string }>(`select pg_catalog.current_setting('search_path') as p`)
      ).rows[0]!.p.replaceAll(' ', ''),
    );

  it('the planted search_path reaches a session that does not pin, and no session that does', async () => {
    expect(await searchPath(admin(name))).toBe('public,pg_catalog');
    expect(await searchPath(pinned(admin(name)))).toBe('pg_catalog,pg_temp');
    const asRole = { ...stageRoleSession(superuserUrl, name), user: name, password };
    expect(await searchPath(asRole)).toBe('pg_catalog,pg_temp');
    // A setting that would stop Steward's own work in the role's sessions is pinned too.
    const readOnly = (config: pg.ClientConfig): Promise<string> =>
      withClient(
        config,
        async (c) =>
          (
            await c.query<{ v: string }>(
              `select pg_catalog.current_setting('default_transaction_read_only') as v`,
            )
          ).rows[0]!.v,
      );
    expect(await readOnly({ ...asRole, options: '' })).toBe('on');
    expect(await readOnly(asRole)).toBe('off');
  });

  it('a fingerprint sends only qualified SQL', async () => {
    const texts: string[] = [];
    const fingerprint = await withClient(
      { ...stageRoleSession(superuserUrl, name), user: name, password },
      (c) =>
        takeFingerprint({
          query: (text, values) => {
            texts.push(text);
            return c.query(text, values);
          },
        }),
    );
    expect(fingerprint.tables).toEqual([expect.objectContaining({ table: 't', rows: 2 })]);
    for (const text of texts) expect(unqualified(text), text).toEqual([]);
  });
  it('one tenant that makes its own fingerprint fail costs the others of its group nothing', async () => {
    const bad = `${name}_bad`;
    // Another database of the same role (admitted by its access role), as a second tenant would be.
    await withClient(maintenance(admin()), (c) => openCopyTarget(c, bad, name));
    const asRole = (database: string): pg.ClientConfig => ({
      ...stageRoleSession(superuserUrl, database),
      user: name,
      password,
    });
    await withClient(asRole(bad), async (c) => {
      await c.query('create table public.t (a integer)');
      await c.query('insert into public.t values (1)');
      await c.query(
        `create function public.no() returns boolean language plpgsql as $$ begin raise exception 'not for you'; end $$`,
      );
      await c.query('alter table public.t enable row level security');
      await c.query('alter table public.t force row level security');
      await c.query('create policy no on public.t using (public.no())');
    });
    const result = await recordFingerprintsApart(
      admin(),
      [
        { database: name, connection: asRole(name) },
        { database: bad, connection: asRole(bad) },
      ],
      `steward-test-${name}`,
    );
    expect(result.recorded.map((r) => Object.keys(r.databases))).toEqual([[name]]);
    expect(result.recorded[0]!.restorePoint).toBe(`steward-test-${name}-0`);
    expect(result.failed.map((f) => [f.database, String(f.error)])).toEqual([[bad, 'error: not for you']]);
  });

  it('catalog operations (provision, credentials, renames, removal) send only qualified SQL, on the maintenance database', async () => {
    const { pool, texts } = recordingPool({ ...pinnedUrl(superuserUrl), max: 1 });
    try {
      const catalog = catalogOperations(pool);
      const other = `${name}_x`;
      await catalog.ensureRole(other, 'secret-one');
      await catalog.ensureRole(other, 'secret-two');
      await catalog.ensureDatabase(other);
      await catalog.restrictAccess(other);
      expect(await catalog.observe(other)).toMatchObject({ roleExists: true, databaseExists: true });
      await catalog.inventory(name);
      const renames = renameOperations(pool);
      const renamed = `${other}_r`;
      expect(await renames.observeRename(other, renamed)).toMatchObject({
        fromDatabase: true,
        toRole: false,
      });
      await renames.blockLogins(other);
      await renames.renameDatabase(other, renamed);
      await renames.renameRole(other, renamed);
      await catalog.dropDatabase(renamed);
      await catalog.dropRole(renamed);
      const where = await pool.query<{ db: string; path: string }>(
        'select pg_catalog.current_database() as db, pg_catalog.current_setting($1) as path',
        ['search_path'],
      );
      expect(where.rows[0]).toEqual({ db: 'postgres', path: 'pg_catalog,pg_temp' });
    } finally {
      await pool.end();
    }
    for (const text of texts) expect(unqualified(text), text).toEqual([]);
    // No password in any statement: a verifier only.
    expect(texts.join('\n')).not.toMatch(/secret-one|secret-two/);
  });

  it('the copy target, its access role and the swap send only qualified SQL', async () => {
    const { pool, texts } = recordingPool({ ...maintenance(admin()), max: 1 });
    try {
      const replacement = `${name}_rst`;
      await openCopyTarget(pool, replacement, name);
      await openCopyTarget(pool, replacement, name);
      // The role gets into the replacement by samerole, through the access role of its name.
      const asRole = { ...stageRoleSession(superuserUrl, replacement), user: name, password };
      expect(await searchPath(asRole)).toBe('pg_catalog,pg_temp');
      await closeCopyTarget(pool, replacement);
      const left = await pool.query(
        'select 1 from pg_catalog.pg_roles where rolname operator(pg_catalog.=) $1',
        [replacement],
      );
      expect(left.rowCount).toBe(0);
      // A stage's own login role is never taken for an access role.
      await closeCopyTarget(pool, name);
      expect(
        (
          await pool.query('select 1 from pg_catalog.pg_roles where rolname operator(pg_catalog.=) $1', [
            name,
          ])
        ).rowCount,
      ).toBe(1);
      await swapDatabases(pool, { live: name, replacement, keepAs: `${name}_pre` });
    } finally {
      await pool.end();
    }
    for (const text of texts) expect(unqualified(text), text).toEqual([]);
  });
});
