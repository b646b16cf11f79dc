import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import { parseConfig, type Config } from './core/config.ts';
import type { Environment } from './core/env.ts';
import { InputError } from './core/errors.ts';
import { createLogger } from './core/logger.ts';
import {
  bootstrapControlDatabase,
  findPostgresBinDir,
  initCluster,
  isInitialised,
  readClusterPort,
  replaceDatabase,
  setClusterPort,
  startCluster,
  stopCluster,
  withCredentials,
  type LocalCluster,
} from './databases/local-cluster.ts';
import { randomSecret } from './secrets/envelope.ts';
import { environmentKeyring, fileKeyring } from './secrets/keyring.ts';
import { Steward, type StewardRole } from './steward.ts';
import { checkHaproxyInstalled } from './dataplane/index.ts';
import { describeIsolation } from './runtime/sandbox/index.ts';
import { setUpDemo, type DemoResult } from './demo.ts';
import { acquirePidLock } from './system/lockfile.ts';
import { freePort } from './system/ports.ts';

export { freePort };
import { ensureCa, issueServerCertificate } from './tls/ca.ts';
import { buildConsole, consoleStale } from './console/index.ts';
import { findPgBackRest } from './backups/pgbackrest/setup.ts';
import { prepareSharedArchiving } from './backups/stanzas.ts';
import {
  controlMemberRoles,
  controlRoute,
  launchNode,
  nodeConfig,
  type ApplianceSettings,
} from './appliance/index.ts';

export interface UpOptions {
  readonly dataDir: string;
  readonly env: Environment;
  /** Settings from the command line; they win over steward.yaml in the data dir. */
  readonly overrides?: Partial<Record<string, unknown>>;
  readonly progress?: (message: string) => void;
  /** On the first start, register the sample app and run tenant `demo` with it (what `npm start` does). */
  readonly demo?: boolean;
  /** Where logs go besides <data-dir>/steward.log; defaults to stderr at warn. */
  readonly logger?: Logger;
  /**
   * `gateway`: only the data plane (HAProxy and its controller), against the
   * control database of a Steward that runs elsewhere (STEWARD_DATABASE_URL)
   * or in this data dir. Several may run at once, each with a data dir of its
   * own (its HAProxy's files live there).
   */
  readonly role?: StewardRole;
  /** HAProxy's binary (default /usr/sbin/haproxy). */
  readonly haproxyBinary?: string;
}

export interface ClientFile {
  readonly apiUrl: string;
  readonly ca: string;
  readonly token: string;
}

export interface RunningSteward {
  readonly steward: Steward;
  readonly config: Config;
  /** Empty in the gateway role, which serves no API. */
  readonly apiUrl: string;
  /** The data plane's URL for the base domain (https://localhost:8443), when it runs. */
  readonly gatewayUrl: string | undefined;
  /** The web console through the data plane (https://console.localhost:8443/), when it runs. */
  readonly consoleUrl: string | undefined;
  readonly caPem: string;
  readonly clientFile: string;
  /** Set only on the first start: the first owner's one-time password. */
  readonly firstOwner: { username: string; password: string } | undefined;
  /** The demo tenant's stage URLs, when this start set it up. */
  readonly demo: DemoResult | undefined;
  readonly cluster: LocalCluster | undefined;
  stop(): Promise<void>;
}

interface EmbeddedCredentials {
  readonly superuserPassword: string;
  readonly appPassword: string;
}

/**
 * `steward up`: everything on one machine. Runs its own PostgreSQL under the
 * data dir unless STEWARD_DATABASE_URL names a control database elsewhere.
 */
