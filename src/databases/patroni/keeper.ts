import type { Logger } from 'pino';
import { logPassFailure } from '../../core/logger.ts';
import type { ControlDb } from '../../store/db.ts';
import type { SystemUser } from '../../system/exec.ts';
import {
  configPatch,
  dynamicConfig,
  renderMemberConfig,
  type HaCredentials,
  type HaMember,
} from './config.ts';
import { PatroniRest } from './rest.ts';
import { removeMember, startMember, stopMember, writeMemberConfig } from './member.ts';
import type { DatabaseRouter, RouterEntry } from './router.ts';
import type { PatroniSettings } from './settings.ts';
import { haSecretNames, readCluster, readClusters, type HaClusterRow } from './store.ts';

export interface HaMemberKeeperOptions {
  readonly db: ControlDb;
  /** This Steward node's name: the keeper runs the members placed on it. */
  readonly node: string;
  readonly secrets: { get(name: string): Promise<string> };
  /** etcd client endpoints (`host:port`); resolves once the embedded etcd runs, if Steward runs one. */
  readonly etcdHosts: () => Promise<readonly string[]>;
  readonly binDir: string;
  readonly settings: PatroniSettings;
  readonly router: DatabaseRouter;
  /** Router entries that are not ha stages (the appliance's control database). */
  readonly staticEntries?: () => readonly RouterEntry[];
  readonly user: SystemUser | undefined;
  readonly unsafeFast?: boolean;
  readonly logger: Logger;
}

/**
 * Runs, on one Steward node, the Patroni members the ha_members rows place
 * on it: starts or adopts those of present clusters (detached, as postgres;
 * a kill -9 of Steward leaves them running), removes those of clusters being
 * deleted, leaves those of a held cluster (its stage paused for a restore)
 * alone, and keeps the node's database router in line with the clusters.
 * One public pass; the timer only calls it.
 */
export class HaMemberKeeper {
  readonly #o: HaMemberKeeperOptions;
  #timer: NodeJS.Timeout | undefined;
  #passing: Promise<void> | undefined;
  /** Members a failover drill killed: their machine is gone until the drill starts them again. */
  readonly #held = new Set<string>();

  constructor(options: HaMemberKeeperOptions) {
    this.#o = options;
  }

  get node(): string {
    return this.#o.node;
  }

  /**
   * A drill killed this member to stand for a lost machine: the keeper does
   * not start it again (it would come back within one pass, often still
   * holding the leader key, and no failover would be measured) until released.
   */
  hold(member: string): void {
    this.#held.add(member);
  }

  release(member: string): void {
    this.#held.delete(member);
  }

  async pass(): Promise<void> {
    if (this.#passing) return this.#passing;
    this.#passing = (async () => {
      try {
        const clusters = await readClusters(this.#o.db);
        for (const cluster of clusters) await this.#keep(cluster);
        await this.syncRouter(clusters);
        await this.#o.router.saveState();
      } finally {
        this.#passing = undefined;
      }
    })();
    return this.#passing;
  }

  /** One cluster's members on this node, as its row says (the driver's ensureServer and dropDatabase). */
  async keep(scope: string): Promise<void> {
    const cluster = await readCluster(this.#o.db, scope);
    if (cluster) await this.#keep(cluster);
    await this.syncRouter();
  }

  async #keep(cluster: HaClusterRow): Promise<void> {
    const mine = cluster.members.filter((m) => m.node === this.#o.node);
    if (cluster.desired === 'absent') {
      for (const member of mine) await removeMember(member, this.#o.user);
      return;
    }
    // A restore stops, restores and starts the members itself; started here, they would run under it.
    if (cluster.held) return;
    const credentials = await this.credentials(cluster.scope);
    const etcdHosts = await this.#o.etcdHosts();
    for (const member of mine) {
      if (this.#held.has(member.name)) continue;
      await writeMemberConfig(member, this.#render(cluster, member, credentials, etcdHosts), this.#o.user);
      const started = await startMember(member, this.#o.user);
      if (!started.adopted)
        this.#o.logger.info({ cluster: cluster.scope, member: member.name }, 'ha member started');
    }
    if (mine.length > 0) await this.#alignSettings(cluster, credentials);
  }

  /** A running cluster's timings follow the settings (a changed ha.tuning); a cluster still starting is left. */
  async #alignSettings(cluster: HaClusterRow, credentials: HaCredentials): Promise<void> {
    const rest = new PatroniRest(cluster.members, credentials.rest);
    const current = await rest.config().catch(() => undefined);
    if (!current || Object.keys(current).length === 0) return;
    const patch = configPatch(
      current,
      dynamicConfig({
        settings: this.#o.settings,
        synchronous: cluster.synchronous,
        ...(this.#o.unsafeFast ? { unsafeFast: true } : {}),
      }),
    );
    if (!patch) return;
    await rest.patchConfig(patch);
    this.#o.logger.info({ cluster: cluster.scope, patch }, 'ha cluster settings changed');
  }

  #render(
    cluster: HaClusterRow,
    member: HaMember,
    credentials: HaCredentials,
    etcdHosts: readonly string[],
  ): string {
    return renderMemberConfig({
      scope: cluster.scope,
      namespace: cluster.namespace,
      member,
      members: cluster.members,
      etcdHosts,
      binDir: this.#o.binDir,
      synchronous: cluster.synchronous,
      settings: this.#o.settings,
      credentials,
      ...(this.#o.unsafeFast ? { unsafeFast: true } : {}),
    });
  }

  async credentials(scope: string): Promise<HaCredentials> {
    const names = haSecretNames(scope);
    return {
      superuser: await this.#o.secrets.get(names.superuser),
      replication: await this.#o.secrets.get(names.replication),
      rest: await this.#o.secrets.get(names.rest),
    };
  }

  /** The router serves every present cluster, plus the static entries. */
  async syncRouter(clusters?: readonly HaClusterRow[]): Promise<void> {
    const all = clusters ?? (await readClusters(this.#o.db));
    const entries: RouterEntry[] = all
      .filter((c) => c.desired === 'present')
      .map((c) => ({ name: c.scope, port: c.routerPort, members: c.members }));
    await this.#o.router.sync([...entries, ...(this.#o.staticEntries?.() ?? [])]);
  }

  /** The members this node's router sends the cluster's connections to. */
  routesTo(scope: string): Promise<string[]> {
    return this.#o.router.routesTo(scope);
  }

  start(intervalMs = 5_000): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.pass().catch((error: unknown) => logPassFailure(this.#o.logger, error, 'ha member pass failed'));
    }, intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer; with `members`, also this node's members (replicas first: no needless failover). */
  async stop(options: { members?: boolean } = {}): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#passing?.catch(() => undefined);
    if (!options.members) return;
    const clusters = await readClusters(this.#o.db).catch(() => [] as HaClusterRow[]);
    await Promise.all(
      clusters.map(async (cluster) => {
        const mine = cluster.members.filter((m) => m.node === this.#o.node);
        // The last one started is most likely a replica; the order only saves a failover, it is not needed.
        for (const member of [...mine].reverse())
          await stopMember(member, this.#o.user).catch(() => undefined);
      }),
    );
    await this.#o.router.stop();
  }
}
