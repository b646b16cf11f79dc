import { existsSync, realpathSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { InputError, UnavailableError } from '../core/errors.ts';
import { bootstrapControlDatabase } from '../databases/local-cluster.ts';
import { RuntimeApi } from '../dataplane/runtime-api.ts';
import { DatabaseRouter } from '../databases/patroni/router.ts';
import type { PatroniSettings } from '../databases/patroni/settings.ts';
import { randomSecret } from '../secrets/envelope.ts';
import { fileKeyring } from '../secrets/keyring.ts';
import { ensureCa } from '../tls/ca.ts';
import { postgresRunAs } from '../system/exec.ts';
import { controlScope, thisNode, type ApplianceNode, type ApplianceSettings } from './config.ts';
import { logTail, startDaemon, stopDaemon, type DaemonSpec } from '../databases/patroni/daemon.ts';
import {
  controlRoute,
  controlUrls,
  etcdArgs,
  nodeDirs,
  patroniConfig,
  type ControlCredentials,
} from './plan.ts';

/** The passwords of the control cluster: one file, the same on every node. */
export const secretsFileName = 'appliance-secrets.json';

export interface LaunchOptions {
  readonly appliance: ApplianceSettings;
  readonly dataDir: string;
  /** PostgreSQL's bin directory. */
  readonly binDir: string;
  readonly progress?: (message: string) => void;
  /** fsync off in the control cluster: tests only. */
  readonly unsafeFast?: boolean;
  readonly haproxyBinary?: string;
  /** Patroni's timing and the router's health checks (config ha.tuning), as for the ha tier's clusters. */
  readonly tuning: PatroniSettings;
  /** How long to wait for this node's member to run (default 30 s; then Steward starts anyway). */
  readonly memberTimeoutMs?: number;
  /** How long to wait for the control cluster to have a primary (default 120 s). */
  readonly primaryTimeoutMs?: number;
}

export interface LaunchedNode {
  readonly superuserUrl: string;
  readonly adminUrl: string;
  readonly controlUrl: string;
  /** Stops this node's router, Patroni member and etcd member (a clean stop: Patroni hands over the leader key first). */
  stop(): Promise<void>;
}

/**
 * `steward appliance init`: the files every node of one appliance shares,
 * made once on one node and copied to the others: the control cluster's
 * passwords, the master key and the CA (so that a client trusts every node).
 */
export async function initApplianceSecrets(dataDir: string): Promise<string[]> {
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  const path = join(dataDir, secretsFileName);
  if (!existsSync(path)) {
    const credentials: ControlCredentials = {
      superuserPassword: randomSecret(24),
      replicationPassword: randomSecret(24),
      appPassword: randomSecret(24),
      restPassword: randomSecret(24),
    };
    await writeFile(path, `${JSON.stringify(credentials)}\n`, { mode: 0o600, flag: 'wx' });
  }
  await fileKeyring(join(dataDir, 'master.key')).load();
  await ensureCa(dataDir);
  return [secretsFileName, 'master.key', 'ca.pem', 'ca.key'];
}

export async function readApplianceSecrets(dataDir: string): Promise<ControlCredentials> {
  const path = join(dataDir, secretsFileName);
  let parsed: Partial<ControlCredentials>;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<ControlCredentials>;
  } catch {
    throw new InputError(
      `${path} is missing or not JSON: run "steward appliance init" on one node and copy its ${secretsFileName}, master.key, ca.pem and ca.key to every node's data dir`,
      { field: secretsFileName },
    );
  }
  for (const key of ['superuserPassword', 'replicationPassword', 'appPassword', 'restPassword'] as const) {
    if (typeof parsed[key] !== 'string' || parsed[key].length < 16) {
      throw new InputError(`${path}: ${key} is missing or shorter than 16 characters`, {
        field: `${secretsFileName}.${key}`,
      });
    }
  }
  return parsed as ControlCredentials;
}

/** This node's etcd member and Patroni member as detached processes. */
export function memberProcesses(
  appliance: ApplianceSettings,
  dataDir: string,
): { etcd: DaemonSpec; patroni: DaemonSpec } {
  const dirs = nodeDirs(dataDir);
  const patroniFile = join(dirs.patroni, 'patroni.yaml');
  return {
    etcd: {
      binary: '/usr/bin/etcd',
      args: etcdArgs(appliance, dataDir),
      pidFile: join(dataDir, 'etcd.pid'),
      logFile: join(dataDir, 'etcd.log'),
      cwd: dataDir,
    },
    patroni: {
      binary: '/usr/bin/patroni',
      args: [patroniFile],
      pidFile: join(dataDir, 'patroni.pid'),
      logFile: join(dirs.patroni, 'patroni.out'),
      cwd: dirs.patroni,
      user: postgresRunAs(),
    },
  };
}

/**
 * Brings this node's part of the appliance up, in order: its etcd member
 * (the three form one etcd), its Patroni member of the control cluster, its
 * router; then it waits for a primary and makes the control database and
 * its roles (idempotent, under an advisory lock, as for the embedded
 * cluster). Every step adopts what a killed Steward left running, so a rerun
 * after a kill -9 is the same as the first run. Migrations come after, in
 * Steward.start() (they take their own advisory lock).
 */
