import { join } from 'node:path';
import type { HaBackupClusters } from '../backups/service.ts';
import { dedicatedDriver, type DedicatedDriver } from '../databases/dedicated/driver.ts';
import { findPostgresBinDir } from '../databases/local-cluster.ts';
import { serverBinDir } from '../databases/patroni/member.ts';
import { HaTier, haTierInstalled } from '../databases/patroni/tier.ts';
import { defaultNodeName } from '../cluster/index.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlStore } from '../store/db.ts';
import type { StewardOptions } from './options.ts';

/**
 * The database tiers beside the shared one, as this machine can run them: a
 * tier whose binaries are missing is unavailable (logged), not an error.
 */

/** Dedicated clusters need PostgreSQL's server binaries on this machine; without them the tier is unavailable. */
export function dedicatedTier(o: StewardOptions): DedicatedDriver | undefined {
  let binDir: string;
  try {
    binDir = findPostgresBinDir(o.pgBinDir);
  } catch (error) {
    o.logger.warn({ err: (error as Error).message }, 'the dedicated tier is unavailable');
    return undefined;
  }
  return dedicatedDriver({
    clustersDir: join(o.config.dataDir, 'clusters'),
    binDir,
    ...(o.unsafeFastClusters ? { unsafeFast: true } : {}),
  });
}

/** What backups and restores ask of the ha tier. */
export function haBackups(ha: HaTier, pgBinDir: string | undefined): HaBackupClusters {
  return {
    clusterOf: (name) => ha.driver.clusterOf(name),
    rest: (name) => ha.driver.rest(name),
    etcdUrls: () => ha.driver.etcdUrls(),
    binDir: serverBinDir(findPostgresBinDir(pgBinDir)),
  };
}

/**
 * The ha tier needs Patroni, etcd and PostgreSQL's server binaries on this machine.
 * `secrets` is asked only later: the secret service comes with the services, after the drivers.
 */
export function haTier(
  o: StewardOptions,
  db: ControlStore['db'],
  secrets: () => SecretService,
): HaTier | undefined {
  if (!o.config.ha.enabled) return undefined;
  if (!haTierInstalled()) {
    o.logger.info('the ha tier is unavailable: Patroni and etcd are not installed (bin/setup)');
    return undefined;
  }
  let binDir: string;
  try {
    binDir = findPostgresBinDir(o.pgBinDir);
  } catch {
    return undefined;
  }
  return new HaTier({
    dataDir: o.config.dataDir,
    settings: o.config.ha,
    db,
    secrets: {
      get: (name) => secrets().get(name),
      put: (tx, name, value) => secrets().put(tx, name, value),
      remove: (tx, name) => secrets().remove(tx, name),
    },
    binDir,
    // The members this node runs are those ha_members places on its name (config node.name).
    node: o.config.node.name ?? defaultNodeName(),
    logger: o.logger,
    ...(o.unsafeFastClusters ? { unsafeFast: true } : {}),
    ...(o.gateway?.haproxyBinary ? { haproxyBinary: o.gateway.haproxyBinary } : {}),
    ...(o.routerEntries ? { staticEntries: o.routerEntries } : {}),
  });
}
