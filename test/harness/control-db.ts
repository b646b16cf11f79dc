import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import {
  bootstrapControlDatabase,
  replaceDatabase,
  withCredentials,
} from '../../src/databases/local-cluster.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { appPassword } from './steward.ts';

/**
 * A control database cloned from the migrated template, without a Steward:
 * for tests of one store module against the real tables. Drop it with close().
 */
export interface TestControlDb {
  readonly store: ControlStore;
  readonly url: string;
  /** Inserts a bare tenant row and returns its id. */
  tenant(slug?: string): Promise<string>;
  close(): Promise<void>;
}

export async function cloneControlDb(): Promise<TestControlDb> {
  const superuserUrl = inject('pgSuperuserUrl');
  const database = `cdb_${randomBytes(4).toString('hex')}`;
  await bootstrapControlDatabase(superuserUrl, database, appPassword, { template: 'steward_template' });
  const url = withCredentials(replaceDatabase(superuserUrl, database), 'steward_app', appPassword);
  const store = openControlStore(url, { max: 6 });
  return {
    store,
    url,
    async tenant(slug = `t${randomBytes(4).toString('hex')}`) {
      const row = await store.db
        .insertInto('tenants')
        .values({ slug, display_name: slug, region: 'local', tier: 'shared', contacts: '[]' })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },
    async close() {
      await store.close();
      const client = new pg.Client({ connectionString: superuserUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${quoteIdent(database)} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
