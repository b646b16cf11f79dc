import type { FastifyInstance } from 'fastify';
import { createApiServer } from './api/server.ts';
import { systemClock } from './core/clock.ts';
import { sharedDriver } from './databases/shared/driver.ts';
import type { DatabaseDrivers } from './databases/driver.ts';
import type { HaTier } from './databases/patroni/tier.ts';
import { join } from 'node:path';
import type { StageSandbox } from './runtime/sandbox/index.ts';
import { JobRunner } from './jobs/runner.ts';
import { KeyringWatcher } from './secrets/watcher.ts';
import { EventHub } from './events/index.ts';
import { createServices, type Services } from './services.ts';
import { openControlStore, type ControlStore } from './store/db.ts';
import { migrate } from './store/migrate.ts';
import { ControlDatabaseWatchdog, localClusterRestarter } from './store/watchdog.ts';
import { Supervisor } from './runtime/supervisor.ts';
import {
  type DataPlane,
  dataPlaneDir,
  HaproxyExporter,
  stageTraffic,
  type DataPlaneAddress,
  type StageTraffic,
} from './dataplane/index.ts';
import { parseAllowList } from './gateway/allow-list.ts';
import { StewardMetrics } from './metrics/index.ts';
import { logPassFailure } from './core/logger.ts';
import { defaultConsoleDist, loadConsole } from './console/index.ts';
import { keepApiPort, persistentEdgeKey, sharedEdgeKey } from './console/edge.ts';
import { ConsoleApiFollower } from './console/api-upstream.ts';
import { chooseApiPort } from './console/api-port.ts';
import {
  defaultNodeName,
  Elector,
  healOnHolder,
  LeaseStore,
  NodeMembership,
  operationsLease,
  operationsLoops,
} from './cluster/index.ts';
import type { StewardOptions } from './steward/options.ts';
import { dedicatedTier, haBackups, haTier } from './steward/database-tiers.ts';
import { createDataPlane } from './steward/data-plane.ts';
import { openSandbox, recordIsolation, stageSandbox } from './steward/isolation.ts';
import { startSchedules, stopWatchers } from './steward/loops.ts';

export { stewardRoles, type StewardOptions, type StewardRole } from './steward/options.ts';

export const version = '0.1.0';
const edgeKeySecret = 'console/edge-key';

/**
 * The control plane in one process: API, job workers and the resync loop,
 * over one control database. start() and stop() are safe to call twice.
 */
export class Steward {
  readonly #o: StewardOptions;
  #store: ControlStore | undefined;
  #drivers: DatabaseDrivers | undefined;
  #runner: JobRunner | undefined;
  #api: FastifyInstance | undefined;
  #services: Services | undefined;
  #dataPlane: DataPlane | undefined;
  #traffic: StageTraffic | undefined;
  #gatewayAddress: DataPlaneAddress | undefined;
  /** The gateway CA's certificate: checks through the gateway trust it. */
  #gatewayCaPem: string | undefined;
  #keyringWatcher: KeyringWatcher | undefined;
  #consoleApi: ConsoleApiFollower | undefined;
  /** Live updates for the consoles this process serves (one LISTEN on the control database). */
  #events: EventHub | undefined;
  #watchdog: ControlDatabaseWatchdog | undefined;
  #resyncing: Promise<void> | undefined;
  #starting: Promise<string> | undefined;
  #stopping: Promise<void> | undefined;
  #sandbox: StageSandbox | undefined;
  #ha: HaTier | undefined;
  /** This process as a node of the control database (not a gateway-only one). */
  #node: NodeMembership | undefined;
  /** Runs the operations loop's singletons while this node holds their lease (src/cluster/singletons.ts). */
  #elector: Elector | undefined;

  constructor(options: StewardOptions) {
    this.#o = options;
  }

