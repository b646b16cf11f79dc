import { InputError, showValue } from '../../core/errors.ts';
import { retentionOptions, type RepoRetention } from '../retention.ts';

export const compressTypes = ['zst', 'lz4', 'gz'] as const;
export type CompressType = (typeof compressTypes)[number];

/** A repository on a mounted path. */
export interface PathRepository {
  readonly kind: 'path';
  readonly path: string;
  /** The repository's cipher passphrase, from the secret store; only ever written to the config file. */
  readonly passphrase: string;
  readonly retention: RepoRetention;
}

/**
 * A repository in an S3 bucket, reached over HTTPS (pgBackRest speaks S3 over
 * TLS only). The keys and the passphrase are only ever written to the 0600
 * config file, never to a log or an error message.
 *
 * Retention and verify rely on the store listing every key under a prefix.
 * On a store whose listing hides deeper prefixes (s3rver does), expire drops
 * a backup from pgBackRest's catalogue but leaves its objects in the bucket,
 * and verify finds none of the archived WAL; neither says so. expireAndCheck
 * reads the catalogue, so it cannot tell: there an expire is not retention.
 */
export interface S3Repository {
  readonly kind: 's3';
  /** Host name only, e.g. "localhost" or "s3.eu-central-1.amazonaws.com": no scheme, port or path. */
  readonly endpoint: string;
  /** Default 443. */
  readonly port?: number;
  readonly bucket: string;
  /** The S3 API region (repoN-s3-region), e.g. "us-east-1". */
  readonly s3Region: string;
  /** Prefix inside the bucket, absolute, e.g. "/steward/main". */
  readonly path: string;
  readonly uriStyle: 'host' | 'path';
  /** Secret-ish: only ever written to the 0600 config file. */
  readonly accessKeyId: string;
  /** Secret: only ever written to the 0600 config file. */
  readonly secretAccessKey: string;
  /** PEM file to trust for the endpoint (repoN-storage-ca-file); the system's CAs when absent. */
  readonly caFile?: string;
  /** repoN-storage-verify-tls. */
  readonly verifyTls: boolean;
  readonly passphrase: string;
  readonly retention: RepoRetention;
}

export const s3UriStyles = ['host', 'path'] as const;

export type Repository = PathRepository | S3Repository;

/** One PostgreSQL instance of a stanza, on this machine. */
export interface PgInstance {
  readonly path: string;
  readonly port: number;
  /** The directory of the cluster's Unix socket: pgBackRest reaches PostgreSQL only through one. */
  readonly socketPath: string;
  readonly user: string;
}

/** Everything pgbackrest.conf says, as desired state. */
export interface PgBackRestConfig {
  readonly stanza: string;
  readonly pg: PgInstance;
  /**
   * An ha cluster's other members (pg2…pgN): pgBackRest finds whichever is
   * primary among all of them, and with them present backs up from a
   * standby (backup-standby), so a backup costs the primary no reads.
   */
  readonly standbys?: readonly PgInstance[];
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

/** A value that may be shown in an error message. */
function checkShown(field: string, value: string, pattern: RegExp, accepted: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InputError(`${field} ${showValue(value)} must be ${accepted}`, { field });
  }
  return value;
}

const hostLabel = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const hostNamePattern = new RegExp(`^(?=.{1,253}$)${hostLabel}(?:\\.${hostLabel})*$`);
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const s3RegionPattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;
// An absolute prefix of plain segments; no empty, "." or ".." segment, no trailing slash (but "/" itself).
const s3PathPattern = /^(?:\/|(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+)+)$/;
const absolutePathPattern = /^\/[^\r\n\0]*$/;

/** The endpoint: a DNS name, since pgBackRest checks the certificate against DNS names only. */
export function checkEndpoint(field: string, endpoint: string): string {
  checkShown(
    field,
    endpoint,
    hostNamePattern,
    'a host name only (lower-case letters, digits, - and ., e.g. "s3.eu-central-1.amazonaws.com"), without scheme, port or path',
  );
  if (/^[0-9.]+$/.test(endpoint)) {
    throw new InputError(
      `${field} ${showValue(endpoint)} must be a host name, not an IP address: pgBackRest matches the certificate against DNS names only`,
      { field },
    );
  }
  return endpoint;
}

/** S3's bucket naming rules (the general-purpose bucket ones). */
export function checkBucket(field: string, bucket: string): string {
  checkShown(
    field,
    bucket,
    bucketPattern,
    '3 to 63 characters of a-z, 0-9, . and -, starting and ending with a letter or digit',
  );
  if (bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket) || bucket.startsWith('xn--')) {
    throw new InputError(
      `${field} ${showValue(bucket)} must not contain "..", look like an IP address or start with "xn--"`,
      { field },
    );
  }
  return bucket;
}

