/**
 * The one module that reads process.env. Everything else receives values.
 */
export interface Environment {
  readonly dataDir: string | undefined;
  readonly databaseUrl: string | undefined;
  readonly databaseAdminUrl: string | undefined;
  readonly sharedClusterUrl: string | undefined;
  readonly masterKey: string | undefined;
  readonly apiUrl: string | undefined;
  readonly token: string | undefined;
  /** The CLI's secrets, never taken as flags: the password and a new one (steward login, steward password). */
  readonly password: string | undefined;
  readonly newPassword: string | undefined;
  readonly logLevel: string | undefined;
  readonly pgBinDir: string | undefined;
  /**
   * Access keys of S3 backup repositories, by repository number (1, 2), from
   * STEWARD_BACKUP_REPO<N>_S3_KEY and STEWARD_BACKUP_REPO<N>_S3_KEY_SECRET.
   * Steward keeps them in its secret store; they need to be set for one start.
   */
  readonly backupS3Keys: Readonly<Record<number, BackupS3Keys>>;
  /** The SMTP server's user and password (STEWARD_SMTP_USER, STEWARD_SMTP_PASSWORD): kept in the secret store; needed for one start. */
  readonly smtpUser: string | undefined;
  readonly smtpPassword: string | undefined;
}

export interface BackupS3Keys {
  readonly accessKeyId: string | undefined;
  readonly secretAccessKey: string | undefined;
}

/** The environment variables that carry an S3 repository's keys. */
export function backupS3KeyVariables(repo: number): { key: string; secret: string } {
  return { key: `STEWARD_BACKUP_REPO${repo}_S3_KEY`, secret: `STEWARD_BACKUP_REPO${repo}_S3_KEY_SECRET` };
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  return {
    dataDir: get('STEWARD_DATA_DIR'),
    databaseUrl: get('STEWARD_DATABASE_URL'),
    databaseAdminUrl: get('STEWARD_DATABASE_ADMIN_URL'),
    sharedClusterUrl: get('STEWARD_SHARED_CLUSTER_URL'),
    masterKey: get('STEWARD_MASTER_KEY'),
    apiUrl: get('STEWARD_API_URL'),
    token: get('STEWARD_TOKEN'),
    password: get('STEWARD_PASSWORD'),
    newPassword: get('STEWARD_NEW_PASSWORD'),
    logLevel: get('STEWARD_LOG_LEVEL'),
    pgBinDir: get('STEWARD_PG_BIN_DIR'),
    smtpUser: get('STEWARD_SMTP_USER'),
    smtpPassword: get('STEWARD_SMTP_PASSWORD'),
    backupS3Keys: Object.fromEntries(
      [1, 2].map((repo) => {
        const names = backupS3KeyVariables(repo);
        return [repo, { accessKeyId: get(names.key), secretAccessKey: get(names.secret) }];
      }),
    ),
  };
}

/**
 * What a release's build (npm ci and the like) inherits from Steward's
 * environment: how to reach the package registry (proxies, extra CA
 * certificates) and nothing else.
 */
export const buildPassthroughNames = [
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'npm_config_registry',
  'npm_config_cache',
] as const;

export function buildPassthrough(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of buildPassthroughNames) {
    const value = env[name];
    if (value) kept[name] = value;
  }
  return kept;
}

/** A variable the user named on the command line (`--secret-env NAME`): secrets come from the environment, never from argv. */
export function readNamedVariable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}