  get services(): Services {
    if (!this.#services) throw new Error('Steward is not started');
    return this.#services;
  }

  /** Where the data plane (HAProxy) listens, when this process runs one. */
  get gatewayAddress(): DataPlaneAddress | undefined {
    return this.#gatewayAddress;
  }

  /** The stages' endpoints on HAProxy (their app instances as dynamic servers), when this process runs the data plane. */
  get stageEndpoints(): StageTraffic['endpoints'] | undefined {
    return this.#traffic?.endpoints;
  }

  /** The console's host on the data plane: `console.<baseDomain>` ('console' is no tenant's slug). */
  get consoleHost(): string {
    return `console.${this.#o.config.gateway.baseDomain}`;
  }

  /** Where browsers open the console: through the data plane, when this process runs one. */
  get consoleUrl(): string | undefined {
    const port = this.#gatewayAddress?.port;
    return port === undefined ? undefined : `https://${this.consoleHost}${port === 443 ? '' : `:${port}`}/`;
  }

  /** The ha tier (Patroni), when this machine has it. */
  get ha(): HaTier | undefined {
    return this.#ha;
  }

  /** The consoles' live updates (GET /api/v1/events), when this process serves the API. */
  get events(): EventHub | undefined {
    return this.#events;
  }

  /** The data plane's controller, when this process runs one. */
  get dataPlane(): DataPlane | undefined {
    return this.#dataPlane;
  }

  /** This node's registration and its elector (undefined for a gateway-only process, or without workers). */
  get cluster(): { readonly node: NodeMembership | undefined; readonly elector: Elector | undefined } {
    return { node: this.#node, elector: this.#elector };
  }

  get api(): FastifyInstance {
    if (!this.#api) throw new Error('Steward is not started');
    return this.#api;
  }

  start(): Promise<string> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<string> {
    const { config, logger } = this.#o;
    const migrated = await migrate(this.#o.adminUrl);
    if (migrated.applied.length > 0)
      logger.info({ migrations: migrated.applied }, 'control database migrated');
    const role = this.#o.role ?? 'all';
    this.#store = openControlStore(this.#o.controlUrl, {
      max: role === 'gateway' ? 5 : config.reconcileConcurrency + 15,
      ...(role === 'gateway' ? { applicationName: 'steward-gateway' } : {}),
    });
    const metrics = new StewardMetrics({ clock: this.#o.clock ?? systemClock, db: this.#store.db });
    // First: a second process under a live node's name is refused before it starts anything.
    if (role !== 'gateway') {
      this.#node = new NodeMembership({
        db: this.#store.db,
        leases: new LeaseStore(this.#store.db),
        name: config.node.name ?? defaultNodeName(),
        leaseMs: config.node.leaseSeconds * 1000,
        logger: logger.child({ component: 'cluster' }),
      });
      await this.#node.start();
    }
    // Watches the control database from here on: an outage is logged once, and the embedded cluster restarted.
    this.#watchdog = new ControlDatabaseWatchdog({
      url: this.#o.controlUrl,
      restarter: this.#o.controlCluster ? localClusterRestarter(this.#o.controlCluster) : undefined,
      logger: logger.child({ component: 'control-database' }),
      clock: this.#o.clock ?? systemClock,
      // The Steward that runs the API tells people about an outage; gateway-only processes only log it.
      alerts: () => (role === 'gateway' ? undefined : this.#services?.alerts),
    });
    this.#watchdog.start();
    const dedicated = dedicatedTier(this.#o);
    // The sandbox is up (its network table applied) before any stage process is started or adopted.
    if (role !== 'gateway') {
      this.#sandbox = stageSandbox(this.#o);
      await openSandbox(this.#sandbox, logger);
    }
    const sandbox = this.#sandbox;
    // The stages' instances are HAProxy's servers (a gateway-only process has no stages of its own).
    this.#traffic =
      role === 'all' && this.#o.gateway
        ? await stageTraffic(dataPlaneDir(config.dataDir, role), logger, () =>
            this.#dataPlane ? this.#dataPlane.ensureBackend() : Promise.resolve(),
          )
        : undefined;
    this.#ha = role === 'gateway' ? undefined : haTier(this.#o, this.#store.db, () => this.services.secrets);
    this.#drivers = {
      shared: sharedDriver(this.#o.sharedClusterUrl),
      dedicated,
      ...(this.#ha ? { ha: this.#ha.driver } : {}),
    };
    this.#services = await createServices({
      config,
      db: this.#store.db,
      keyringStore: this.#o.keyringStore,
      drivers: this.#drivers,
      clock: this.#o.clock ?? systemClock,
      logger,
      metrics,
      supervisor: new Supervisor({
        stateDir: join(config.dataDir, 'run', 'processes'),
        logger: logger.child({ component: 'supervisor' }),
        onEvent: (event) => metrics.processEvent(event),
        // Stages' databases share the embedded cluster: while it is restarted, a failing health check is its, not theirs.
        holdHealthRestarts: () =>
          this.#o.controlCluster !== undefined && this.#watchdog?.outage !== undefined,
        ...(this.#o.clock ? { clock: this.#o.clock } : {}),
      }),
      sandbox,
      ...(this.#traffic ? { endpoints: this.#traffic.endpoints } : {}),
      ...(this.#o.runtimeTickMs ? { runtimeTickMs: this.#o.runtimeTickMs } : {}),
      edgePort: () => this.#gatewayAddress?.port,
      ...(role === 'gateway'
        ? {}
        : {
            sharedCluster: this.#o.sharedCluster,
            dedicatedClusters: dedicated,
            ...(this.#ha ? { haClusters: haBackups(this.#ha, this.#o.pgBinDir) } : {}),
            ...(this.#o.backupS3Keys ? { backupS3Keys: this.#o.backupS3Keys } : {}),
            ...(this.#o.onBackupSucceeded ? { onBackupSucceeded: this.#o.onBackupSucceeded } : {}),
            sharedClusterUrl: this.#o.sharedClusterUrl,
            gatewayEndpoint: () =>
              this.#gatewayAddress && this.#gatewayCaPem
                ? {
                    port: this.#gatewayAddress.port,
                    ca: this.#gatewayCaPem,
                    baseDomain: config.gateway.baseDomain,
                  }
                : undefined,
          }),
    });
    // Restarts and the like come from the node that runs the operations loop, not from every node's requests.
    if (this.#node) {
      const services = this.#services;
      services.alerts.useHealer(healOnHolder(services.healing, () => this.#elector?.term !== undefined));
    }
    // Every process follows master key rotations, whichever process runs them.
    this.#keyringWatcher = new KeyringWatcher({
      secrets: this.#services.secrets,
      pool: this.#store.pool,
      logger: logger.child({ component: 'keyring' }),
    });
    await this.#keyringWatcher.start();
    if (role === 'gateway' || this.#o.gateway) {
      if (!this.#o.gateway) throw new Error('the gateway role needs a certificate authority');
      const made = await createDataPlane(this.#o, this.#o.gateway, {
        role,
        store: this.#store,
        services: this.#services,
        metrics,
        traffic: this.#traffic,
        consoleHost: this.consoleHost,
      });
      this.#dataPlane = made.dataPlane;
      this.#gatewayCaPem = made.caPem;
    }
    // Vouches for the browser's address when the data plane passes the console host on (console/edge.ts).
    const { secrets } = this.#services;
    const db = this.#store.db;
    const edgeKey = await sharedEdgeKey(await persistentEdgeKey(config.dataDir), {
      get: () => secrets.get(edgeKeySecret).catch(() => undefined),
      ...(role === 'gateway' ? {} : { put: (key: string) => secrets.put(db, edgeKeySecret, key) }),
    });
    const apiPort =
      role === 'gateway' ? 0 : await chooseApiPort(config.api.host, config.api.port, config.dataDir);
    const consoleUpstream = {
      address: ['0.0.0.0', '::'].includes(config.api.host) ? '127.0.0.1' : config.api.host,
      tls: this.#o.tls !== undefined,
      edgeKey,
    };
    // Named before the data plane starts, so its first pass matches an adopted HAProxy's config.
    if (apiPort !== 0)
      await this.#dataPlane?.useConsole({ ...consoleUpstream, port: apiPort }, { refresh: false });
    // A gateway-only node routes the console host to a live API node (console/api-upstream.ts), before its first config.
    const dataPlane = this.#dataPlane;
    if (role === 'gateway' && dataPlane) {
      this.#consoleApi = new ConsoleApiFollower({
        nodes: this.#services.nodes,
        route: (api, options) => dataPlane.useConsole(api, options),
        edgeKey,
        logger: logger.child({ component: 'console-route' }),
      });
      await this.#consoleApi.pass({ refresh: false });
    }
    // Before the API (it serves HAProxy's exporter) and the runtime (the stages' instances are HAProxy's servers).
    this.#gatewayAddress = await this.#dataPlane?.start();
    if (role === 'gateway') {
      this.#consoleApi?.start();
      return this.#gatewayAddress?.url ?? '';
    }
    const consoleDist = this.#o.consoleDist ?? defaultConsoleDist;
    const site = await loadConsole(consoleDist);
    if (!site) logger.info({ dir: consoleDist }, 'the console is not built: the API serves no console');
    this.#events = new EventHub({
      pool: this.#store.pool,
      logger: logger.child({ component: 'events' }),
      coalesceMs: config.events.coalesceMs,
      registry: metrics.registry,
    });
    await this.#events.start();
    this.#api = await createApiServer({
      services: this.#services,
      console: site,
      edgeKey,
      logger,
      version,
      metrics,
      metricsAllow: parseAllowList(config.metrics.allow, 'metrics.allow'),
      ...(this.#dataPlane?.stats ? { haproxyMetrics: new HaproxyExporter(this.#dataPlane.stats) } : {}),
      controlDatabase: this.#watchdog,
      events: {
        hub: this.#events,
        keepaliveMs: config.events.keepaliveSeconds * 1000,
        bufferBytes: config.events.bufferBytes,
      },
      ...(this.#o.tls ? { https: this.#o.tls } : {}),
    });
    await startSchedules(this.#services, config);
    if (this.#o.workers !== false && this.#node) {
      this.#runner = new JobRunner({
        pool: this.#store.pool,
        handlers: this.#services.jobHandlers,
        concurrency: config.reconcileConcurrency,
        logger: logger.child({ component: 'jobs' }),
        observer: metrics.jobs,
      });
      await this.#runner.start();
      // The ha stages' members (adopted after a kill -9) run before the stages' processes that use them.
      await this.#ha?.start();
      await this.#services.runtime.start();
      await this.#services.notifications.start(this.#o.smtpCredentials);
      // The singletons (checks, alerts, on-call, …) run on whichever node holds their lease; with one node, here.
      // Checks keep running whatever else is going on (maintenance included): only stop() or a lost lease ends them.
      this.#elector = new Elector({
        leases: new LeaseStore(this.#store.db),
        lease: operationsLease,
        holder: this.#node.holder,
        ttlMs: config.node.leaseSeconds * 1000,
        loops: operationsLoops(this.#services, config, () => this.resync()),
        logger: logger.child({ component: 'cluster' }),
        held: (lease, held) => metrics.leaseHeld(lease, held),
      });
      await this.#elector.start();
    }
    const address = await this.#api
      .listen({ host: config.api.host, port: apiPort })
      .catch((error: unknown) => {
        // A port chosen in advance (config port 0) that someone took meanwhile: any free one, routed below.
        if (config.api.port !== 0 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
        return this.#api!.listen({ host: config.api.host, port: 0 });
      });
    this.#services.oncall.useApiUrl(address);
    const listening = this.#api.server.address();
    if (typeof listening === 'object' && listening) {
      if (config.api.port === 0) await keepApiPort(config.dataDir, listening.port);
      if (listening.port !== apiPort)
        await this.#dataPlane?.useConsole({ ...consoleUpstream, port: listening.port });
    }
    await this.#node?.setApiUrl(address);
    // Stages reach the data plane like any client does (their own stage too, through its public name).
    const gatewayPorts = [this.#gatewayAddress?.port, this.#gatewayAddress?.httpPort].filter(
      (port): port is number => port !== undefined && port > 0,
    );
    await sandbox?.setPublicPorts(gatewayPorts);
    await recordIsolation(this.#services);
    return address;
  }

  /** One resync pass: queue every stage whose observed state may differ from desired. */
  async resync(): Promise<void> {
    if (this.#resyncing) return this.#resyncing;
    this.#resyncing = (async () => {
      try {
        const queued = await this.services.stageReconciler.resync();
        if (queued > 0) this.#o.logger.debug({ queued }, 'resync queued stages');
      } catch (error) {
        logPassFailure(this.#o.logger, error, 'resync failed');
      } finally {
        this.#resyncing = undefined;
      }
    })();
    return this.#resyncing;
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    // First: a cluster stopped on purpose below is not an outage to repair.
    await this.#watchdog?.stop();
    // The singletons stop and their lease is given up: another node takes over on its next round.
    await this.#elector?.stop();
    await this.#keyringWatcher?.stop();
    await this.#consoleApi?.stop();
    await this.#resyncing;
    // First: what stops below (the gateway, the stages' processes) is Steward stopping, not the stages failing.
    if (this.#services) await stopWatchers(this.#services);
    // Open event streams end first: the API server's close waits for every open response.
    this.#events?.stop();
    await this.#api?.close();
    if (this.#o.workers !== false && this.#o.role !== 'gateway') await this.#services?.runtime.stop();
    // After the stages' processes: a graceful stop takes HAProxy with it (a kill -9 leaves both serving).
    await this.#dataPlane?.stop();
    await this.#traffic?.activator.close();
    await this.#services?.oncall.stop();
    await this.#services?.notifications.stop();
    // Running backups are cancelled (and recorded failed) so that the workers below stop at once.
    this.#services?.backups.stop();
    this.#services?.restores.stop();
    await this.#runner?.stop();
    // After everything that records events: the last checkpoint covers them all.
    await this.#services?.auditCheckpoints.stop();
    await this.#node?.stop();
    await this.#drivers?.shared.close();
    await this.#drivers?.dedicated?.close();
    await this.#ha?.close();
    await this.#store?.close();
    // Only after a clean stop of the runtime: no stage process is left for the rules to restrict.
    await this.#sandbox?.close();
  }
}
