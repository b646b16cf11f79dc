import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileKeyring } from '../../src/secrets/keyring.ts';
import { SecretService } from '../../src/secrets/service.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/** Rotation runs "without downtime": secrets written or locked while it runs must not be stranded on the old key. */
describe('master key rotation while secrets are in use', () => {
  let t: TestSteward;
  let store: ControlStore;
  const keyIds = async () =>
    (
      await t.query<{ name: string; key_id: string }>(
        'select name, key_id from secrets order by name',
        [],
        t.controlDatabase,
      )
    ).map((r) => r.key_id);
  const restarted = async () => {
    const keyring = fileKeyring(join(t.dataDir, 'master.key'));
    return new SecretService(store.db, keyring, await keyring.load());
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    t = await startTestSteward();
    store = openControlStore(t.controlUrl, { max: 4 });
    expect(
      (await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['dev', 'prod'] })).status,
    ).toBe(201);
    await t.waitForStages('acme');
  });
  afterAll(async () => {
    await store.close();
    await t.close();
  });

  it('re-wraps a secret that another transaction holds locked while rotation runs', async () => {
    const url = (await t.request('GET', '/api/v1/tenants/acme/stages/prod/credentials')).body.databaseUrl;
    const locker = new pg.Client({ connectionString: t.controlUrl });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query("select * from secrets where name like 'stage/acme/prod/%' for update");
      const rotation = t.request('POST', '/api/v1/secrets/rotate-master-key');
      await sleep(300);
      await locker.query('rollback');
      const res = await rotation;
      expect(res.status, res.text).toBe(200);
      expect(new Set(await keyIds())).toEqual(new Set([res.body.keyId]));
    } finally {
      await locker.end();
    }
    const again = await t.request('GET', '/api/v1/tenants/acme/stages/prod/credentials');
    expect(again.status, again.text).toBe(200);
    expect(again.body.databaseUrl).toBe(url);
  });

  it('re-wraps a secret written by a transaction that commits while rotation runs', async () => {
    const secrets = t.services.secrets;
    let written!: () => void;
    const inFlight = new Promise<void>((resolve) => (written = resolve));
    const writer = store.db.transaction().execute(async (tx) => {
      await secrets.put(tx, 'test/in-flight', 'in-flight-value');
      written();
      await sleep(400);
    });
    await inFlight;
    const rotation = t.request('POST', '/api/v1/secrets/rotate-master-key');
    await writer;
    const res = await rotation;
    expect(res.status, res.text).toBe(200);
    expect(new Set(await keyIds())).toEqual(new Set([res.body.keyId]));
    expect(await secrets.get('test/in-flight')).toBe('in-flight-value');
    expect(await (await restarted()).get('test/in-flight')).toBe('in-flight-value');
    const keyring = JSON.parse(await readFile(join(t.dataDir, 'master.key'), 'utf8')) as {
      keys: Record<string, string>;
    };
    expect(Object.keys(keyring.keys)).toEqual([res.body.keyId]);
  });
});