export async function up(options: UpOptions): Promise<RunningSteward> {
  const progress = options.progress ?? (() => undefined);
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  // PostgreSQL (another user) must pass through the data dir to reach its own directory.
  await chmod(dataDir, 0o711);
  const role = options.role ?? 'all';
  // A gateway holds no state of the control plane: its data plane's files take their own lock (dataplane/).
  const releasers: (() => Promise<void>)[] =
    role === 'gateway' ? [] : [await acquirePidLock(join(dataDir, 'steward.pid'), `data dir ${dataDir}`)];
  const releaseAll = async (): Promise<void> => {
    for (const release of releasers.reverse()) await release().catch(() => undefined);
  };
  try {
    const config = nodeConfig(await loadConfig(dataDir, options));
    // Before anything starts: every role runs HAProxy as its data plane.
    checkHaproxyInstalled(options.haproxyBinary);
    // Every tenant's access log is in steward.log: Steward's alone, whatever the umask.
    const stewardLog = join(dataDir, 'steward.log');
    await writeFile(stewardLog, '', { flag: 'a', mode: 0o600 });
    await chmod(stewardLog, 0o600);
    const anyPortIfTaken = await defaultedGatewayPorts(dataDir, options);
    const logger =
      options.logger ??
      createLogger(
        config.logLevel,
        pino.multistream([
          {
            level: config.logLevel,
            stream: pino.destination({ dest: stewardLog, mkdir: true, sync: false }),
          },
          { level: 'warn', stream: process.stderr },
        ]),
      );
    const keyringStore = options.env.masterKey
      ? environmentKeyring(options.env.masterKey)
      : fileKeyring(join(dataDir, 'master.key'));

    let controlUrl: string;
    let adminUrl: string;
    let sharedClusterUrl: string;
    let cluster: LocalCluster | undefined;
    if (config.appliance) {
      if (options.env.databaseUrl || role === 'gateway') {
        throw new InputError(
          'config field appliance: a node of the appliance runs its own member of the control database: unset STEWARD_DATABASE_URL and --role gateway',
          { field: 'appliance' },
        );
      }
      const node = await launchNode({
        appliance: config.appliance,
        dataDir,
        binDir: findPostgresBinDir(options.env.pgBinDir),
        progress,
        unsafeFast: config.appliance.unsafeNoFsync,
        tuning: config.ha.tuning,
        ...(options.haproxyBinary ? { haproxyBinary: options.haproxyBinary } : {}),
      });
      releasers.push(() => node.stop());
      controlUrl = node.controlUrl;
      adminUrl = node.adminUrl;
      // Shared-tier stages live in the control database's cluster, as with the embedded one: they fail over with it.
      sharedClusterUrl = node.superuserUrl;
    } else if (options.env.databaseUrl) {
      controlUrl = options.env.databaseUrl;
      adminUrl = options.env.databaseAdminUrl ?? controlUrl;
      if (!options.env.sharedClusterUrl) {
        throw new InputError(
          'STEWARD_DATABASE_URL is set, so Steward does not run its own cluster: set STEWARD_SHARED_CLUSTER_URL to a superuser connection of the cluster that holds shared-tier stages',
          { field: 'STEWARD_SHARED_CLUSTER_URL' },
        );
      }
      sharedClusterUrl = options.env.sharedClusterUrl;
    } else if (role === 'gateway') {
      // The Steward of this data dir runs the cluster; a gateway only connects to it.
      const pgDir = join(dataDir, 'pg');
      const port = await readClusterPort(pgDir);
      if (!(await isInitialised(pgDir)) || port === undefined) {
        throw new InputError(
          `no Steward has run in ${dataDir}: start "steward up" there first, or set STEWARD_DATABASE_URL to the control database`,
          { field: 'dataDir' },
        );
      }
      const credentials = await embeddedCredentials(dataDir);
      const superuserUrl = `postgres://postgres:${encodeURIComponent(credentials.superuserPassword)}@127.0.0.1:${port}/postgres`;
      adminUrl = replaceDatabase(superuserUrl, 'steward');
      controlUrl = withCredentials(adminUrl, 'steward_app', credentials.appPassword);
      sharedClusterUrl = superuserUrl;
    } else {
      const credentials = await embeddedCredentials(dataDir);
      const pgDir = join(dataDir, 'pg');
      const binDir = findPostgresBinDir(options.env.pgBinDir);
      const configuredPort = await readClusterPort(pgDir);
      if (!(await isInitialised(pgDir))) progress(`initialising the PostgreSQL cluster in ${pgDir}`);
      cluster = await initCluster(
        { dir: pgDir, port: configuredPort ?? (await freePort(54320)), binDir },
        credentials.superuserPassword,
      );
      if (config.backups.enabled) await archiveFromTheStart(cluster, dataDir, config, logger);
      const started = await startNewOrAdopt(cluster, configuredPort === undefined);
      cluster = started.cluster;
      progress(
        started.how === 'adopted'
          ? `PostgreSQL already running on port ${cluster.port}: adopted`
          : `PostgreSQL started on 127.0.0.1:${cluster.port}`,
      );
      const startedCluster = cluster;
      releasers.push(async () => {
        progress('stopping PostgreSQL');
        await stopCluster(startedCluster);
      });
      const superuserUrl = cluster.superuserUrl(credentials.superuserPassword);
      await bootstrapControlDatabase(superuserUrl, 'steward', credentials.appPassword);
      adminUrl = replaceDatabase(superuserUrl, 'steward');
      controlUrl = withCredentials(adminUrl, 'steward_app', credentials.appPassword);
      sharedClusterUrl = superuserUrl;
    }

    const ca = await ensureCa(dataDir);
    const names = [...new Set([config.api.host, '127.0.0.1', 'localhost', hostname()])];
    const serverCert = await issueServerCertificate(ca, names);
    const steward = new Steward({
      config,
      controlUrl,
      adminUrl,
      sharedClusterUrl,
      // Steward backs up the cluster it runs itself; one it only has a URL for is someone else's.
      sharedCluster: cluster,
      // The control database lives in the same cluster: Steward restarts it when it dies.
      controlCluster: cluster,
      backupS3Keys: options.env.backupS3Keys,
      smtpCredentials: { user: options.env.smtpUser, password: options.env.smtpPassword },
      keyringStore,
      logger,
      pgBinDir: options.env.pgBinDir,
      tls: { key: serverCert.keyPem, cert: serverCert.chainPem },
      gateway: {
        ca,
        anyPortIfTaken,
        ...(options.haproxyBinary ? { haproxyBinary: options.haproxyBinary } : {}),
      },
      role,
      // The node's router keeps leading to the control database when it also routes ha stages.
      ...(config.appliance
        ? { routerEntries: () => [controlRoute(config.appliance as ApplianceSettings)] }
        : {}),
    });
    releasers.push(() => steward.stop());
    if (role === 'gateway') {
      progress('starting the data plane (HAProxy)');
      await steward.start();
      let stopping: Promise<void> | undefined;
      return {
        steward,
        config,
        apiUrl: '',
        gatewayUrl: steward.gatewayAddress?.url,
        // The console through this gateway, to a live API node (console/api-upstream.ts).
        consoleUrl: steward.consoleUrl,
        caPem: ca.certPem,
        clientFile: join(dataDir, 'client.json'),
        firstOwner: undefined,
        demo: undefined,
        cluster: undefined,
        stop: () => (stopping ??= releaseAll()),
      };
    }
    await buildConsoleIfStale(progress);
    progress('migrating the control database and starting the API');
    await steward.start();
    if (config.appliance) steward.services.nodes.useMemberRoles(controlMemberRoles(config.appliance));
    const master = steward.dataPlane?.haproxyMaster;
    if (master) {
      progress(
        master.adopted
          ? `HAProxy already running (pid ${master.pid}): adopted, its connections kept`
          : `HAProxy started (pid ${master.pid}): the data plane`,
      );
    }
    progress(describeIsolation(steward.services.isolation));
    const address = steward.api.server.address();
    const port = typeof address === 'object' && address ? address.port : config.api.port;
    const host = config.api.host === '0.0.0.0' ? '127.0.0.1' : config.api.host;
    const apiUrl = `https://${host}:${port}`;

    const firstOwner = await steward.services.operators.bootstrapOwner();
    const localToken = await steward.services.operators.issueLocalToken(
      'admin',
      steward.cluster.node?.holder.node,
    );
    let demo: DemoResult | undefined;
    if (options.demo && firstOwner) {
      try {
        demo = await setUpDemo(steward.services, progress);
      } catch (error) {
        // The demo is a convenience: Steward itself runs without it.
        progress(`demo: not set up: ${(error as Error).message}`);
      }
    }
    const clientFile = join(dataDir, 'client.json');
    const client: ClientFile = { apiUrl, ca: ca.certPem, token: localToken.token };
    await writeFile(clientFile, `${JSON.stringify(client, null, 2)}\n`, { mode: 0o600 });
    await chmod(clientFile, 0o600);

    let stopping: Promise<void> | undefined;
    return {
      steward,
      config,
      apiUrl,
      gatewayUrl: steward.gatewayAddress?.url,
      consoleUrl: steward.consoleUrl,
      caPem: ca.certPem,
      clientFile,
      firstOwner,
      demo,
      cluster,
      stop: () => (stopping ??= releaseAll()),
    };
  } catch (error) {
    await releaseAll();
    throw error;
  }
}

