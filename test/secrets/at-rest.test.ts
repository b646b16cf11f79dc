import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newMasterKey, rewrap } from '../../src/secrets/envelope.ts';
import { fileKeyring, newKeyId, stagedRotation } from '../../src/secrets/keyring.ts';
import { SecretService } from '../../src/secrets/service.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

interface SecretRow {
  id: string;
  name: string;
  key_id: string;
  wrapped_key: Buffer;
  ciphertext: Buffer;
}

/** The forms a secret could take if it leaked into bytes at rest. */
function encodings(value: string): Buffer[] {
  const raw = Buffer.from(value, 'utf8');
  return [raw, Buffer.from(raw.toString('hex')), Buffer.from(raw.toString('base64'))];
}

describe('secrets at rest', () => {
  let t: TestSteward;
  let store: ControlStore;
  const keyPath = () => join(t.dataDir, 'master.key');
  const secretRows = () =>
    t.query<SecretRow>(
      'select id::text, name, key_id, wrapped_key, ciphertext from secrets order by id',
      [],
      t.controlDatabase,
    );
  const keyringFile = async () =>
    JSON.parse(await readFile(keyPath(), 'utf8')) as { active: string; keys: Record<string, string> };
  const credentials = async (tenant: string, stage: string): Promise<string> => {
    const res = await t.request('GET', `/api/v1/tenants/${tenant}/stages/${stage}/credentials`);
    expect(res.status, res.text).toBe(200);
    return res.body.databaseUrl as string;
  };
  const stages: [string, string][] = [
    ['acme', 'dev'],
    ['acme', 'prod'],
    ['beta', 'dev'],
  ];
  const allUrls = async () => {
    const urls: Record<string, string> = {};
    for (const [tenant, stage] of stages) urls[`${tenant}/${stage}`] = await credentials(tenant, stage);
    return urls;
  };
  const connects = async (url: string): Promise<boolean> => {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  /** A fresh service reading master.key from disk, as a restarted Steward would. */
  const restarted = async () => {
    const keyring = fileKeyring(keyPath());
    return new SecretService(store.db, keyring, await keyring.load());
  };
  let urls: Record<string, string>;

  beforeAll(async () => {
    t = await startTestSteward();
    store = openControlStore(t.controlUrl, { max: 4 });
    expect(
      (await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['dev', 'prod'] })).status,
    ).toBe(201);
    expect((await t.request('POST', '/api/v1/tenants', { slug: 'beta', stages: ['dev'] })).status).toBe(201);
    await t.waitForStages('acme');
    await t.waitForStages('beta');
    urls = await allUrls();
  });
  afterAll(async () => {
    await store.close();
    await t.close();
  });

  it('stores no stage password, nor the master key, in plaintext anywhere in the control database', async () => {
    const passwords = Object.values(urls).map((url) => decodeURIComponent(new URL(url).password));
    expect(passwords).toHaveLength(3);
    for (const password of passwords) expect(password.length).toBeGreaterThanOrEqual(32);
    const rows = await secretRows();
    expect(rows.length).toBeGreaterThanOrEqual(3);
    const masterKeys = Object.values((await keyringFile()).keys).map((k) => Buffer.from(k, 'base64'));
    for (const row of rows) {
      expect(row.ciphertext.length).toBeGreaterThan(28);
      expect(row.wrapped_key.length).toBe(12 + 16 + 32);
      for (const password of passwords)
        for (const form of encodings(password)) {
          expect(row.ciphertext.includes(form)).toBe(false);
          expect(row.wrapped_key.includes(form)).toBe(false);
        }
      for (const key of masterKeys) {
        expect(row.ciphertext.includes(key)).toBe(false);
        expect(row.wrapped_key.includes(key)).toBe(false);
      }
    }
    // Every table, every row, as text: no password and no master key anywhere.
    const tables = await t.query<{ tablename: string }>(
      "select tablename from pg_tables where schemaname = 'public'",
      [],
      t.controlDatabase,
    );
    expect(tables.map((x) => x.tablename)).toEqual(
      expect.arrayContaining(['secrets', 'stages', 'audit_events']),
    );
    for (const { tablename } of tables) {
      const dump = (
        await t.query<{ dump: string | null }>(
          `select string_agg(x::text, E'\\n') as dump from public."${tablename}" x`,
          [],
          t.controlDatabase,
        )
      )[0]?.dump;
      if (!dump) continue;
      for (const password of passwords) {
        expect(dump.includes(password), tablename).toBe(false);
        expect(dump.includes(Buffer.from(password).toString('hex')), tablename).toBe(false);
      }
      for (const key of masterKeys) {
        expect(dump.includes(key.toString('base64')), tablename).toBe(false);
        expect(dump.includes(key.toString('hex')), tablename).toBe(false);
      }
    }
  });

  it('keeps master.key at mode 0600 and no more', async () => {
    const info = await stat(keyPath());
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.isFile()).toBe(true);
    const keyring = await keyringFile();
    expect(Object.keys(keyring.keys)).toEqual([keyring.active]);
    expect(Buffer.from(keyring.keys[keyring.active] ?? '', 'base64')).toHaveLength(32);
  });

  it('rotates the master key through the API: every secret re-wrapped, the old key gone, credentials unchanged', async () => {
    const before = await secretRows();
    const oldKeyring = await keyringFile();
    const oldKey = oldKeyring.keys[oldKeyring.active] ?? '';
    expect(new Set(before.map((r) => r.key_id))).toEqual(new Set([oldKeyring.active]));

    const res = await t.request('POST', '/api/v1/secrets/rotate-master-key');
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ previousKeyId: oldKeyring.active, rewrapped: before.length });
    expect(res.body.keyId).not.toBe(oldKeyring.active);
    expect(res.text).not.toContain(oldKey);

    const after = await secretRows();
    expect(after.map((r) => r.name)).toEqual(before.map((r) => r.name));
    for (const [i, row] of after.entries()) {
      const old = before[i];
      expect(row.key_id).toBe(res.body.keyId);
      expect(row.wrapped_key.equals(old?.wrapped_key ?? Buffer.alloc(0))).toBe(false);
      // Only the data key is re-wrapped: the secret's own ciphertext stays as it was.
      expect(row.ciphertext.equals(old?.ciphertext ?? Buffer.alloc(0))).toBe(true);
    }

    const keyring = await keyringFile();
    expect(keyring.active).toBe(res.body.keyId);
    expect(Object.keys(keyring.keys)).toEqual([res.body.keyId]);
    const text = await readFile(keyPath(), 'utf8');
    expect(text).not.toContain(oldKey);
    expect((await stat(keyPath())).mode & 0o777).toBe(0o600);
    expect(existsSync(`${keyPath()}.tmp`)).toBe(false);

    expect(await allUrls()).toEqual(urls);
    for (const url of Object.values(urls)) expect(await connects(url)).toBe(true);
    // A restarted Steward, reading master.key from disk, opens every secret too.
    const fresh = await restarted();
    for (const row of after) await expect(fresh.get(row.name)).resolves.toEqual(expect.any(String));

    const audit = await t.request('GET', '/api/v1/audit?action=secrets.rotate-master-key');
    expect(audit.body.events).toHaveLength(1);
    expect(audit.body.events[0].details).toMatchObject({ keyId: res.body.keyId, rewrapped: before.length });
  });

  it('a crash halfway through rotation leaves every secret readable, and rotating again finishes', async () => {
    const original = await restarted();
    const values = new Map<string, string>();
    for (const row of await secretRows()) values.set(row.name, await original.get(row.name));

    // Do what rotateMasterKey does up to the crash: stage a new key beside the
    // old one, re-wrap some of the rows, then stop.
    const file = fileKeyring(keyPath());
    const current = await file.load();
    const next = newMasterKey(newKeyId());
    const staged = stagedRotation(current, next);
    await file.save(staged);
    const rows = await secretRows();
    const half = rows.slice(0, Math.ceil(rows.length / 2));
    for (const row of half) {
      await t.query(
        'update secrets set key_id = $2, wrapped_key = $3 where id = $1',
        [row.id, next.id, rewrap(current.active, next, row.wrapped_key)],
        t.controlDatabase,
      );
    }
    const mixed = await secretRows();
    expect(new Set(mixed.map((r) => r.key_id))).toEqual(new Set([current.active.id, next.id]));

    const afterCrash = await restarted();
    for (const [name, value] of values) expect(await afterCrash.get(name)).toBe(value);
    // New secrets written after the crash use the staged key.
    await store.db.transaction().execute((tx) => afterCrash.put(tx, 'test/after-crash', 'after-crash-value'));
    values.set('test/after-crash', 'after-crash-value');
    expect((await secretRows()).find((r) => r.name === 'test/after-crash')?.key_id).toBe(next.id);

    const report = await afterCrash.rotateMasterKey();
    expect(report.previousKeyId).toBe(next.id);
    expect(report.rewrapped).toBe(values.size);
    const keyring = await keyringFile();
    expect(Object.keys(keyring.keys)).toEqual([report.keyId]);
    expect(new Set((await secretRows()).map((r) => r.key_id))).toEqual(new Set([report.keyId]));
    const final = await restarted();
    for (const [name, value] of values) expect(await final.get(name)).toBe(value);
    await store.db.transaction().execute((tx) => final.remove(tx, 'test/after-crash'));
  });

  it('a ciphertext copied into another secret row does not decrypt', async () => {
    const service = await restarted();
    const rows = await secretRows();
    const [a, b] = rows;
    if (!a || !b) throw new Error('need two secrets');
    const valueB = await service.get(b.name);
    // Move the whole sealed secret (data key and ciphertext) of a into b's row.
    await t.query(
      'update secrets set key_id = $2, wrapped_key = $3, ciphertext = $4 where id = $1',
      [b.id, a.key_id, a.wrapped_key, a.ciphertext],
      t.controlDatabase,
    );
    try {
      await expect(service.get(b.name)).rejects.toThrow();
      await expect(service.get(a.name)).resolves.toEqual(expect.any(String));
      // Only the ciphertext moved, under b's own data key: that fails too.
      await t.query(
        'update secrets set key_id = $2, wrapped_key = $3, ciphertext = $4 where id = $1',
        [b.id, b.key_id, b.wrapped_key, a.ciphertext],
        t.controlDatabase,
      );
      await expect(service.get(b.name)).rejects.toThrow();
    } finally {
      await t.query(
        'update secrets set key_id = $2, wrapped_key = $3, ciphertext = $4 where id = $1',
        [b.id, b.key_id, b.wrapped_key, b.ciphertext],
        t.controlDatabase,
      );
    }
    expect(await service.get(b.name)).toBe(valueB);
  });
});
