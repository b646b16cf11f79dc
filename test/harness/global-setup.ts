import { existsSync } from 'node:fs';
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  bootstrapControlDatabase,
  findPostgresBinDir,
  initCluster,
  replaceDatabase,
  startCluster,
  stopCluster,
} from '../../src/databases/local-cluster.ts';
import { migrate } from '../../src/store/migrate.ts';
import { freePort } from '../../src/up.ts';
import { startSharedEtcd } from './patroni-etcd.ts';
import { buildConsole, consoleStale, defaultConsoleDist } from '../../src/console/build.ts';

/**
 * One PostgreSQL cluster for the whole run, with a migrated template control
 * database that each test file clones. Test files run in parallel and stay
 * apart by database name prefix.
 */
export const superuserPassword = 'test-superuser-password';
export const appPassword = 'test-app-password';

declare module 'vitest' {
  export interface ProvidedContext {
    pgPort: number;
    pgSuperuserUrl: string;
    pgBinDir: string;
    /** The console built once for the run (web/dist); empty when this checkout has no web/ sources. */
    consoleDist: string;
  }
}

/** The console, built once per run when its sources changed since the last build (steward up does the same). */
async function consoleForTheRun(): Promise<string> {
  if (await consoleStale()) await buildConsole();
  return existsSync(join(defaultConsoleDist, 'index.html')) ? defaultConsoleDist : '';
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Beside the cluster's start: the build is mostly one core's work.
  const consoleDist = consoleForTheRun();
  // Reported with its own message, not as an unhandled rejection while the cluster starts.
  consoleDist.catch(() => undefined);
  const root = await mkdtemp(join(tmpdir(), 'steward-test-pg-'));
  await chmod(root, 0o711);
  const binDir = findPostgresBinDir();
  const port = await freePort(0);
  const cluster = await initCluster(
    { dir: join(root, 'pg'), port, binDir, unsafeFast: true },
    superuserPassword,
  );
  await startCluster(cluster);
  const superuserUrl = cluster.superuserUrl(superuserPassword);
  await bootstrapControlDatabase(superuserUrl, 'steward_template', appPassword);
  await migrate(replaceDatabase(superuserUrl, 'steward_template'));
  project.provide('pgPort', port);
  project.provide('pgSuperuserUrl', superuserUrl);
  project.provide('pgBinDir', binDir);
  // The run's one etcd, for every file that starts Patroni (about 0.8 s to start, 20 MB).
  const etcd = await startSharedEtcd(root);
  project.provide('etcdUrl', etcd?.url ?? '');
  const teardown = async (): Promise<void> => {
    await etcd?.stop();
    await stopCluster(cluster, 'immediate');
    await rm(root, { recursive: true, force: true });
  };
  try {
    project.provide('consoleDist', await consoleDist);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
