import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../core/errors.ts';
import {
  clusterIsRunning,
  startCluster,
  stopCluster,
  type LocalCluster,
} from '../../databases/local-cluster.ts';

/** Paths that go into a shell command line unquoted must be plain. */
const plainPath = /^\/[A-Za-z0-9_./-]+$/;

export interface ArchivingTarget {
  readonly stanza: string;
  readonly configPath: string;
  /** Absolute path of the pgbackrest program (PostgreSQL runs archive_command with its own PATH). */
  readonly bin: string;
}

/** The settings that send a cluster's WAL to pgBackRest. Pure. */
export function archivingSettings(target: ArchivingTarget): Record<string, string> {
  for (const [field, path] of [
    ['configPath', target.configPath],
    ['bin', target.bin],
  ] as const) {
    if (!plainPath.test(path)) {
      throw new InputError(`${field} ${path} must be an absolute path of letters, digits and _ . / -`, {
        field,
      });
    }
  }
  return {
    wal_level: 'replica',
    archive_mode: 'on',
    archive_command: `${target.bin} --config=${target.configPath} --stanza=${target.stanza} archive-push %p`,
    // A quiet cluster still closes a WAL segment within this time, which bounds the data a lost disk can take.
    archive_timeout: '300',
  };
}

function quoteSetting(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Sets `name = 'value'` lines in postgresql.auto.conf text, replacing earlier
 * lines of the same name and keeping everything else. Pure; returns the text
 * unchanged when nothing differs.
 */
export function withSettings(text: string, settings: Record<string, string>): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [name, value] of Object.entries(settings)) {
    const line = `${name} = ${quoteSetting(value)}`;
    const pattern = new RegExp(`^\\s*${name}\\s*=`);
    const at = lines.findIndex((l) => pattern.test(l));
    if (at === -1) lines.push(line);
    else {
      lines[at] = line;
      for (let i = lines.length - 1; i > at; i--) if (pattern.test(lines[i] ?? '')) lines.splice(i, 1);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The socket directory a postgresql.auto.conf names, or null when it has none (TCP only). */
export function socketDirectoryOf(text: string): string | null {
  const match = /^\s*unix_socket_directories\s*=\s*'([^']*)'/m.exec(text);
  const first = match?.[1]?.split(',')[0]?.trim();
  return first ? first : null;
}

const peerLine = 'local  all  postgres  peer';

/**
 * pgBackRest reaches PostgreSQL only through a Unix socket; the socket
 * directory is postgres's own (0700), so only the postgres user reaches it,
 * and it connects as itself.
 */
export function withLocalPeer(hba: string): string {
  if (/^\s*local\s+all\s+postgres\s+peer\b/m.test(hba)) return hba;
  return `# Written by Steward: pgBackRest (running as postgres) connects over the private socket.\n${peerLine}\n${hba}`;
}

export interface EnableArchivingOptions extends ArchivingTarget {
  /** Where to put a Unix socket for a cluster that has none (owned by postgres, mode 0700). */
  readonly socketDir: string;
}

export interface ArchivingReport {
  readonly socketDir: string;
  readonly changed: boolean;
  readonly restarted: boolean;
}

/**
 * Turns WAL archiving on for a local cluster: the settings, a private socket
 * and the pg_hba line pgBackRest needs. archive_mode only changes on a
 * restart, so a running cluster is restarted once, when something changed;
 * a second call changes nothing.
 */
export async function enableArchiving(
  cluster: LocalCluster,
  options: EnableArchivingOptions,
): Promise<ArchivingReport> {
  const autoConf = join(cluster.dir, 'postgresql.auto.conf');
  const hbaFile = join(cluster.dir, 'pg_hba.conf');
  const before = await readFile(autoConf, 'utf8');
  const existingSocket = socketDirectoryOf(before);
  const socketDir = existingSocket ?? options.socketDir;
  if (!existingSocket) {
    if (!plainPath.test(socketDir)) {
      throw new InputError(`socketDir ${socketDir} must be an absolute path of letters, digits and _ . / -`, {
        field: 'socketDir',
      });
    }
    await mkdir(socketDir, { recursive: true, mode: 0o700 });
    if (cluster.user) await chown(socketDir, cluster.user.uid, cluster.user.gid);
  }
  const after = withSettings(before, {
    ...archivingSettings(options),
    ...(existingSocket ? {} : { unix_socket_directories: socketDir, unix_socket_permissions: '0700' }),
  });
  const hbaBefore = await readFile(hbaFile, 'utf8');
  const hbaAfter = withLocalPeer(hbaBefore);
  const changed = after !== before || hbaAfter !== hbaBefore;
  // writeFile on an existing file keeps its owner and mode (postgres, 0600).
  if (after !== before) await writeFile(autoConf, after);
  if (hbaAfter !== hbaBefore) await writeFile(hbaFile, hbaAfter);
  let restarted = false;
  if (changed && (await clusterIsRunning(cluster))) {
    await stopCluster(cluster, 'fast');
    await startCluster(cluster);
    restarted = true;
  }
  return { socketDir, changed, restarted };
}