export async function launchNode(options: LaunchOptions): Promise<LaunchedNode> {
  const { appliance, dataDir } = options;
  const progress = options.progress ?? (() => undefined);
  const node = thisNode(appliance);
  const credentials = await readApplianceSecrets(dataDir);
  const dirs = nodeDirs(dataDir);
  const procs = memberProcesses(appliance, dataDir);
  const runAs = procs.patroni.user;

  await mkdir(dirs.etcd, { recursive: true, mode: 0o700 });
  const etcd = await startDaemon(procs.etcd);
  progress(
    `etcd member ${node.name} ${etcd.adopted ? 'already running: adopted' : 'started'} (pid ${etcd.pid})`,
  );

  await mkdir(dirs.patroni, { recursive: true, mode: 0o700 });
  const configFile = procs.patroni.args[0] as string;
  await writeFile(
    configFile,
    patroniConfig(appliance, dataDir, credentials, {
      // Patroni needs every server binary (pg_controldata, pg_rewind): the directory initdb really lives in.
      binDir: dirname(realpathSync(join(options.binDir, 'initdb'))),
      ...(options.unsafeFast ? { unsafeFast: true } : {}),
      settings: options.tuning,
    }),
    { mode: 0o600 },
  );
  await chmod(configFile, 0o600);
  if (runAs) {
    await chown(dirs.patroni, runAs.uid, runAs.gid);
    await chown(configFile, runAs.uid, runAs.gid);
  }
  const patroni = await startDaemon(procs.patroni);
  progress(
    `Patroni member ${node.name} of the control database ${patroni.adopted ? 'already running: adopted' : 'started'} (pid ${patroni.pid})`,
  );

  // The node's one database router (the ha tier's, src/databases/patroni/router.ts): the control database
  // is its static entry; the ha stages' entries join it once Steward runs (Steward's routerEntries).
  const dir = routerDir(dataDir);
  const router = new DatabaseRouter({
    dir,
    settings: options.tuning,
    ...(options.haproxyBinary ? { binary: options.haproxyBinary } : {}),
  });
  await router.sync([controlRoute(appliance)]);
  progress(`database router on 127.0.0.1:${node.routerPort}`);

  const urls = controlUrls(appliance, credentials);
  // A router starts with every server up until its first checks: only one up means they have run.
  const oneUp = async (): Promise<boolean> => {
    const rows = await new RuntimeApi(join(dir, 'admin.sock'))
      .showStat('servers', `ha_${controlScope}`)
      .catch(() => []);
    return rows.filter((row) => row.fields.status?.startsWith('UP')).length === 1;
  };
  await waitForPrimary(urls.superuserUrl, options.primaryTimeoutMs ?? 120_000, oneUp, async () =>
    [await logTail(procs.patroni), await logTail({ logFile: join(dirs.patroni, 'patroni.log') })].join(' | '),
  );
  progress('the control database has a primary');
  await bootstrapControlDatabase(urls.superuserUrl, 'steward', credentials.appPassword);
  // This node's own member is the one it can lose next: wait (30 s at most) until it runs, cloned and streaming.
  const state = await ownMemberState(node, options.memberTimeoutMs ?? 30_000);
  progress(
    state === 'running' || state === 'streaming'
      ? `Patroni member ${node.name}: ${state}`
      : `Patroni member ${node.name} is ${state} after the wait: Steward starts anyway (its router leads to the primary)`,
  );
  return {
    ...urls,
    stop: () => stopNode(procs, router),
  };
}

async function stopNode(procs: ReturnType<typeof memberProcesses>, router: DatabaseRouter): Promise<void> {
  // Patroni first: on SIGTERM it stops PostgreSQL and gives up the leader key, so a replica takes over at once.
  await stopDaemon(procs.patroni, 60_000);
  await router.stop();
  await stopDaemon(procs.etcd, 10_000);
}

/** The state Patroni reports for this node's member (running, streaming, creating replica, …), once it runs or at the deadline. */
async function ownMemberState(node: ApplianceNode, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const host = node.host.includes(':') ? `[${node.host}]` : node.host;
  let state = 'unknown';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${host}:${node.patroniPort}/patroni`, {
        signal: AbortSignal.timeout(1000),
      });
      state = ((await res.json()) as { state?: string }).state ?? 'unknown';
      if (state === 'running' || state === 'streaming') return state;
    } catch {
      state = 'not answering';
    }
    await sleep(250);
  }
  return state;
}

/** The ha tier's router directory (HaTier's, src/databases/patroni/tier.ts): one router per node. */
export function routerDir(dataDir: string): string {
  return join(dataDir, 'ha', 'router');
}

/** Waits until the router leads to a writable primary. */
export async function waitForPrimary(
  superuserUrl: string,
  timeoutMs: number,
  routerSettled: () => Promise<boolean>,
  why: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!(await routerSettled())) {
      last = 'the router does not lead to exactly one member yet';
      await sleep(250);
      continue;
    }
    const client = new pg.Client({ connectionString: superuserUrl, connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const result = await client.query<{ recovery: boolean }>('select pg_is_in_recovery() as recovery');
      if (result.rows[0]?.recovery === false) return;
      last = 'the router leads to a standby';
    } catch (error) {
      last = (error as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(250);
  }
  throw new UnavailableError(
    `the control database has no primary after ${Math.round(timeoutMs / 1000)} s (${last}); Patroni says: ${await why()}`,
  );
}
