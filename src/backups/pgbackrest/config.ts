import { InputError } from '../../core/errors.ts';
import { retentionOptions, type RepoRetention } from '../retention.ts';

export const compressTypes = ['zst', 'lz4', 'gz'] as const;
export type CompressType = (typeof compressTypes)[number];

/** A repository on a mounted path. (S3 comes next; it gets its own kind.) */
export interface PathRepository {
  readonly kind: 'path';
  readonly path: string;
  /** The repository's cipher passphrase, from the secret store; only ever written to the config file. */
  readonly passphrase: string;
  readonly retention: RepoRetention;
}

export type Repository = PathRepository;

/** Everything pgbackrest.conf says, as desired state. */
export interface PgBackRestConfig {
  readonly stanza: string;
  readonly pg: {
    readonly path: string;
    readonly port: number;
    /** The directory of the cluster's Unix socket: pgBackRest reaches PostgreSQL only through one. */
    readonly socketPath: string;
    readonly user: string;
  };
  /** lock-path, log-path and spool-path live below this directory (owned by postgres). */
  readonly stateDir: string;
  readonly compressType: CompressType;
  readonly processMax: number;
  /** repo1 is the regional repository, repo2 the off-site one. */
  readonly repositories: readonly Repository[];
}

const stanzaPattern = /^[a-z][a-z0-9_-]{0,62}$/;
// A value ends at the line's end; anything that could start another line or option is refused.
const safeValue = /^[^\r\n\0]*$/;

function checkValue(field: string, value: string): string {
  if (!safeValue.test(value) || value !== value.trim() || value === '') {
    throw new InputError(`${field} must be one non-empty line without surrounding spaces`, { field });
  }
  return value;
}

export function checkStanza(stanza: string): string {
  if (!stanzaPattern.test(stanza)) {
    throw new InputError(
      `stanza ${JSON.stringify(stanza)} must start with a letter and use only a-z, 0-9, _ and - (at most 63)`,
      { field: 'stanza' },
    );
  }
  return stanza;
}

/**
 * Renders pgbackrest.conf. Pure: the same desired state gives the same text,
 * so the writer can compare before it rewrites. The file holds the
 * repositories' passphrases and must be written mode 0600, owned by postgres.
 */
export function renderConfig(config: PgBackRestConfig): string {
  checkStanza(config.stanza);
  if (config.repositories.length < 1 || config.repositories.length > 4) {
    throw new InputError(`a stanza needs 1 to 4 repositories, not ${config.repositories.length}`, {
      field: 'repositories',
    });
  }
  if (!Number.isInteger(config.processMax) || config.processMax < 1 || config.processMax > 32) {
    throw new InputError(`processMax must be 1 to 32, not ${config.processMax}`, { field: 'processMax' });
  }
  if (!compressTypes.includes(config.compressType)) {
    throw new InputError(`compressType must be one of ${compressTypes.join(', ')}`, {
      field: 'compressType',
    });
  }
  const global: [string, string][] = [
    ['archive-async', 'y'],
    // Backups never block the app: if the repositories stay unreachable, WAL beyond this is dropped
    // (pgBackRest logs it and `check` fails, so point-in-time recovery has a gap) instead of filling pg_wal.
    ['archive-push-queue-max', '4GiB'],
    ['compress-type', config.compressType],
    ['process-max', String(config.processMax)],
    ['start-fast', 'y'],
    ['lock-path', checkValue('stateDir', `${config.stateDir}/lock`)],
    ['log-path', checkValue('stateDir', `${config.stateDir}/log`)],
    ['spool-path', checkValue('stateDir', `${config.stateDir}/spool`)],
    ['log-level-console', 'warn'],
    ['log-level-stderr', 'error'],
    ['log-level-file', 'info'],
  ];
  config.repositories.forEach((repo, index) => {
    const n = index + 1;
    global.push(
      [`repo${n}-path`, checkValue(`repositories[${index}].path`, repo.path)],
      [`repo${n}-cipher-type`, 'aes-256-cbc'],
      [`repo${n}-cipher-pass`, checkValue(`repositories[${index}].passphrase`, repo.passphrase)],
      ...Object.entries(retentionOptions(n, repo.retention)),
    );
  });
  const stanza: [string, string][] = [
    ['pg1-path', checkValue('pg.path', config.pg.path)],
    ['pg1-port', String(config.pg.port)],
    ['pg1-socket-path', checkValue('pg.socketPath', config.pg.socketPath)],
    ['pg1-user', checkValue('pg.user', config.pg.user)],
  ];
  const lines = (entries: [string, string][]): string => entries.map(([k, v]) => `${k}=${v}`).join('\n');
  return `# Written by Steward from desired state; changes here are overwritten.\n[global]\n${lines(global)}\n\n[${config.stanza}]\n${lines(stanza)}\n`;
}
