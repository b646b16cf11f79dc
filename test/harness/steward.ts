import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { inject } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { parseConfig, type Config, type ConfigInput } from '../../src/core/config.ts';
import { createLogger } from '../../src/core/logger.ts';
import {
  bootstrapControlDatabase,
  initCluster,
  replaceDatabase,
  startCluster,
  stopCluster,
  withCredentials,
  type LocalCluster,
} from '../../src/databases/local-cluster.ts';
import { findPgBackRest } from '../../src/backups/pgbackrest/setup.ts';
import { prepareSharedArchiving } from '../../src/backups/stanzas.ts';
import { freePort } from '../../src/system/ports.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import { fileKeyring } from '../../src/secrets/keyring.ts';
import { Steward, type StewardOptions } from '../../src/steward.ts';
import type { Services } from '../../src/services.ts';
import type { Clock } from '../../src/core/clock.ts';
import { ensureCa } from '../../src/tls/ca.ts';

export const appPassword = 'test-app-password';

export interface TestSteward {
  readonly steward: Steward;
  readonly services: Services;
  readonly api: FastifyInstance;
  readonly config: Config;
  readonly dataDir: string;
  readonly controlDatabase: string;
  readonly prefix: string;
  /** The owner's API token. */
  readonly token: string;
  readonly superuserUrl: string;
  readonly controlUrl: string;
  /** With `sharedBackups`: Steward's own shared cluster, which archives and is backed up. */
  readonly sharedCluster: LocalCluster | undefined;
  /** The superuser URL of the cluster that holds shared-tier stages. */
  readonly sharedClusterUrl: string;
  /** Everything Steward logged, as text: tests grep it for secrets. */
  logs(): string;
  /** A superuser query against the shared cluster. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<R[]>;
  /** Sends a request through Fastify's inject with the owner token (or the one given). */
  request(
    method: string,
    url: string,
    body?: unknown,
    token?: string | null,
  ): Promise<{ status: number; body: any; text: string }>;
  waitForStages(slug: string, phase?: string, timeoutMs?: number): Promise<void>;
  /** A stage's database (and role) name, as the API shows it: opaque, not built from the slug. */
  database(slug: string, stage: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestStewardOptions {
  readonly config?: Partial<ConfigInput>;
  readonly clock?: Clock;
  readonly workers?: boolean;
  readonly runtimeTickMs?: number;
  /** Start another Steward on the control database, data dir and prefix of an earlier one (a restart). */
  readonly reuse?: TestSteward;
  /**
   * Give Steward a shared cluster of its own that it runs and backs up (WAL
   * archiving on), instead of the run's shared cluster, which never archives.
   * Needs `config.backups` (backups are off in tests unless a test sets them).
   */
  readonly sharedBackups?: boolean;
  readonly onBackupSucceeded?: StewardOptions['onBackupSucceeded'];
  /** S3 repository keys, as STEWARD_BACKUP_REPO<N>_S3_KEY… would give them. */
  readonly backupS3Keys?: StewardOptions['backupS3Keys'];
  /** Run the gateway too (on free ports, with a CA in the data dir), as `steward up` does. */
  readonly gateway?: boolean;
  /** The built console the API serves (default: the run's build, web/dist). */
  readonly consoleDist?: string;
}

export const sharedClusterPassword = 'test-shared-superuser';

/**
 * A Steward on a fresh control database cloned from the migrated template,
 * with a database-name prefix of its own, so test files run side by side.
 */
export async function startTestSteward(options: TestStewardOptions = {}): Promise<TestSteward> {
  const superuserUrl = inject('pgSuperuserUrl');
  const id = randomBytes(3).toString('hex');
  const prefix = options.reuse?.prefix ?? `t${id.slice(0, 5)}_`;
  const controlDatabase = options.reuse?.controlDatabase ?? `ctl_${id}`;
  let dataDir = options.reuse?.dataDir;
  if (!dataDir) {
    await bootstrapControlDatabase(superuserUrl, controlDatabase, appPassword, {
      template: 'steward_template',
    });
    // Short: a dedicated stage's scratch restores put sockets below it, and PostgreSQL allows 107 bytes.
    dataDir = await mkdtemp(join(tmpdir(), 'st-'));
    await chmod(dataDir, 0o711);
  }
  const config = parseConfig({
    dataDir,
    instancePrefix: prefix,
    api: { host: '127.0.0.1', port: 0 },
    logLevel: 'debug',
    resyncSeconds: 5,
    ...(options.gateway ? { gateway: { host: '127.0.0.1', port: 0, httpPort: 0 } } : {}),
    // A uid range of its own: the network rules of Stewards running side by side must not meet.
    runtime: options.reuse?.config.runtime ?? { uidBase: testUidBase(), uidCount: 1000 },
    // The run's one etcd (global-setup) for ha stages: a Steward never starts its own in tests.
    ...(inject('etcdUrl') ? { ha: { etcd: [inject('etcdUrl')] } } : {}),
    ...options.config,
    // A node of its own: Stewards of one test file (a restart beside the first, a gateway) are separate nodes.
    node: { name: `test-${id}`, ...options.config?.node },
    // Tests never archive or back up unless they ask to: most would only get slower.
    backups: options.config?.backups ?? { enabled: false },
  });
  let sharedCluster = options.reuse?.sharedCluster;
  if (options.sharedBackups && !sharedCluster) {
    sharedCluster = await initCluster(
      {
        dir: join(dataDir, 'shared-pg'),
        port: await freePort(0),
        binDir: inject('pgBinDir'),
        unsafeFast: true,
      },
      sharedClusterPassword,
    );
    // As steward up does: archiving is on from the first start, so Steward never restarts it.
    await prepareSharedArchiving(sharedCluster, dataDir, config.backups, findPgBackRest());
  }
  if (sharedCluster) await startCluster(sharedCluster);
  const sharedClusterUrl = sharedCluster ? sharedCluster.superuserUrl(sharedClusterPassword) : superuserUrl;
  const lines: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => void lines.push(line) });
  const adminUrl = replaceDatabase(superuserUrl, controlDatabase);
  const controlUrl = withCredentials(adminUrl, 'steward_app', appPassword);
  const steward = new Steward({
    config,
    controlUrl,
    adminUrl,
    sharedClusterUrl,
    ...(sharedCluster ? { sharedCluster } : {}),
    ...(options.onBackupSucceeded ? { onBackupSucceeded: options.onBackupSucceeded } : {}),
    ...(options.backupS3Keys ? { backupS3Keys: options.backupS3Keys } : {}),
    keyringStore: fileKeyring(join(dataDir, 'master.key')),
    logger,
    pgBinDir: inject('pgBinDir'),
    ...(options.runtimeTickMs ? { runtimeTickMs: options.runtimeTickMs } : {}),
    unsafeFastClusters: true,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.workers === false ? { workers: false } : {}),
    ...(options.gateway ? { gateway: { ca: await ensureCa(dataDir) } } : {}),
    ...(options.consoleDist ? { consoleDist: options.consoleDist } : {}),
  });
  await steward.start();
  const services = steward.services;
  await services.operators.bootstrapOwner();
  const token = (await services.operators.issueLocalToken()).token;
  const api = steward.api;

  const admin = new pg.Pool({ connectionString: superuserUrl, max: 3 });
  admin.on('error', () => undefined);
  const query: TestSteward['query'] = async (sql, params, database) => {
    if (!database) return (await admin.query(sql, params)).rows;
    const client = new pg.Client({ connectionString: replaceDatabase(superuserUrl, database) });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  };

  const request: TestSteward['request'] = async (method, url, body, useToken = token) => {
    const response = await api.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(useToken ? { authorization: `Bearer ${useToken}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.body);
    } catch {
      parsed = undefined;
    }
    return { status: response.statusCode, body: parsed, text: response.body };
  };

  const waitForStages: TestSteward['waitForStages'] = async (slug, phase = 'ready', timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await request('GET', `/api/v1/tenants/${slug}`);
      if (phase === 'gone' && res.status === 404) return;
      if (res.status === 200 && phase !== 'gone') {
        const stages = (res.body as { stages: { phase: string }[] }).stages;
        if (stages.length > 0 && stages.every((s) => s.phase === phase)) return;
      }
      if (Date.now() > deadline) throw new Error(`tenant ${slug} not ${phase} in time: ${res.text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const database: TestSteward['database'] = async (slug, stage) => {
    const res = await request('GET', `/api/v1/tenants/${slug}`);
    const found = (res.body as { stages?: { name: string; database: string }[] } | undefined)?.stages?.find(
      (s) => s.name === stage,
    );
    if (!found) throw new Error(`tenant ${slug} has no stage ${stage}: ${res.text}`);
    return found.database;
  };

  return {
    steward,
    services,
    api,
    config,
    dataDir,
    controlDatabase,
    prefix,
    token,
    superuserUrl,
    controlUrl,
    sharedCluster,
    sharedClusterUrl,
    logs: () => lines.join(''),
    query,
    request,
    waitForStages,
    database,
    async close() {
      await steward.stop();
      if (sharedCluster) await stopCluster(sharedCluster, 'immediate').catch(() => undefined);
      const leftovers = await admin.query<{ datname: string }>(
        'select datname from pg_database where datname like $1',
        [`${prefix.replace('_', '\\_')}%`],
      );
      for (const row of leftovers.rows)
        await admin.query(`drop database if exists ${quoteIdent(row.datname)} with (force)`);
      const roles = await admin.query<{ rolname: string }>(
        'select rolname from pg_roles where rolname like $1',
        [`${prefix.replace('_', '\\_')}%`],
      );
      for (const row of roles.rows) await admin.query(`drop role if exists ${quoteIdent(row.rolname)}`);
      await admin.query(`drop database if exists ${quoteIdent(controlDatabase)} with (force)`);
      await admin.end();
      // pgBackRest's asynchronous archive-push outlives the cluster it archives for by a moment
      // and may still write into its spool under the data dir: retried rather than racing it
      // (CI: ENOTEMPTY on …/spool/archive/shared). Node retries ENOTEMPTY, with a growing pause.
      await rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

/** A random uid range (1000 uids) far above any real user and Steward's default. */
export function testUidBase(): number {
  return 1_000_000 + randomInt(0, 1_000_000) * 1000;
}

export const silentLogger = pino({ level: 'silent' });

/** Drops a control database and every database and role with the prefix (for tests that run `up` themselves). */
export async function dropTestInstance(
  superuserUrl: string,
  controlDatabase: string,
  prefix: string,
): Promise<void> {
  const admin = new pg.Client({ connectionString: superuserUrl });
  await admin.connect();
  try {
    const like = `${prefix.replace('_', '\\_')}%`;
    const databases = await admin.query<{ datname: string }>(
      'select datname from pg_database where datname like $1',
      [like],
    );
    for (const row of databases.rows)
      await admin.query(`drop database if exists ${quoteIdent(row.datname)} with (force)`);
    const roles = await admin.query<{ rolname: string }>(
      'select rolname from pg_roles where rolname like $1',
      [like],
    );
    for (const row of roles.rows) await admin.query(`drop role if exists ${quoteIdent(row.rolname)}`);
    await admin.query(`drop database if exists ${quoteIdent(controlDatabase)} with (force)`);
  } finally {
    await admin.end();
  }
}