/**
 * The console from this checkout's web/ when web/dist is missing or older
 * than its sources. A failed build leaves Steward running without the
 * console (the API and the CLI need none), and says why.
 */
async function buildConsoleIfStale(progress: (message: string) => void): Promise<void> {
  if (!(await consoleStale())) return;
  progress('building the console (vite build of web/ into web/dist)');
  const started = Date.now();
  try {
    const built = await buildConsole();
    progress(`console built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${built.dist}`);
  } catch (error) {
    progress(`console: not built, Steward runs without it: ${(error as Error).message}`);
  }
}

/**
 * The embedded cluster archives WAL from its first start: its archiving
 * settings are written while it is stopped, so it is never restarted for them
 * (it holds Steward's own control database). Without pgBackRest on the
 * machine Steward runs without physical backups, and says so.
 */
async function archiveFromTheStart(
  cluster: LocalCluster,
  dataDir: string,
  config: Config,
  logger: Logger,
): Promise<void> {
  let bin: string;
  try {
    bin = findPgBackRest();
  } catch (error) {
    logger.warn({ err: (error as Error).message }, 'physical backups are unavailable');
    return;
  }
  await prepareSharedArchiving(cluster, dataDir, config.backups, bin);
}

async function loadConfig(dataDir: string, options: UpOptions): Promise<Config> {
  const file = join(dataDir, 'steward.yaml');
  let fromFile: Record<string, unknown> = {};
  if (existsSync(file)) {
    const parsed: unknown = parseYaml(await readFile(file, 'utf8'));
    if (parsed !== null && typeof parsed === 'object') fromFile = parsed as Record<string, unknown>;
  }
  const merged: Record<string, unknown> = { ...fromFile, ...(options.overrides ?? {}), dataDir };
  if (options.env.logLevel && merged.logLevel === undefined) merged.logLevel = options.env.logLevel;
  return parseConfig(merged);
}

