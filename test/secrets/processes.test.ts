import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.ts';
import { replaceDatabase } from '../../src/databases/local-cluster.ts';
import { fileKeyring } from '../../src/secrets/keyring.ts';
import { SecretService } from '../../src/secrets/service.ts';
import { KeyringWatcher } from '../../src/secrets/watcher.ts';
import { openControlStore } from '../../src/store/db.ts';
import { createCa, issueServerCertificate } from '../../src/tls/ca.ts';
import { httpsFetch, within } from '../gateway/support.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

const stewardBin = resolve(import.meta.dirname, '../../bin/steward');

/**
 * Two Steward processes of one install: the test's Steward serves the API,
 * and a real `steward up --role gateway` process shares its control database
 * and data dir. A master key rotation in the first reaches the second at once.
 */
describe('a master key rotation reaches every Steward process', () => {
  let t: TestSteward;
  let gateway: ChildProcess | undefined;
  let port: number;
  let output = '';

  beforeAll(async () => {
    t = await startTestSteward({ workers: false });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STEWARD_DATABASE_URL: t.controlUrl,
      STEWARD_DATABASE_ADMIN_URL: replaceDatabase(t.superuserUrl, t.controlDatabase),
      STEWARD_SHARED_CLUSTER_URL: t.superuserUrl,
      HOME: t.dataDir,
    };
    const args = ['--data-dir', t.dataDir, '-o', 'json', 'up', '--role', 'gateway'];
    const child = spawn(stewardBin, [...args, '--gateway-port', '0', '--gateway-http-port', '0'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    gateway = child;
    port = await new Promise<number>((resolvePort, reject) => {
      child.stdout?.on('data', (c: Buffer) => {
        output += c.toString();
        const match = /"gatewayUrl": "https:\/\/[^:]+:(\d+)"/.exec(output);
        if (match) resolvePort(Number(match[1]));
      });
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      child.on('exit', (code) => reject(new Error(`gateway exited ${code}: ${output}`)));
    });
  }, 120_000);

  afterAll(async () => {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((r) => gateway?.once('exit', r));
      gateway.kill('SIGTERM');
      await exited;
    }
    await t?.close();
  });

  it('a gateway process serves a certificate sealed after a rotation in the API process, without a restart', async () => {
    const rotated = await t.request('POST', '/api/v1/secrets/rotate-master-key');
    expect(rotated.status, rotated.text).toBe(200);
    const keyId = (rotated.body as { keyId: string }).keyId;

    // The key of this certificate is sealed under the new master key only.
    const operatorCa = await createCa('Operator CA');
    const issued = await issueServerCertificate(operatorCa, ['shop.example.test']);
    const installed = await t.request('PUT', '/api/v1/certificates/shop.example.test', {
      cert: issued.chainPem,
      key: issued.keyPem,
    });
    expect(installed.status, installed.text).toBe(200);
    const keySecret = await t.query<{ key_id: string }>(
      "select key_id from secrets where name = 'tls-key/shop.example.test'",
      [],
      t.controlDatabase,
    );
    expect(keySecret.map((r) => r.key_id)).toEqual([keyId]);
    await within(
      1000,
      async () =>
        (await httpsFetch({ port, host: 'shop.example.test', ca: operatorCa.certPem })).issuer ===
        'Operator CA',
      'the operator certificate from the gateway process',
    );

    // The gateway process reloaded on the notification, not only when it met the new key.
    const log = await readFile(join(t.dataDir, 'steward.log'), 'utf8');
    expect(log).toMatch(new RegExp(`"to":"${keyId}".*"msg":"master key changed"`));
    const listening = await t.query(
      "select 1 from pg_stat_activity where datname = $1 and application_name = 'steward-gateway' and query = 'listen steward_keyring'",
      [t.controlDatabase],
    );
    expect(listening).toHaveLength(1);
  });

  it('a process with a keyring of its own (another machine) follows no rotation, and says why', async () => {
    const own = await mkdtemp(join(tmpdir(), 'steward-keyring-'));
    const store = openControlStore(t.controlUrl, { max: 2 });
    const lines: string[] = [];
    try {
      // A copy of the keyring as it is now, and one that is the install's own file.
      await copyFile(join(t.dataDir, 'master.key'), join(own, 'master.key'));
      const followers = await Promise.all(
        [join(own, 'master.key'), join(t.dataDir, 'master.key')].map(async (path) => {
          const keyring = fileKeyring(path);
          const secrets = new SecretService(store.db, keyring, await keyring.load());
          const watcher = new KeyringWatcher({
            secrets,
            pool: store.pool,
            logger: createLogger('info', { write: (line: string) => void lines.push(line) }),
          });
          await watcher.start();
          return { secrets, watcher };
        }),
      );
      try {
        const rotated = await t.request('POST', '/api/v1/secrets/rotate-master-key');
        expect(rotated.status, rotated.text).toBe(200);
        const keyId = (rotated.body as { keyId: string }).keyId;
        // No secret is read: the notification alone brings the new key.
        await within(1000, () => Promise.resolve(followers[1]?.secrets.activeKeyId === keyId), 'reloaded');
        await within(
          1000,
          () =>
            Promise.resolve(lines.some((l) => l.includes(`master key ${keyId} is active in this install`))),
          'the copy says it cannot follow',
        );
        expect(followers[0]?.secrets.activeKeyId).not.toBe(keyId);
      } finally {
        for (const follower of followers) await follower.watcher.stop();
      }
    } finally {
      await store.close();
      await rm(own, { recursive: true, force: true });
    }
  });
});
