import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ControlDb } from '../../store/db.ts';
import { postgresRunAs } from '../../system/exec.ts';
import { haDriver, type HaDriver, type HaDriverOptions } from './driver.ts';
import { etcdBinary, startEmbeddedEtcd, stopEtcd, type EtcdMember } from './etcd.ts';
import { HaMemberKeeper } from './keeper.ts';
import { patroniBinary, serverBinDir } from './member.ts';
import { DatabaseRouter, type RouterEntry } from './router.ts';
import type { HaSettings } from './settings.ts';

export interface HaTierOptions {
  readonly dataDir: string;
  readonly settings: HaSettings;
  readonly db: ControlDb;
  readonly secrets: HaDriverOptions['secrets'];
  /** PostgreSQL's bin directory (any with pg_ctl: its real directory is used). */
  readonly binDir: string;
  /** This Steward node's name (one node: the host name). */
  readonly node: string;
  readonly logger: Logger;
  /** Router entries that are not ha stages (the appliance's control database). */
  readonly staticEntries?: () => readonly RouterEntry[];
  /** Throwaway clusters without fsync: for tests only. */
  readonly unsafeFast?: boolean;
  readonly haproxyBinary?: string;
}

/** Patroni and etcd are installed: without them the ha tier is unavailable. */
export function haTierInstalled(): boolean {
  return existsSync(patroniBinary) && existsSync(etcdBinary);
}

/**
 * The ha tier on one Steward node: the driver, the keeper of this node's
 * members, the database router, and, without config `ha.etcd`, the etcd
 * member Steward runs itself under <dataDir>/etcd (its ports chosen once and
 * kept, since every member's patroni.yml names them).
 */
export class HaTier {
  readonly driver: HaDriver;
  readonly keeper: HaMemberKeeper;
  readonly #o: HaTierOptions;
  #etcd: Promise<readonly string[]> | undefined;
  #embedded: EtcdMember | undefined;
  #started = false;

  constructor(options: HaTierOptions) {
    this.#o = options;
    const user = postgresRunAs();
    const router = new DatabaseRouter({
      dir: join(options.dataDir, 'ha', 'router'),
      settings: options.settings.tuning,
      ...(options.haproxyBinary ? { binary: options.haproxyBinary } : {}),
    });
    this.keeper = new HaMemberKeeper({
      db: options.db,
      node: options.node,
      secrets: options.secrets,
      etcdHosts: async () => (await this.etcdUrls()).map((url) => new URL(url).host),
      binDir: serverBinDir(options.binDir),
      settings: options.settings.tuning,
      router,
      ...(options.staticEntries ? { staticEntries: options.staticEntries } : {}),
      user,
      ...(options.unsafeFast ? { unsafeFast: true } : {}),
      logger: options.logger.child({ component: 'ha' }),
    });
    this.driver = haDriver({
      db: options.db,
      secrets: options.secrets,
      keeper: this.keeper,
      root: join(options.dataDir, 'ha', 'clusters'),
      placements: () => Promise.resolve([0, 1, 2].map(() => ({ node: options.node, host: '127.0.0.1' }))),
      etcdUrls: () => this.etcdUrls(),
      synchronousStages: options.settings.synchronousStages,
      user,
    });
  }

  /** etcd's client URLs: config ha.etcd, or the embedded member's (started or adopted on first use). */
  etcdUrls(): Promise<readonly string[]> {
    if (this.#o.settings.etcd) return Promise.resolve(this.#o.settings.etcd);
    this.#etcd ??= this.#startEmbedded().catch((error: unknown) => {
      this.#etcd = undefined;
      throw error;
    });
    return this.#etcd;
  }

  async #startEmbedded(): Promise<readonly string[]> {
    const started = await startEmbeddedEtcd(join(this.#o.dataDir, 'etcd'), postgresRunAs());
    this.#embedded = started.member;
    return [started.url];
  }

  /** Starts (adopts) this node's members, and etcd if any cluster needs it, then the keeper's timer. */
  async start(intervalMs = 5_000): Promise<void> {
    this.#started = true;
    await this.keeper.pass();
    this.keeper.start(intervalMs);
  }

  /**
   * Steward's clean stop: this node's members (as the dedicated tier stops its
   * clusters; a kill -9 leaves them running), the router, then the embedded
   * etcd. A process that never ran the keeper (workers off) leaves them alone.
   */
  async close(): Promise<void> {
    await this.driver.close();
    if (this.#started) await this.keeper.stop({ members: true });
    this.#started = false;
    if (this.#embedded) await stopEtcd(this.#embedded, postgresRunAs());
    this.#etcd = undefined;
  }
}
