import { archivingSettings, type ArchivingTarget } from './archiving.ts';
import type { PgInstance } from './config.ts';

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