function checkS3Repository(index: number, repo: S3Repository): [string, string][] {
  const n = index + 1;
  const at = `repositories[${index}]`;
  const endpoint = checkEndpoint(`${at}.endpoint`, repo.endpoint);
  const bucket = checkBucket(`${at}.bucket`, repo.bucket);
  const port = repo.port ?? 443;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InputError(
      `${at}.port ${typeof port === 'number' ? String(port) : showValue(port)} must be a whole number from 1 to 65535`,
      {
        field: `${at}.port`,
      },
    );
  }
  if (!s3UriStyles.includes(repo.uriStyle)) {
    throw new InputError(
      `${at}.uriStyle ${showValue(repo.uriStyle)} must be one of ${s3UriStyles.join(', ')}`,
      {
        field: `${at}.uriStyle`,
      },
    );
  }
  if (typeof repo.verifyTls !== 'boolean') {
    throw new InputError(`${at}.verifyTls ${showValue(repo.verifyTls)} must be true or false`, {
      field: `${at}.verifyTls`,
    });
  }
  if (repo.uriStyle === 'host' && repo.verifyTls && bucket.includes('.')) {
    // bucket.endpoint with a dotted bucket is not covered by the endpoint's wildcard certificate.
    throw new InputError(
      `${at}.bucket ${showValue(bucket)} has dots, which host-style addressing cannot reach with TLS verified; use uriStyle path or a bucket without dots`,
      { field: `${at}.bucket` },
    );
  }
  const entries: [string, string][] = [
    [`repo${n}-type`, 's3'],
    [
      `repo${n}-path`,
      checkShown(
        `${at}.path`,
        repo.path,
        s3PathPattern,
        'an absolute prefix inside the bucket of A-Z, a-z, 0-9, _ . and - segments (e.g. "/steward/main"), without a trailing slash',
      ),
    ],
    [`repo${n}-s3-bucket`, bucket],
    [`repo${n}-s3-endpoint`, endpoint],
    [`repo${n}-storage-port`, String(port)],
    [
      `repo${n}-s3-region`,
      checkShown(
        `${at}.s3Region`,
        repo.s3Region,
        s3RegionPattern,
        'an S3 region name of a-z, 0-9, _ and - (e.g. "us-east-1")',
      ),
    ],
    [`repo${n}-s3-uri-style`, repo.uriStyle],
    [`repo${n}-s3-key`, checkValue(`${at}.accessKeyId`, repo.accessKeyId)],
    [`repo${n}-s3-key-secret`, checkValue(`${at}.secretAccessKey`, repo.secretAccessKey)],
  ];
  if (repo.caFile !== undefined) {
    entries.push([
      `repo${n}-storage-ca-file`,
      checkShown(`${at}.caFile`, repo.caFile, absolutePathPattern, 'an absolute path of one line'),
    ]);
  }
  entries.push([`repo${n}-storage-verify-tls`, repo.verifyTls ? 'y' : 'n']);
  return entries;
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
    if (repo.kind === 's3') global.push(...checkS3Repository(index, repo));
    else if (repo.kind === 'path') {
      global.push([`repo${n}-path`, checkValue(`repositories[${index}].path`, repo.path)]);
    } else {
      const kind: unknown = (repo as { kind: unknown }).kind;
      throw new InputError(`repositories[${index}].kind ${showValue(kind)} must be path or s3`, {
        field: `repositories[${index}].kind`,
      });
    }
    global.push(
      [`repo${n}-cipher-type`, 'aes-256-cbc'],
      [`repo${n}-cipher-pass`, checkValue(`repositories[${index}].passphrase`, repo.passphrase)],
      ...Object.entries(retentionOptions(n, repo.retention)),
    );
  });
  const instances = [config.pg, ...(config.standbys ?? [])];
  if (instances.length > 8) {
    throw new InputError(`a stanza holds 1 to 8 PostgreSQL instances, not ${instances.length}`, {
      field: 'standbys',
    });
  }
  const stanza: [string, string][] = instances.flatMap((pg, index): [string, string][] => {
    const n = index + 1;
    const at = index === 0 ? 'pg' : `standbys[${index - 1}]`;
    if (!Number.isInteger(pg.port) || pg.port < 1 || pg.port > 65_535) {
      throw new InputError(
        `${at}.port ${typeof pg.port === 'number' ? String(pg.port) : showValue(pg.port)} must be a whole number from 1 to 65535`,
        {
          field: `${at}.port`,
        },
      );
    }
    return [
      [`pg${n}-path`, checkValue(`${at}.path`, pg.path)],
      [`pg${n}-port`, String(pg.port)],
      [`pg${n}-socket-path`, checkValue(`${at}.socketPath`, pg.socketPath)],
      [`pg${n}-user`, checkValue(`${at}.user`, pg.user)],
    ];
  });
  if (instances.length > 1) stanza.push(['backup-standby', 'y']);
  const lines = (entries: [string, string][]): string => entries.map(([k, v]) => `${k}=${v}`).join('\n');
  return `# Written by Steward from desired state; changes here are overwritten.\n[global]\n${lines(global)}\n\n[${config.stanza}]\n${lines(stanza)}\n`;
}