/**
 * Which gateway ports steward.yaml and the command line leave to their
 * defaults (8443, 8080): those may move to free ports when taken (several
 * Stewards on one machine, tests). Ports that were asked for fail loudly.
 */
async function defaultedGatewayPorts(
  dataDir: string,
  options: UpOptions,
): Promise<{ port: boolean; httpPort: boolean }> {
  const given = (options.overrides?.gateway ?? {}) as { port?: unknown; httpPort?: unknown };
  const file = join(dataDir, 'steward.yaml');
  let fromFile: { port?: unknown; httpPort?: unknown } = {};
  if (existsSync(file)) {
    const parsed = parseYaml(await readFile(file, 'utf8')) as { gateway?: typeof fromFile } | null;
    fromFile = parsed?.gateway ?? {};
  }
  return {
    port: given.port === undefined && fromFile.port === undefined,
    httpPort: given.httpPort === undefined && fromFile.httpPort === undefined,
  };
}

async function embeddedCredentials(dataDir: string): Promise<EmbeddedCredentials> {
  const path = join(dataDir, 'pg-credentials.json');
  if (existsSync(path)) return JSON.parse(await readFile(path, 'utf8')) as EmbeddedCredentials;
  const credentials: EmbeddedCredentials = {
    superuserPassword: randomSecret(24),
    appPassword: randomSecret(24),
  };
  await writeFile(path, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  return credentials;
}

/**
 * Starts the cluster or adopts a running one. A port Steward picked itself can
 * be taken by someone else while initdb runs (two first starts at once): then
 * it picks another and tries again. A port from an earlier start is kept.
 */
async function startNewOrAdopt(
  cluster: LocalCluster,
  portIsOurs: boolean,
): Promise<{ cluster: LocalCluster; how: 'started' | 'adopted' }> {
  let current = cluster;
  for (let attempt = 1; ; attempt++) {
    try {
      return { cluster: current, how: await startCluster(current) };
    } catch (error) {
      const taken = (await freePort(current.port)) !== current.port;
      if (!portIsOurs || !taken || attempt >= 5) throw error;
      current = await setClusterPort(current, await freePort(0));
    }
  }
}
