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
  readonly logLevel: string | undefined;
  readonly pgBinDir: string | undefined;
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
    logLevel: get('STEWARD_LOG_LEVEL'),
    pgBinDir: get('STEWARD_PG_BIN_DIR'),
  };
}
