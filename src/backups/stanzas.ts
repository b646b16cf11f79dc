import { chmod, chown, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BackupSettings } from '../core/config.ts';
import type { LocalCluster } from '../databases/local-cluster.ts';
import { enableArchiving } from './pgbackrest/archiving.ts';
import type { RepositoryPlacement } from './geography.ts';

/**
 * Where Steward keeps each cluster's pgBackRest state, and what must exist
 * before a cluster starts with archiving on. One stanza per cluster: `shared`
 * for the shared cluster Steward runs itself, a dedicated stage's database
 * name for its cluster.
 */
export const sharedStanza = 'shared';

/** Why stages on a cluster Steward only has a URL for have no physical backups. */
export const externalSharedReason = 'not backed up by Steward: the shared cluster is external';

export function backupsRoot(dataDir: string): string {
  return join(dataDir, 'backups');
}

/** config, socket, lock, log and spool of one stanza (owned by postgres). */
export function stanzaStateDir(dataDir: string, stanza: string): string {
  return join(backupsRoot(dataDir), 'state', stanza);
}

export function stanzaConfigPath(dataDir: string, stanza: string): string {
  return join(stanzaStateDir(dataDir, stanza), 'pgbackrest.conf');
}

/** Names of an S3 repository's keys in the secret store. */
export function s3KeySecretNames(repo: number): { key: string; secret: string } {
  const base = `backups/repositories/repo${repo}`;
  return { key: `${base}/s3-key`, secret: `${base}/s3-key-secret` };
}

/** repo1, repo2 and their regions, for the geography check. */
export function repositoryPlacements(settings: BackupSettings): RepositoryPlacement[] {
  return settings.repositories.map((r, i) => ({ name: `repo${i + 1}`, region: r.region }));
}

/** A directory others (postgres) may pass through but not list: the data dir's own mode. */
async function passable(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o711 });
  await chmod(path, 0o711);
}

async function owned(path: string, cluster: LocalCluster): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
  if (cluster.user) await chown(path, cluster.user.uid, cluster.user.gid);
}

/**
 * The directories a stanza needs, with parents postgres can pass through
 * (pgBackRest's setup makes only the last level its own). A path
 * repository's missing parents are made passable too; existing ones are
 * left as they are.
 */
export async function ensureStanzaDirs(
  dataDir: string,
  stanza: string,
  cluster: LocalCluster,
  settings: BackupSettings,
): Promise<void> {
  await passable(backupsRoot(dataDir));
  await passable(join(backupsRoot(dataDir), 'state'));
  await owned(stanzaStateDir(dataDir, stanza), cluster);
  await owned(join(stanzaStateDir(dataDir, stanza), 'socket'), cluster);
  for (const repo of settings.repositories) {
    if (repo.kind === 'path') await mkdir(dirname(repo.path), { recursive: true, mode: 0o711 });
  }
}

/**
 * Writes the shared cluster's archiving settings while it is stopped, so that
 * its first start already archives and Steward never restarts the cluster
 * that holds its own control database. The stanza itself is made later, by
 * the backup service; until then archive-push fails and PostgreSQL keeps the
 * WAL and retries.
 */
export async function prepareSharedArchiving(
  cluster: LocalCluster,
  dataDir: string,
  settings: BackupSettings,
  bin: string,
): Promise<{ restarted: boolean }> {
  await ensureStanzaDirs(dataDir, sharedStanza, cluster, settings);
  const report = await enableArchiving(cluster, {
    stanza: sharedStanza,
    configPath: stanzaConfigPath(dataDir, sharedStanza),
    bin,
    socketDir: join(stanzaStateDir(dataDir, sharedStanza), 'socket'),
  });
  return { restarted: report.restarted };
}
