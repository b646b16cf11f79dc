import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { NotFoundError } from '../../core/errors.ts';
import type { LocalCluster } from '../../databases/local-cluster.ts';
import { randomSecret } from '../../secrets/envelope.ts';
import type { SecretService } from '../../secrets/service.ts';
import type { ControlDb } from '../../store/db.ts';
import type { SystemUser } from '../../system/exec.ts';
import type { RepoRetention } from '../retention.ts';
import { enableArchiving, socketDirectoryOf } from './archiving.ts';
import {
  checkStanza,
  renderConfig,
  type CompressType,
  type PgBackRestConfig,
  type Repository,
  type S3Repository,
} from './config.ts';
import { pgbackrestDriver, type PgBackRestDriver } from './driver.ts';
import { run } from '../../system/exec.ts';

const passphraseLockKey = 0x5737_bac1;

export function passphraseSecretName(stanza: string, repo: number): string {
  return `backups/${stanza}/repo${repo}/cipher-pass`;
}

/**
 * The repository's cipher passphrase, made once and kept in the secret store.
 * Losing or replacing it makes every backup in the repository unreadable, so
 * concurrent first calls are serialised and the first one's value stands.
 */
export async function repositoryPassphrase(
  db: ControlDb,
  secrets: SecretService,
  stanza: string,
  repo: number,
): Promise<string> {
  const name = passphraseSecretName(stanza, repo);
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(${passphraseLockKey}, hashtext(${name}))`.execute(tx);
    try {
      return await secrets.get(name, tx);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    // pgBackRest recommends a long random string; 48 bytes in base64url is 64 characters.
    const passphrase = randomSecret(48);
    await secrets.put(tx, name, passphrase);
    return passphrase;
  });
}

/** Finds the pgbackrest program (archive_command needs an absolute path). */
export function findPgBackRest(path = process.env.PATH ?? ''): string {
  for (const dir of [...path.split(':'), '/usr/bin', '/usr/local/bin']) {
    if (dir && existsSync(join(dir, 'pgbackrest'))) return join(dir, 'pgbackrest');
  }
  throw new Error('pgbackrest is not installed; install it with "apt-get install pgbackrest"');
}

/** zst when this pgBackRest build has it, else lz4, else gz. */
export async function bestCompression(bin: string): Promise<CompressType> {
  for (const type of ['zst', 'lz4'] as const) {
    // archive-push validates compress-type before it looks at anything else; 31/32 mean "not allowed".
    const probe = await run(bin, [
      '--config=/dev/null',
      `--compress-type=${type}`,
      '--stanza=probe',
      '--pg1-path=/nonexistent',
      '--repo1-path=/nonexistent',
      '--log-level-console=off',
      '--log-level-stderr=error',
      'archive-push',
      '/nonexistent/000000010000000000000001',
    ]);
    if (probe.code !== 31 && probe.code !== 32) return type;
  }
  return 'gz';
}

/** A directory of `user`'s own, mode 0700. */
export async function ownedDir(path: string, user: SystemUser | undefined): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
  if (user) await chown(path, user.uid, user.gid);
}

/** Writes a file atomically, 0600 and owned by `user`; returns whether its content changed. */
export async function writePrivate(
  path: string,
  text: string,
  user: SystemUser | undefined,
): Promise<boolean> {
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === text) return false;
  const temporary = `${path}.tmp`;
  await writeFile(temporary, text, { mode: 0o600 });
  await chmod(temporary, 0o600);
  if (user) await chown(temporary, user.uid, user.gid);
  await rename(temporary, path);
  return true;
}

/**
 * One repository as the setup is asked for it: everything but the cipher
 * passphrase, which the secret store keeps per stanza and repository number.
 */
export type RepositorySpec =
  | { readonly kind: 'path'; readonly path: string; readonly retention: RepoRetention }
  | Omit<S3Repository, 'passphrase'>;

export interface StanzaSetup {
  readonly db: ControlDb;
  readonly secrets: SecretService;
  readonly cluster: LocalCluster;
  readonly stanza: string;
  /** Steward's directory for this stanza: config, socket, lock, log and spool (owned by postgres). */
  readonly stateDir: string;
  /** repo1 (regional), repo2 (off-site): a mounted path or an S3 bucket each. */
  readonly repositories: readonly RepositorySpec[];
  readonly processMax?: number;
  readonly bin?: string;
  readonly compressType?: CompressType;
}

export interface PreparedStanza {
  readonly driver: PgBackRestDriver;
  readonly configPath: string;
  readonly restarted: boolean;
}

/**
 * Brings a cluster's backups to the desired state: pgbackrest.conf written
 * from it, WAL archiving on (one restart the first time), the stanza created
 * in every repository. Idempotent: a second call writes and restarts nothing.
 */
export async function prepareStanza(setup: StanzaSetup): Promise<PreparedStanza> {
  const user = setup.cluster.user;
  const bin = setup.bin ?? findPgBackRest();
  const stanza = checkStanza(setup.stanza);
  // The config exists before archiving starts, so the first archive-push finds it.
  const autoConf = await readFile(join(setup.cluster.dir, 'postgresql.auto.conf'), 'utf8');
  const socketDir = socketDirectoryOf(autoConf) ?? join(setup.stateDir, 'socket');
  const configPath = await writeStanzaConfig(setup, user, bin, {
    pg: { path: setup.cluster.dir, port: setup.cluster.port, socketPath: socketDir, user: 'postgres' },
  });
  const archiving = await enableArchiving(setup.cluster, { stanza, configPath, bin, socketDir });
  const driver = pgbackrestDriver({ configPath, stanza, user, bin });
  await driver.stanzaCreate();
  return { driver, configPath, restarted: archiving.restarted };
}

/**
 * The stanza's directories, its repositories' passphrases and its
 * pgbackrest.conf (0600, owner postgres) for these PostgreSQL instances.
 * Returns the config's path.
 */
export async function writeStanzaConfig(
  setup: Omit<StanzaSetup, 'cluster'>,
  user: SystemUser | undefined,
  bin: string,
  instances: Pick<PgBackRestConfig, 'pg' | 'standbys'>,
): Promise<string> {
  const stanza = checkStanza(setup.stanza);
  await ownedDir(setup.stateDir, user);
  for (const sub of ['lock', 'log', 'spool', 'socket']) await ownedDir(join(setup.stateDir, sub), user);
  // A bucket's prefix needs no making: S3 has no directories.
  for (const repo of setup.repositories) if (repo.kind === 'path') await ownedDir(repo.path, user);
  const repositories: Repository[] = [];
  for (const [index, repo] of setup.repositories.entries()) {
    const passphrase = await repositoryPassphrase(setup.db, setup.secrets, stanza, index + 1);
    repositories.push({ ...repo, passphrase });
  }
  const configPath = join(setup.stateDir, 'pgbackrest.conf');
  const text = renderConfig({
    stanza,
    ...instances,
    stateDir: setup.stateDir,
    compressType: setup.compressType ?? (await bestCompression(bin)),
    processMax: setup.processMax ?? 2,
    repositories,
  });
  await writePrivate(configPath, text, user);
  return configPath;
}
