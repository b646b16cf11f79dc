import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { ConflictError, UnavailableError } from '../core/errors.ts';
import { logPassFailure } from '../core/logger.ts';
import { PassTimer } from '../core/pass-timer.ts';
import { loadCertificates, loadRouteSources, routesChannel } from '../gateway/state.ts';
import { ChannelListener } from '../store/listener.ts';
import { lookupUser } from '../system/exec.ts';
import { acquirePidLock } from '../system/lockfile.ts';
import { DataPlaneAccessLog } from './observability.ts';
import { checkHaproxyInstalled, dataPlaneFiles } from './layout.ts';
import type { DataPlaneAddress, DataPlaneOptions } from './options.ts';
import { CertificateFiles, writePrivate } from './certificates.ts';
import { renderHaproxyConfig, type ConsoleUpstream, type DataPlaneState, type Listen } from './config.ts';
import { createExclusive, type Exclusive } from './exclusive.ts';
import { Haproxy } from './haproxy.ts';
import { desiredCertificates, desiredRoutes, type DesiredCertificate, type DesiredStage } from './plan.ts';
import type { MapEntry } from './runtime-api.ts';
import { choosePort, readPorts, runAs, type Ports } from './host.ts';
import { StageFiles } from './stage-files.ts';
import { AuthFiles, type EdgeAuthState } from './auth-files.ts';
import { StewardPages } from './steward-pages.ts';

interface Desired {
  readonly stages: readonly DesiredStage[];
  readonly routes: readonly MapEntry[];
  readonly certificates: readonly DesiredCertificate[];
  readonly auth: EdgeAuthState | undefined;
}

/**
 * The data plane's controller: turns Steward's desired state (stages, their
 * hosts, custom domains, allow lists, maintenance, operators' certificates)
 * into HAProxy's. Routes and certificates change through the runtime API
 * within a NOTIFY's round trip; a reload (validated, seamless) only when the
 * rendered text changes: a stage backend added or removed, a listener or a
 * policy changed. HAProxy runs detached: a kill -9 of Steward leaves it
 * serving, and the next controller adopts it by its pid file.
 *
 * Everything lives in its directory, `<dataDir>/dataplane/` (mode 711): haproxy.cfg, the
 * routes map, the crt-list and certificates (mode 600), the sockets, the pid
 * file, HAProxy's own log, and state.json (the ports, kept across restarts
 * so that an adopted HAProxy keeps its listeners).
 */
export class DataPlane {
  readonly #o: DataPlaneOptions;
  readonly #logger: Logger;
  readonly #dir: string;
  readonly #files: DataPlaneState['files'];
  readonly #configFile: string;
  readonly #exclusive: Exclusive;
  readonly #haproxy: Haproxy;
  readonly #pages: StewardPages;
  readonly #certificates: CertificateFiles;
  readonly #stageFiles: StageFiles;
  readonly #authFiles: AuthFiles;
  #auth: EdgeAuthState | undefined;
  readonly #listener: ChannelListener;
  readonly #resync: PassTimer<void>;
  readonly #reloadCounter: Counter | undefined;
  readonly #accessLog: DataPlaneAccessLog | undefined;
  /** Operators' certificates by domain, as last read: the chain, and the key's name in the secrets store. */
  #operator = new Map<string, { readonly chain: string; readonly keySecret: string }>();
  #stages: readonly DesiredStage[] = [];
  #console: ConsoleUpstream | undefined;
  #routes: readonly MapEntry[] = [];
  #ports: Ports | undefined;
  /** The rendered text without servers, as HAProxy runs it: a reload only when this changes. */
  #structure: string | undefined;
  #reloads = 0;
  #restarts = 0;
  #refreshing: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #releaseLock: (() => Promise<void>) | undefined;
  #starting: Promise<DataPlaneAddress> | undefined;
  #stopping: Promise<void> | undefined;

