import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import {
  bootstrapControlDatabase,
  initCluster,
  replaceDatabase,
  startCluster,
  stopCluster,
  withCredentials,
  type LocalCluster,
} from '../../src/databases/local-cluster.ts';
import { withClient } from '../../src/databases/client.ts';
import { quoteIdent } from '../../src/databases/sql.ts';
import { fileKeyring } from '../../src/secrets/keyring.ts';
import { SecretService } from '../../src/secrets/service.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { freePort } from '../../src/system/ports.ts';
import type { BackupRequestView } from '../../src/backups/service.ts';
import type { TestSteward } from '../harness/steward.ts';

const appPassword = 'test-app-password';
export const clusterPassword = 'backup-test-superuser';

/**
 * A small cluster of the test file's own (archiving is turned on in it, never
 * in the harness's shared cluster), a control database cloned from the
 * migrated template, and a secret store.
 */
export interface BackupLab {
  readonly root: string;
  readonly cluster: LocalCluster;
  readonly store: ControlStore;
  readonly secrets: SecretService;
  readonly controlDatabase: string;
  readonly controlUrl: string;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<R[]>;
  close(): Promise<void>;
}

export async function startBackupLab(): Promise<BackupLab> {
  const root = await mkdtemp(join(tmpdir(), 'steward-bk-'));
  await chmod(root, 0o711);
  const cluster = await initCluster(
    { dir: join(root, 'pg'), port: await freePort(0), binDir: inject('pgBinDir'), unsafeFast: true },
    clusterPassword,
  );
  await startCluster(cluster);
  const sharedSuperuser = inject('pgSuperuserUrl');
  const controlDatabase = `ctl_bk_${randomBytes(3).toString('hex')}`;
  await bootstrapControlDatabase(sharedSuperuser, controlDatabase, appPassword, {
    template: 'steward_template',
  });
  const controlUrl = withCredentials(
    replaceDatabase(sharedSuperuser, controlDatabase),
    'steward_app',
    appPassword,
  );
  const store = openControlStore(controlUrl, { max: 4 });
  const keyring = fileKeyring(join(root, 'master.key'));
  const secrets = new SecretService(store.db, keyring, await keyring.load());
  const query: BackupLab['query'] = async (text, params) => {
    const client = new pg.Client({ connectionString: cluster.superuserUrl(clusterPassword) });
    await client.connect();
    try {
      return (await client.query(text, params)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    root,
    cluster,
    store,
    secrets,
    controlDatabase,
    controlUrl,
    query,
    async close() {
      await store.close();
      await stopCluster(cluster, 'immediate').catch(() => undefined);
      const admin = new pg.Client({ connectionString: sharedSuperuser });
      await admin.connect();
      await admin.query(`drop database if exists ${quoteIdent(controlDatabase)} with (force)`);
      await admin.end();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Waits until `probe` returns a truthy value, or fails with `what`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  timeoutMs = 30_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Requests a backup of a stage through the API and waits until it has ended; fails unless it succeeded. */
export async function backupNow(
  t: TestSteward,
  tenant: string,
  stage: string,
  body: { readonly type: string; readonly repo?: number } = { type: 'full', repo: 1 },
): Promise<BackupRequestView> {
  const requested = await t.request('POST', `/api/v1/tenants/${tenant}/stages/${stage}/backups`, body);
  if (requested.status !== 202) throw new Error(`backup request refused: ${requested.text}`);
  const done = await eventually(
    `the backup of ${tenant}/${stage}`,
    async () => {
      const view = (await t.request('GET', `/api/v1/backup-requests/${requested.body.id as string}`))
        .body as BackupRequestView;
      return view.status === 'succeeded' || view.status === 'failed' ? view : undefined;
    },
    120_000,
  );
  if (done.status !== 'succeeded') throw new Error(`backup of ${tenant}/${stage} failed: ${done.reason}`);
  return done;
}

/**
 * The harness's clusters run without full_page_writes (fast); a real one has them, and restores
 * of one database (--db-include) need them to replay other databases' changes onto zeroed files.
 */
export async function turnOnFullPageWrites(superuser: pg.ClientConfig): Promise<void> {
  await withClient(superuser, async (c) => {
    await c.query('alter system set full_page_writes = on');
    await c.query('select pg_reload_conf()');
    await c.query('checkpoint');
  });
}

/**
 * A point in time to restore to, between two rows: `before the target`
 * written more than a second after what came before (restore times are
 * whole seconds in places), then the time, then `after the target`.
 */
export async function betweenTwoRows(insert: (note: string) => Promise<unknown>): Promise<Date> {
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  await pause(1100);
  await insert('before the target');
  await pause(500);
  const target = new Date();
  await pause(500);
  await insert('after the target');
  return target;
}
