import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { bootstrapControlDatabase, replaceDatabase } from '../../src/databases/local-cluster.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import { migrate } from '../../src/store/migrate.ts';
import { appPassword } from '../harness/steward.ts';

describe('migrations', () => {
  const superuserUrl = inject('pgSuperuserUrl');
  const database = `mig_${randomBytes(3).toString('hex')}`;

  afterAll(async () => {
    const client = new pg.Client({ connectionString: superuserUrl });
    await client.connect();
    await client.query(`drop database if exists ${quoteIdent(database)} with (force)`);
    await client.end();
  });

  it('two concurrent runs on an empty database apply each migration exactly once', async () => {
    await bootstrapControlDatabase(superuserUrl, database, appPassword);
    const url = replaceDatabase(superuserUrl, database);
    const [a, b] = await Promise.all([migrate(url), migrate(url)]);
    const all = readdirSync(new URL('../../src/store/migrations/', import.meta.url))
      .filter((f) => f.endsWith('.sql'))
      .sort();
    expect(all[0]).toBe('0001_core.sql');
    expect([...a.applied, ...b.applied].sort()).toEqual(all);
    const again = await migrate(url);
    expect(again.applied).toEqual([]);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const owners = await client.query<{ tableowner: string }>(
        "select distinct tableowner from pg_tables where schemaname = 'public'",
      );
      expect(owners.rows.map((r) => r.tableowner)).toEqual(['steward_owner']);
      const grants = await client.query<{ privilege_type: string }>(
        "select privilege_type from information_schema.role_table_grants where grantee = 'steward_app' and table_name = 'audit_events' order by 1",
      );
      expect(grants.rows.map((r) => r.privilege_type)).toEqual(['INSERT', 'SELECT']);
    } finally {
      await client.end();
    }
  });
});