  #started: { readonly pid: number; readonly adopted: boolean } | undefined;
  constructor(options: DataPlaneOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ component: 'dataplane' });
    this.#dir = options.dir;
    this.#files = dataPlaneFiles(options.dir);
    this.#configFile = join(this.#dir, 'haproxy.cfg');
    this.#exclusive = options.exclusive ?? createExclusive();
    this.#haproxy = new Haproxy({
      configFile: this.#configFile,
      pidFile: join(this.#dir, 'haproxy.pid'),
      masterSocket: join(this.#dir, 'master.sock'),
      adminSocket: this.#files.adminSocket,
      logFile: join(this.#dir, 'haproxy.log'),
      ...(options.binary ? { binary: options.binary } : {}),
    });
    this.#pages = new StewardPages({
      ...(options.site ? { site: options.site } : {}),
      ...(options.scim ? { prefixes: { '/scim/v2': options.scim } } : {}),
      ...(options.paths ? { paths: options.paths } : {}),
    });
    this.#authFiles = new AuthFiles(this.#dir);
    this.#certificates = new CertificateFiles({
      dir: join(this.#dir, 'certs'),
      crtList: this.#files.crtList,
      defaultCertificate: this.#files.defaultCertificate,
      ca: options.ca,
      baseDomain: options.settings.baseDomain,
      operatorPem: (domain) => this.#operatorPem(domain),
      logger: this.#logger,
    });
    const haproxyUser = process.getuid?.() === 0 ? lookupUser('haproxy') : undefined;
    this.#accessLog = options.accessLog
      ? new DataPlaneAccessLog({
          socketPath: join(this.#dir, 'access.sock'),
          ...(haproxyUser ? { haproxyUser } : {}),
          stages: (stageId) => this.#stages.find((stage) => stage.stageId === stageId),
          gatewayMetrics: options.accessLog.requests,
          registry: options.accessLog.registry,
          logger: this.#logger,
          ...(options.accessLog.log ? { recordLog: options.accessLog.log } : {}),
        })
      : undefined;
    this.#stageFiles = new StageFiles(this.#files, options.settings.limits, this.#logger);
    this.#listener = new ChannelListener({
      pool: options.pool,
      channel: routesChannel,
      about: 'route',
      logger: this.#logger,
      onNotification: () => void this.refresh(),
      onResumed: () => void this.refresh(),
    });
    this.#resync = new PassTimer({
      pass: () => this.refresh(),
      everyMs: options.settings.resyncSeconds * 1000,
      logger: this.#logger,
      what: 'data plane resync',
    });
    this.#reloadCounter = options.registry
      ? new Counter({
          name: 'steward_dataplane_reloads_total',
          help: "Reloads of HAProxy's configuration (new or removed stage backends, listener or policy changes); routes and certificates change without one.",
          registers: [options.registry],
        })
      : undefined;
  }

  /** The HAProxy driver: its runtime API, pid and master view. */
  get haproxy(): Haproxy {
    return this.#haproxy;
  }

  /** Times this controller started HAProxy again after it was gone. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Reloads this controller made since it started. */
  get reloads(): number {
    return this.#reloads;
  }

  /** The data plane's files (maps, crt-list, sockets), for the stage endpoints and tests. */
  get files(): DataPlaneState['files'] {
    return this.#files;
  }

  /** The section reloads take; the stage endpoints take it around their changes. */
  get exclusive(): Exclusive {
    return this.#exclusive;
  }

  /** The loopback listener of HAProxy's stats page and Prometheus exporter, once started. */
  /** HAProxy's master once started: whether this process started it or adopted one that kept serving. */
  get haproxyMaster(): { readonly pid: number; readonly adopted: boolean } | undefined {
    return this.#started;
  }

  get stats(): Listen | undefined {
    return this.#ports ? { address: '127.0.0.1', port: this.#ports.stats } : undefined;
  }

  /** The routes map as last applied: host -> backend. */
  get routes(): readonly MapEntry[] {
    return this.#routes;
  }

  start(): Promise<DataPlaneAddress> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<DataPlaneAddress> {
    checkHaproxyInstalled(this.#o.binary);
    await mkdir(join(this.#dir, 'certs'), { recursive: true, mode: 0o700 });
    // Traversable, not listable: HAProxy's workers (user haproxy) reach the access log socket in it; every
    // file in it is root's alone (600), the certificates in a 700 directory of their own.
    await chmod(this.#dir, 0o711);
    await chmod(join(this.#dir, 'certs'), 0o700);
    this.#releaseLock = await acquirePidLock(
      join(this.#dir, 'controller.pid'),
      `the data plane in ${this.#dir}`,
    ).catch((error: unknown) => {
      throw new ConflictError(
        `${(error as Error).message}; a second gateway needs a data dir of its own (--data-dir)`,
        {
          cause: error,
        },
      );
    });
    const running = await this.#haproxy.runningMaster();
    const previous = await readPorts(join(this.#dir, 'state.json'));
    // An adopted HAProxy keeps its listeners: the ports it was started with.
    const ports = running !== undefined && previous ? previous : await this.#choosePorts(previous);
    // The adopted HAProxy's dynamic servers are the truth: rendered as they are, a reload keeps them.
    if (running !== undefined) await this.#o.servers?.refresh?.();
    const stewardPort = await this.#pages.listen(ports.steward);
    this.#ports = { ...ports, steward: stewardPort };
    const activator = this.#o.activator ? { activator: this.#o.activator.port } : {};
    await writePrivate(
      join(this.#dir, 'state.json'),
      `${JSON.stringify({ ...this.#ports, ...activator })}\n`,
    );
    await this.#listener.start();
    // Before HAProxy: its ring connects to the receiver (and resends what it kept while Steward was away).
    await this.#accessLog?.start();

    const desired = await this.#desired();
    await this.#certificates.ensureDefault(running !== undefined ? this.#haproxy.api : undefined);
    await this.#exclusive(async () => {
      this.#stages = desired.stages;
      this.#routes = desired.routes;
      await this.#stageFiles.prepare();
      await this.#stageFiles.write(desired.routes, desired.stages);
      this.#auth = desired.auth;
      await this.#authFiles.write(desired.auth, desired.stages);
      // A new HAProxy loads the certificates from the files; an adopted one is brought up to date below.
      if (running === undefined) await this.#certificates.writeAll(desired.certificates);
      // What the running HAProxy loaded, without its servers (they change at runtime, not by reloads).
      const loaded = await readFile(this.#structureFile, 'utf8').catch(() => '');
      const text = renderHaproxyConfig(this.#state(true));
      const structure = renderHaproxyConfig(this.#state(false));
      const changed = loaded !== sha256(structure);
      if (running === undefined || changed) await writePrivate(this.#configFile, text);
      const started = await this.#haproxy.start();
      this.#started = started;
      if (!started.adopted) await this.#loaded(structure);
      this.#logger.info(
        { pid: started.pid, adopted: started.adopted, ports: this.#ports },
        started.adopted ? 'HAProxy adopted' : 'HAProxy started',
      );
      if (started.adopted) {
        this.#structure = structure;
        if (changed) await this.#reload(text);
      }
      await this.#certificates.observe(this.#haproxy.api);
      if (started.adopted) await this.#stageFiles.observe(this.#haproxy.api, desired.stages);
      else this.#stageFiles.loaded(desired.stages);
    });
    // An adopted HAProxy may be behind: what changed while no controller ran is applied now.
    await this.refresh();
    this.#resync.start();
    const { host, baseDomain } = this.#o.settings;
    const url = `https://${baseDomain}${ports.https === 443 ? '' : `:${ports.https}`}`;
    this.#logger.info({ host, port: ports.https, httpPort: ports.http }, 'data plane listening');
    return { host, port: ports.https, httpPort: ports.http, url };
  }

  async #choosePorts(previous: Ports | undefined): Promise<Ports> {
    const { host, port, httpPort } = this.#o.settings;
    const movable = this.#o.anyPortIfTaken;
    return {
      https: await choosePort(host, port, 'gateway.port', movable?.port ?? false, this.#logger),
      // 0 (no plain HTTP): HAProxy still renders its redirecting listener, on a free loopback port.
      http:
        httpPort === 0
          ? await choosePort('127.0.0.1', 0, 'gateway.httpPort', true, this.#logger)
          : await choosePort(host, httpPort, 'gateway.httpPort', movable?.httpPort ?? false, this.#logger),
      stats: await choosePort('127.0.0.1', previous?.stats ?? 0, 'stats', true, this.#logger),
      steward: previous?.steward ?? 0,
    };
  }

  /**
   * Routes the console host to Steward's API (listening only after the data plane started, which it serves
   * the exporter of): a reload adds the backend, the route and its certificate.
   */
  async useConsole(
    api: Omit<ConsoleUpstream, 'caFile'> & { readonly tls: boolean },
    options: { readonly refresh?: boolean } = {},
  ): Promise<void> {
    if (this.#o.consoleHost === undefined) return;
    const caFile = join(this.#dir, 'api-ca.pem');
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    if (api.tls) await writePrivate(caFile, this.#o.ca.certPem);
    const { address, port, edgeKey } = api;
    this.#console = { address, port, edgeKey, ...(api.tls ? { caFile } : {}) };
    // Named before start() (the API's port known in advance), the first pass already routes it: an adopted HAProxy needs no reload.
    if (options.refresh !== false) await this.refresh();
  }

  /** One pass: desired state to HAProxy. Concurrent calls share a pass (and one more after it). */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pass();
        } while (this.#again && !this.#stopped);
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #pass(): Promise<void> {
    try {
      const desired = await this.#desired();
      await this.#exclusive(async () => {
        if (await this.#startAgainIfGone(desired)) return;
        // Renewed ahead like the rest (a file read and parsed a pass while it is fresh).
        await this.#certificates.ensureDefault(this.#haproxy.api);
        await this.#certificates.apply(this.#haproxy.api, desired.certificates);
        await this.#stageFiles.write(desired.routes, desired.stages);
        await this.#authFiles.write(desired.auth, desired.stages);
        this.#stages = desired.stages;
        this.#auth = desired.auth;
        const structure = renderHaproxyConfig(this.#state(false));
        if (structure !== this.#structure) {
          // A new worker loads the map and crt-list files written above: no entry to change one by one.
          await this.#reload(renderHaproxyConfig(this.#state(true)));
          this.#stageFiles.loaded(desired.stages);
          await this.#stageFiles.prune(desired.stages);
          await this.#authFiles.prune(desired.auth);
        } else {
          await this.#stageFiles.apply(this.#haproxy.api, desired.routes, desired.stages);
          await this.#authFiles.apply(this.#haproxy.api, desired.auth, desired.stages);
        }
        this.#routes = desired.routes;
      });
    } catch (error) {
      logPassFailure(this.#logger, error, 'data plane pass failed; HAProxy keeps the previous state');
    }
  }

  async #desired(): Promise<Desired> {
    const [sources, stored, auth] = await Promise.all([
      loadRouteSources(this.#o.db),
      loadCertificates(this.#o.db),
      this.#o.auth?.edgeState(),
    ]);
    const { baseDomain } = this.#o.settings;
    const routes = desiredRoutes(sources, {
      baseDomain,
      stewardHosts: this.#o.stewardHosts ?? [],
      consoleHost: this.#console ? this.#o.consoleHost : undefined,
    });
    this.#operator = new Map(
      stored.map((c) => [c.domain, { chain: c.certPem, keySecret: c.keySecret }] as const),
    );
    return {
      stages: routes.stages,
      routes: routes.routes.map((route) => ({ key: route.host, value: route.backend })),
      certificates: desiredCertificates(
        routes.routes,
        stored.map((certificate) => ({ domain: certificate.domain, version: certificate.version })),
        baseDomain,
      ),
      auth,
    };
  }

  /**
   * HAProxy is a child Steward supervises: a master that is gone (a crash, a
   * kill) is started again from the files, with the endpoints' servers
   * rendered in. Returns whether it had to.
   */
  async #startAgainIfGone(desired: Desired): Promise<boolean> {
    if (this.#stopped || (await this.#haproxy.runningMaster()) !== undefined) return false;
    this.#logger.warn('HAProxy is not running; starting it again');
    this.#stages = desired.stages;
    this.#auth = desired.auth;
    await this.#stageFiles.write(desired.routes, desired.stages);
    await this.#authFiles.write(desired.auth, desired.stages);
    await this.#certificates.writeAll(desired.certificates);
    await writePrivate(this.#configFile, renderHaproxyConfig(this.#state(true)));
    const started = await this.#haproxy.start();
    await this.#loaded(renderHaproxyConfig(this.#state(false)));
    this.#routes = desired.routes;
    await this.#certificates.observe(this.#haproxy.api);
    this.#stageFiles.loaded(desired.stages);
    this.#restarts += 1;
    this.#logger.warn({ pid: started.pid, restarts: this.#restarts }, 'HAProxy started again');
    return true;
  }

  /** An operator's chain and key, read from the secrets store only when the certificate is new or replaced. */
  async #operatorPem(domain: string): Promise<string> {
    const stored = this.#operator.get(domain);
    if (!stored) throw new UnavailableError(`the certificate for ${domain} was removed meanwhile`);
    return `${stored.chain}\n${await this.#o.secrets.get(stored.keySecret)}`;
  }

  /** Writes the config and reloads; a refused one puts the previous file back (the old worker serves on). */
  async #reload(text: string): Promise<void> {
    const previous = await readFile(this.#configFile, 'utf8').catch(() => '');
    await writePrivate(this.#configFile, text);
    try {
      await this.#haproxy.reload();
    } catch (error) {
      await writePrivate(this.#configFile, previous);
      throw error;
    }
    await this.#loaded(renderHaproxyConfig(this.#state(false)));
    this.#reloads += 1;
    this.#reloadCounter?.inc();
    this.#logger.info({ reloads: this.#reloads, backends: this.#stages.length }, 'HAProxy reloaded');
  }

  /** Remembers the structure HAProxy now runs, here and on disk (a restarted Steward compares with it). */
  async #loaded(structure: string): Promise<void> {
    this.#structure = structure;
    await writePrivate(this.#structureFile, sha256(structure));
  }

  get #structureFile(): string {
    return join(this.#dir, 'structure.sha256');
  }

  /**
   * Renders a stage backend now if it is not in HAProxy yet (the stage
   * endpoints call this when HAProxy does not know a backend). Call it
   * outside the exclusive section: the pass takes it.
   */
  async ensureBackend(): Promise<void> {
    await this.refresh();
  }

  #state(withServers: boolean): DataPlaneState {
    const ports = this.#ports;
    if (!ports) throw new UnavailableError('the data plane is not started');
    const { host, hstsMaxAgeSeconds } = this.#o.settings;
    const source = this.#o.servers;
    const auth = this.#authFiles.edgeAuth(this.#auth);
    return {
      ...(auth ? { auth } : {}),
      files: this.#files,
      https: { address: host, port: ports.https },
      http: { address: this.#o.settings.httpPort === 0 ? '127.0.0.1' : host, port: ports.http },
      stats: { address: '127.0.0.1', port: ports.stats },
      steward: { address: '127.0.0.1', port: ports.steward },
      ...(this.#o.activator ? { activator: this.#o.activator } : {}),
      ...(this.#accessLog ? { accessLog: this.#accessLog.socketPath } : {}),
      hstsMaxAgeSeconds,
      limits: this.#o.settings.limits,
      ...(this.#o.scim ? { scimBaseDomain: this.#o.settings.baseDomain } : {}),
      ...(this.#console ? { console: this.#console } : {}),
      ...(runAs() ? { runAs: runAs() } : {}),
      backends: this.#stages.map((stage) => ({
        name: stage.backend,
        tenant: stage.tenant,
        // With HAProxy's endpoints the published port is HAProxy's; without, the Node stage proxy listens on it.
        ...(source ? { publishedPort: stage.publishedPort } : {}),
        servers: !withServers
          ? []
          : source
            ? source.servers(stage.backend)
            : [{ name: 'stage', address: '127.0.0.1', port: stage.publishedPort }],
      })),
    };
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    await this.#starting?.catch(() => undefined);
    this.#listener.stop();
    await this.#resync.stop();
    await this.#refreshing;
    // A graceful stop of Steward takes the data plane with it; only a crash leaves it serving.
    await this.#haproxy.stop();
    await this.#accessLog?.stop();
    await this.#pages.close();
    await this.#releaseLock?.();
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
