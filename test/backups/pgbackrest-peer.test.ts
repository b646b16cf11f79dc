import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { prepareStanza, runBackup } from '../../src/backups/index.ts';
import {
  initCluster,
  startCluster,
  stopCluster,
  type LocalCluster,
} from '../../src/databases/local-cluster.ts';
import { randomSecret } from '../../src/secrets/envelope.ts';
import { freePort } from '../../src/system/ports.ts';
import { startBackupLab, type BackupLab } from './support.ts';

/**
 * A dedicated stage's cluster already has a socket of its own (in its
 * directory, peer-authenticated): the same setup uses it instead of adding one.
 */
describe('pgBackRest on a cluster shaped like a dedicated stage (peer socket in its directory)', () => {
  let lab: BackupLab;
  let cluster: LocalCluster;

  beforeAll(async () => {
    lab = await startBackupLab();
    cluster = await initCluster(
      {
        dir: join(lab.root, 'dedicated'),
        port: await freePort(0),
        binDir: inject('pgBinDir'),
        superuserAccess: 'peer',
        unsafeFast: true,
      },
      randomSecret(24),
    );
    await startCluster(cluster);
  }, 120_000);

  afterAll(async () => {
    if (cluster) await stopCluster(cluster, 'immediate').catch(() => undefined);
    await lab?.close();
  });

  it('keeps the cluster socket and pg_hba as they are, and backs up through them', async () => {
    const hbaBefore = await readFile(join(cluster.dir, 'pg_hba.conf'), 'utf8');
    const prepared = await prepareStanza({
      db: lab.store.db,
      secrets: lab.secrets,
      cluster,
      stanza: 'solo-prod',
      stateDir: join(lab.root, 'backup-solo'),
      repositories: [
        { kind: 'path', path: join(lab.root, 'solo-repo1'), retention: { kind: 'time', days: 7 } },
        { kind: 'path', path: join(lab.root, 'solo-repo2'), retention: { kind: 'time', days: 7 } },
      ],
    });
    expect(prepared.restarted).toBe(true);
    const config = await readFile(prepared.configPath, 'utf8');
    expect(config).toContain(`pg1-socket-path=${cluster.dir}\n`);
    expect(await readFile(join(cluster.dir, 'pg_hba.conf'), 'utf8')).toBe(hbaBefore);
    await prepared.driver.check();
    const run = await runBackup(
      { db: lab.store.db, driver: prepared.driver },
      { type: 'full', repo: 2, timeoutMs: 120_000 },
    );
    expect(run).toMatchObject({ status: 'succeeded', cluster: 'solo-prod', repo: 2 });
    expect(run.sizeBytes).toBeGreaterThan(0);
  });
});
