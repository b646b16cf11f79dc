import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clientProgram } from '../../src/backups/restore/index.ts';
import { bootstrapControlDatabase, replaceDatabase } from '../../src/databases/local-cluster.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import { fileKeyring } from '../../src/secrets/keyring.ts';
import { SecretService } from '../../src/secrets/service.ts';
import { openControlStore } from '../../src/store/db.ts';
import { run } from '../../src/system/exec.ts';
import { cli, cliJson, makeDataDir } from '../cli/process.ts';
import { appPassword, startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * A point-in-time restore of the control database to before a master key
 * rotation brings back secrets wrapped by the key rotated out: that key is
 * kept (retired, in master.key) until an operator purges it after the longest
 * backup retention. The restore is a pg_dump taken before the rotation,
 * restored into a new control database after it.
 */
describe('retired master keys and a control database restored to before a rotation', () => {
  let t: TestSteward;
  let restored: TestSteward | undefined;
  let cliDir = '';
  const restoredDatabase = () => `${t.controlDatabase}_pitr`;
  const keyPath = () => join(t.dataDir, 'master.key');
  const credentials = '/api/v1/tenants/acme/stages/dev/credentials';

  /** pg_dump and pg_restore as the superuser; the password goes in the environment, not the arguments. */
  async function pg(program: 'pg_dump' | 'pg_restore', database: string, args: string[]): Promise<void> {
    const url = new URL(t.superuserUrl);
    const result = await run(clientProgram(inject('pgBinDir'), program), args, {
      env: {
        PGHOST: url.hostname,
        PGPORT: url.port,
        PGUSER: decodeURIComponent(url.username),
        PGPASSWORD: decodeURIComponent(url.password),
        PGDATABASE: database,
      },
    });
    if (result.code !== 0) throw new Error(`${program} exited ${result.code}: ${result.stderr}`);
  }

  beforeAll(async () => {
    t = await startTestSteward();
    expect((await t.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['dev'] })).status).toBe(201);
    await t.waitForStages('acme');
    // The CLI talks to this Steward's API with the owner's token.
    cliDir = await makeDataDir();
    const address = t.api.server.address();
    const apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    await writeFile(join(cliDir, 'client.json'), JSON.stringify({ apiUrl, token: t.token }), { mode: 0o600 });
  });
  afterAll(async () => {
    await restored?.steward.stop();
    await t.query(`drop database if exists ${quoteIdent(restoredDatabase())} with (force)`);
    await t.close();
    if (cliDir !== '') await rm(cliDir, { recursive: true, force: true });
  });

  it('reads a restored secret with the retired key; purging waits for the backup retention, then the key is gone', async () => {
    const before = await t.request('GET', credentials);
    expect(before.status, before.text).toBe(200);
    const dump = join(t.dataDir, 'control.dump');
    await pg('pg_dump', t.controlDatabase, ['-Fc', '-f', dump]);

    const rotated = await t.request('POST', '/api/v1/secrets/rotate-master-key');
    expect(rotated.status, rotated.text).toBe(200);
    const { previousKeyId, keyId } = rotated.body as { previousKeyId: string; keyId: string };
    // The control database as it was before the rotation, served by a Steward with today's keyring.
    await bootstrapControlDatabase(t.superuserUrl, restoredDatabase(), appPassword);
    await pg('pg_restore', restoredDatabase(), ['--exit-on-error', '-d', restoredDatabase(), dump]);
    const restoredKeys = await t.query<{ key_id: string }>(
      'select distinct key_id from secrets',
      [],
      restoredDatabase(),
    );
    expect(restoredKeys.map((r) => r.key_id)).toEqual([previousKeyId]);
    restored = await startTestSteward({
      reuse: { ...t, controlDatabase: restoredDatabase() },
      workers: false,
    });
    const after = await restored.request('GET', credentials);
    expect(after.status, after.text).toBe(200);
    expect(after.body.databaseUrl).toBe(before.body.databaseUrl);

    // The key rotated out is kept, sealed under the active key: it is not in the file in the clear.
    const file = JSON.parse(await readFile(keyPath(), 'utf8')) as {
      keys: Record<string, string>;
      retired: Record<string, { retiredAt: string; sealed: string }>;
    };
    expect(Object.keys(file.keys)).toEqual([keyId]);
    expect(Object.keys(file.retired)).toEqual([previousKeyId]);
    const previousKey = (await fileKeyring(keyPath()).load()).retired.get(previousKeyId)?.key.key;
    expect(previousKey?.length).toBe(32);
    expect(await readFile(keyPath(), 'utf8')).not.toContain(previousKey?.toString('base64'));

    // Too young to purge: refused, naming the key, when it retired and when it may go; nothing changes.
    const keyring = await readFile(keyPath(), 'utf8');
    const early = await t.request('POST', '/api/v1/secrets/purge-retired-keys');
    expect(early.status, early.text).toBe(409);
    const retiredAt = file.retired[previousKeyId]?.retiredAt ?? '';
    const purgeableAt = new Date(Date.parse(retiredAt) + 37 * 86_400_000).toISOString();
    expect(early.body.message).toContain(
      `${previousKeyId} (retired ${retiredAt}) may be purged from ${purgeableAt}`,
    );
    expect(early.body.message).toContain('37 days');
    expect(await readFile(keyPath(), 'utf8')).toBe(keyring);
    // The same through the CLI: it asks for --yes first, then prints the refusal.
    const unconfirmed = await cli(cliDir, ['secrets', 'purge-retired-keys']);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('pass --yes');
    const confirmed = await cli(cliDir, ['secrets', 'purge-retired-keys', '--yes']);
    expect(confirmed.code).toBe(1);
    expect(confirmed.stderr).toContain(`${previousKeyId} (retired ${retiredAt}) may be purged from`);
    const shown = await cli(cliDir, ['secrets', 'keys']);
    expect(shown.stdout).toContain(`active master key ${keyId}; retired keys are kept 37 days`);
    expect(shown.stdout).toMatch(new RegExp(`${previousKeyId}\\s+${retiredAt}\\s+${purgeableAt}`));
    expect(await readFile(keyPath(), 'utf8')).toBe(keyring);
    const listed = await t.request('GET', '/api/v1/secrets/master-keys');
    expect(listed.body).toEqual({
      activeKeyId: keyId,
      retentionDays: 37,
      keys: [{ id: previousKeyId, retiredAt, purgeableAt }],
    });

    // Retention has passed (the retirement is moved back, as time would), but the restored database still uses the key.
    const store = fileKeyring(keyPath());
    const aged = await store.load();
    const old = aged.retired.get(previousKeyId);
    if (!old) throw new Error('the retired key is missing');
    const oldRetirement = new Date(Date.now() - 40 * 86_400_000);
    await store.save({ ...aged, retired: new Map([[previousKeyId, { ...old, retiredAt: oldRetirement }]]) });
    // A tenant keeping monthly backups for two months makes the window 62 days: still too young.
    const policy = '/api/v1/tenants/acme/backup-policy';
    expect((await t.request('PUT', policy, { keepMonthly: 2 })).status).toBe(200);
    const monthly = await t.request('POST', '/api/v1/secrets/purge-retired-keys');
    expect(monthly.status, monthly.text).toBe(409);
    expect(monthly.body.message).toContain('(62 days)');
    expect((await t.request('PUT', policy, { keepMonthly: null })).status).toBe(200);
    const inUse = await restored.request('POST', '/api/v1/secrets/purge-retired-keys');
    expect(inUse.status, inUse.text).toBe(409);
    expect(inUse.body.message).toMatch(
      new RegExp(`retired master key ${previousKeyId} still wraps \\d+ secrets.*rotate-master-key`),
    );

    // From the control database that no longer uses it: purged, and audited.
    const purged = await cliJson<{ purged: { id: string }[] }>(cliDir, [
      'secrets',
      'purge-retired-keys',
      '--yes',
    ]);
    expect(purged.purged.map((k) => k.id)).toEqual([previousKeyId]);
    expect(Object.keys(JSON.parse(await readFile(keyPath(), 'utf8')).retired ?? {})).toEqual([]);
    const audit = await t.request('GET', '/api/v1/audit?action=secrets.purge-retired-keys');
    expect(audit.text).toContain(previousKeyId);
    expect((await t.request('GET', credentials)).status).toBe(200);

    // A process that starts on the restored database now cannot open its secrets, and says why.
    const restoredStore = openControlStore(replaceDatabase(t.controlUrl, restoredDatabase()), { max: 1 });
    try {
      const fresh = new SecretService(restoredStore.db, store, await store.load());
      const name = (
        await t.query<{ name: string }>('select name from secrets limit 1', [], restoredDatabase())
      )[0]?.name;
      await expect(fresh.get(name ?? '')).rejects.toThrow(
        new RegExp(
          `master key ${previousKeyId}, which is in neither the keyring's active nor its retired keys`,
        ),
      );
    } finally {
      await restoredStore.close();
    }
  }, 120_000);
});
