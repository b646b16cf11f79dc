import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiClient, type Connection } from '../../src/cli/client.ts';
import {
  bootstrapControlDatabase,
  replaceDatabase,
  withCredentials,
} from '../../src/databases/local-cluster.ts';
import { fileKeyring } from '../../src/secrets/keyring.ts';
import { SecretService } from '../../src/secrets/service.ts';
import { openControlStore } from '../../src/store/db.ts';
import { cleanUp, eventually, makeDataDir, startUpJson, type UpProcess } from '../cli/process.ts';
import { appPassword, dropTestInstance } from '../harness/steward.ts';

interface KeyringFile {
  readonly active: string;
  readonly keys: Record<string, string>;
  readonly retired?: Record<string, { readonly retiredAt: string }>;
}

/**
 * kill -9 of a real `steward up` halfway through a master key rotation (a
 * secret it must re-wrap is held locked), then a start and a second rotation:
 * every secret stays readable, and both keys rotated out are kept as retired.
 */
describe('kill -9 during a master key rotation', () => {
  const superuserUrl = inject('pgSuperuserUrl');
  const id = randomBytes(3).toString('hex');
  const database = `crk_${id}`;
  const prefix = `k${id.slice(0, 5)}_`;
  const controlUrl = withCredentials(replaceDatabase(superuserUrl, database), 'steward_app', appPassword);
  let dataDir: string;
  const ups: UpProcess[] = [];
  const env = () => ({
    STEWARD_DATABASE_URL: controlUrl,
    STEWARD_DATABASE_ADMIN_URL: replaceDatabase(superuserUrl, database),
    STEWARD_SHARED_CLUSTER_URL: superuserUrl,
  });
  const keyring = async () => JSON.parse(await readFile(join(dataDir, 'master.key'), 'utf8')) as KeyringFile;

  async function start(): Promise<ApiClient> {
    const { up, ready } = await startUpJson(dataDir, env());
    ups.push(up);
    return new ApiClient(JSON.parse(await readFile(ready.clientFile, 'utf8')) as Connection);
  }

  beforeAll(async () => {
    await bootstrapControlDatabase(superuserUrl, database, appPassword, { template: 'steward_template' });
    dataDir = await makeDataDir();
  });
  afterAll(async () => {
    await cleanUp(dataDir, ...ups);
    await dropTestInstance(superuserUrl, database, prefix);
  }, 120_000);

  it('leaves every secret readable, and the next rotation retires both keys', async () => {
    const api = await start();
    const first = (await keyring()).active;
    const locker = new pg.Client({ connectionString: replaceDatabase(superuserUrl, database) });
    await locker.connect();
    try {
      // The gateway's CA is a secret of every install: held locked, it stops re-wrapping halfway.
      await locker.query('begin');
      const locked = await locker.query("select name from secrets where name = 'gateway/ca-key' for update");
      expect(locked.rowCount).toBe(1);
      const rotation = api.post('/api/v1/secrets/rotate-master-key').catch((error: unknown) => error);
      await eventually('the new key staged', async () =>
        Object.keys((await keyring()).keys).length === 2 ? true : undefined,
      );
      const up = ups.at(-1);
      up?.child.kill('SIGKILL');
      expect(await up?.exited).toEqual({ code: null, signal: 'SIGKILL' });
      await rotation;
    } finally {
      await locker.end();
    }
    const staged = await keyring();
    expect(staged.active).not.toBe(first);
    expect(Object.keys(staged.keys).sort()).toEqual([first, staged.active].sort());

    const again = await start();
    const report = await again.post<{ previousKeyId: string; keyId: string }>(
      '/api/v1/secrets/rotate-master-key',
    );
    expect(report.previousKeyId).toBe(staged.active);
    const finished = await keyring();
    expect(Object.keys(finished.keys)).toEqual([report.keyId]);
    expect(Object.keys(finished.retired ?? {}).sort()).toEqual([first, staged.active].sort());

    const store = openControlStore(controlUrl, { max: 1 });
    try {
      const keys = fileKeyring(join(dataDir, 'master.key'));
      const secrets = new SecretService(store.db, keys, await keys.load());
      const rows = await store.db.selectFrom('secrets').select(['name', 'key_id']).execute();
      expect(rows.length).toBeGreaterThan(1);
      for (const row of rows) {
        expect(row.key_id).toBe(report.keyId);
        await expect(secrets.get(row.name)).resolves.toEqual(expect.any(String));
      }
    } finally {
      await store.close();
    }
  }, 180_000);
});
