import type pg from 'pg';
import { InternalError, UnavailableError } from '../../core/errors.ts';
import { withClient } from '../../databases/client.ts';
import type { LocalCluster } from '../../databases/local-cluster.ts';
import {
  memberDir,
  type HaClusterView,
  type HaMember,
  type PatroniRest,
} from '../../databases/patroni/index.ts';
import { maintenance } from '../../databases/privileged.ts';
import { postgresRunAs } from '../../system/exec.ts';
import { archivingSettings, type ArchivingTarget } from './archiving.ts';
import type { PgInstance } from './config.ts';
import { pgbackrestDriver } from './driver.ts';
import { findPgBackRest, writeStanzaConfig, type PreparedStanza, type StanzaSetup } from './setup.ts';

/**
 * pgBackRest for an `ha` cluster (issue 14): one stanza per cluster (the
 * stage's database name, as its Patroni scope), listing every member as pgN,
 * so that pgBackRest finds the primary itself and backs up from a standby
 * (backup-standby). Every member archives with the same archive_command, set
 * in Patroni's dynamic config: whichever member is primary pushes its WAL.
 *
 * The members run on this machine (one Steward node: all three). Members on
 * other nodes would need pgBackRest's TLS server there (pgN-host); not yet.
 */

/** A member as the stanza sees it: its data dir and the socket directory Patroni gives its PostgreSQL. */
export interface HaStanzaMember {
  readonly dataDir: string;
  readonly pgPort: number;
  /** unix_socket_directories of the member (the member's own directory). */
  readonly socketDir: string;
}

/** pg1…pgN of an ha cluster's stanza, in the members' order. Pure. */
export function haStanzaInstances(members: readonly HaStanzaMember[]): {
  readonly pg: PgInstance;
  readonly standbys: readonly PgInstance[];
} {
  const instances = members.map((m): PgInstance => ({
    path: m.dataDir,
    port: m.pgPort,
    socketPath: m.socketDir,
    user: 'postgres',
  }));
  const [pg, ...standbys] = instances;
  if (!pg) throw new Error('an ha cluster has no members');
  return { pg, standbys };
}

/**
 * The archiving parameters for Patroni's dynamic config (`postgresql.parameters`),
 * the same on every member. The stanza's pg1 is one member; archive-push
 * resolves `%p` (relative to the data dir PostgreSQL runs it in) against
 * pg1-path, so each member names its own data dir: `$(pwd -P)`, the
 * physical working directory PostgreSQL runs archive_command in. Pure.
 */
export function haArchivingParameters(target: ArchivingTarget): Record<string, string> {
  const settings = archivingSettings(target);
  return {
    ...settings,
    archive_command: `${target.bin} --config=${target.configPath} --stanza=${target.stanza} --pg1-path="$(pwd -P)" archive-push "%p"`,
  };
}

/**
 * An ha cluster as backups see it: its leader, where Steward's superuser
 * sessions go (over the leader's socket, as for a dedicated cluster), and
 * every member, which the stanza lists.
 */
export interface HaBackupCluster {
  readonly leader: LocalCluster;
  readonly members: readonly HaMember[];
  readonly rest: PatroniRest;
}

/** The cluster of an ha stage with its current leader; refused while it has none. */
export async function haBackupCluster(
  view: HaClusterView,
  rest: PatroniRest,
  binDir: string,
): Promise<HaBackupCluster> {
  const name = await rest.leader();
  const leader = view.members.find((m) => m.name === name);
  if (!leader) throw new UnavailableError(`the ha cluster ${view.scope} has no leader right now; try again`);
  return {
    leader: {
      dir: memberDir(leader),
      port: leader.pgPort,
      binDir,
      user: postgresRunAs(),
      superuserUrl: () => {
        throw new InternalError('an ha cluster is reached over its leader socket, not by URL');
      },
    },
    members: view.members,
    rest,
  };
}

/**
 * An ha cluster's backups brought to the desired state: pgbackrest.conf
 * with every member, archiving on every member through Patroni, the stanza
 * in every repository. Idempotent.
 */
export async function prepareHaStanza(
  setup: Omit<StanzaSetup, 'cluster'>,
  cluster: HaBackupCluster,
): Promise<PreparedStanza> {
  const bin = setup.bin ?? findPgBackRest();
  const user = cluster.leader.user;
  const members = cluster.members.map((m) => ({
    dataDir: m.dataDir,
    pgPort: m.pgPort,
    socketDir: memberDir(m),
  }));
  const configPath = await writeStanzaConfig(setup, user, bin, haStanzaInstances(members));
  const archiving = await archiveThroughPatroni(
    cluster.rest,
    maintenance({ host: cluster.leader.dir, port: cluster.leader.port, user: 'postgres' }),
    cluster.members.map((m) => m.name),
  )(haArchivingParameters({ stanza: setup.stanza, configPath, bin }));
  const driver = pgbackrestDriver({ configPath, stanza: setup.stanza, user, bin });
  await driver.stanzaCreate();
  return { driver, configPath, restarted: archiving.restarted };
}

/**
 * Archiving over Patroni: the parameters into the
 * dynamic config, then, while the leader still runs without archive_mode,
 * every member restarted (Patroni takes the dynamic config in its next
 * loop; a restart before that changes nothing, so it is tried again).
 */
export function archiveThroughPatroni(
  rest: PatroniRest,
  leaderAdmin: pg.ClientConfig,
  members: readonly string[],
  timeoutMs = 60_000,
): (parameters: Record<string, string>) => Promise<{ readonly restarted: boolean }> {
  const archiving = async (): Promise<boolean> =>
    withClient(
      leaderAdmin,
      async (c) =>
        (await c.query<{ archive_mode: string }>('show archive_mode')).rows[0]?.archive_mode === 'on',
    ).catch(() => false);
  return async (parameters) => {
    await rest.patchConfig({ postgresql: { parameters } });
    if (await archiving()) return { restarted: false };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      await Promise.all(members.map((member) => rest.restart(member).catch(() => undefined)));
      if (await archiving()) return { restarted: true };
      if (Date.now() > deadline) {
        throw new UnavailableError('the ha cluster did not turn archive_mode on after its members restarted');
      }
    }
  };
}
