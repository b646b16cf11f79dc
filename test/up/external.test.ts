import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiClient, ApiError } from '../../src/cli/client.ts';
import { readEnvironment } from '../../src/core/env.ts';
import { createLogger } from '../../src/core/logger.ts';
import {
  bootstrapControlDatabase,
  replaceDatabase,
  withCredentials,
} from '../../src/databases/local-cluster.ts';
import { up, type ClientFile, type RunningSteward } from '../../src/up.ts';
import { appPassword, dropTestInstance, testUidBase } from '../harness/steward.ts';

/**
 * `up` against an external control database (STEWARD_DATABASE_URL): no
 * cluster of its own, the API over HTTPS with Steward's CA, client.json for the CLI.
 */
describe('up with an external control database', () => {
  const superuserUrl = inject('pgSuperuserUrl');
  const id = randomBytes(3).toString('hex');
  const database = `ext_${id}`;
  const prefix = `x${id.slice(0, 5)}_`;
  let dataDir: string;
  let running: RunningSteward;
  let api: ApiClient;
  let client: ClientFile;
  const messages: string[] = [];

  beforeAll(async () => {
    await bootstrapControlDatabase(superuserUrl, database, appPassword, { template: 'steward_template' });
    dataDir = await mkdtemp(join(tmpdir(), 'steward-ext-'));
    await chmod(dataDir, 0o711);
    const adminUrl = replaceDatabase(superuserUrl, database);
    running = await up({
      dataDir,
      env: {
        ...readEnvironment({}),
        databaseUrl: withCredentials(adminUrl, 'steward_app', appPassword),
        databaseAdminUrl: adminUrl,
        sharedClusterUrl: superuserUrl,
      },
      overrides: {
        api: { port: 0 },
        instancePrefix: prefix,
        runtime: { uidBase: testUidBase(), uidCount: 1000 },
      },
      logger: createLogger('silent'),
      progress: (message) => messages.push(message),
    });
    client = JSON.parse(await readFile(running.clientFile, 'utf8')) as ClientFile;
    api = new ApiClient(client);
  });

  afterAll(async () => {
    await running?.stop();
    await dropTestInstance(superuserUrl, database, prefix);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('runs no cluster of its own and writes client.json with mode 0600', async () => {
    expect(running.cluster).toBeUndefined();
    expect((await stat(running.clientFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);
    // Every tenant's access log goes there: Steward's alone, like the key.
    expect((await stat(join(dataDir, 'steward.log'))).mode & 0o777).toBe(0o600);
    expect(running.firstOwner?.username).toBe('admin');
    expect(client.apiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('says how isolated stages are at start, and records it as evidence', async () => {
    expect(messages).toContain('isolation: full (a uid, a bubblewrap sandbox and nftables rules per stage)');
    const events = await api.get<{ events: { details: { level: string } }[] }>(
      '/api/v1/audit?action=system.isolation',
    );
    expect(events.events.map((e) => e.details.level)).toEqual(['full']);
  });

  it('serves the API over HTTPS that verifies against its CA, with a token from client.json', async () => {
    const created = await api.post<{ slug: string }>('/api/v1/tenants', { slug: 'ext', stages: ['prod'] });
    expect(created.slug).toBe('ext');
    const anonymous = new ApiClient({ apiUrl: client.apiUrl, ca: client.ca });
    await expect(anonymous.get('/api/v1/tenants')).rejects.toMatchObject({ status: 401 });
    const untrusted = new ApiClient({ apiUrl: client.apiUrl, token: client.token });
    await expect(untrusted.get('/api/v1/tenants')).rejects.toThrow(/certificate/);
  });

  it('refuses TLS older than 1.2', async () => {
    const port = Number(new URL(client.apiUrl).port);
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        ca: client.ca,
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
      });
      socket.on('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (error) => resolve(`refused: ${error.message}`));
    });
    expect(outcome).toMatch(/^refused/);
  });

  it('publishes its OpenAPI document', async () => {
    const doc = await api.get<{ openapi: string; paths: Record<string, unknown> }>('/api/openapi.json');
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/tenants',
        '/api/v1/tenants/{tenant}',
        '/api/v1/audit/verify',
        '/api/v1/auth/login',
      ]),
    );
  });

  it('answers an unknown route with the one error shape', async () => {
    const error = await api.get('/api/v1/nothing-here').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).body).toEqual({
      code: 'not_found',
      message: 'no API route GET /api/v1/nothing-here',
    });
  });

  it('refuses a second start on the same data dir while the first runs', async () => {
    await expect(
      up({
        dataDir,
        env: readEnvironment({}),
        overrides: { api: { port: 0 } },
        logger: createLogger('silent'),
      }),
    ).rejects.toThrow(/already in use by a running Steward \(pid \d+\)/);
  });
});
