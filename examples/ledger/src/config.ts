/**
 * The one place that reads process.env. Every process of the app parses its
 * environment here once, at start, and fails with a message naming the
 * variable, its value and what would be accepted.
 */

export interface Config {
  readonly databaseUrl: string;
  readonly port: number;
  readonly host: string;
  readonly tenant: string;
  readonly stage: string;
  readonly release: string;
  readonly filesDir: string;
  readonly currency: string;
  readonly debug: boolean;
  readonly maxUploadBytes: number;
  readonly shutdownSeconds: number;
  readonly workerPollMs: number;
  readonly workerSpin: boolean;
  /** STEWARD_IDENTITY_JWKS: the key set that signs X-Steward-Identity (the runtime passes it). */
  readonly identityJwks: string | undefined;
  /** LEDGER_IDENTITY_JWKS_URL: fetch the key set from here instead. */
  readonly identityJwksUrl: string | undefined;
  /** LEDGER_ADMIN_ROLE: the app role that manages folders and may do everything (default admin). */
  readonly adminRole: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new ConfigError(`${name} is not set; Steward sets it for every process`);
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(`${name} is ${JSON.stringify(raw)}; expected an integer from ${min} to ${max}`);
  return value;
}

function flag(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new ConfigError(`${name} is ${JSON.stringify(raw)}; expected 1, true, 0 or false`);
}

export function parseConfig(
  env: Env,
  needs: { readonly port?: boolean; readonly filesDir?: boolean } = {},
): Config {
  const currency = env['LEDGER_CURRENCY'] || 'EUR';
  if (!/^[A-Z]{3}$/.test(currency))
    throw new ConfigError(
      `LEDGER_CURRENCY is ${JSON.stringify(currency)}; expected a three-letter code like EUR`,
    );
  return {
    databaseUrl: required(env, 'DATABASE_URL'),
    port: needs.port ? integer(env, 'PORT', Number(required(env, 'PORT')), 0, 65535) : 0,
    host: env['HOST'] || '127.0.0.1',
    tenant: env['STEWARD_TENANT'] || 'local',
    stage: env['STEWARD_STAGE'] || 'dev',
    release: env['STEWARD_RELEASE'] || 'unreleased',
    filesDir: needs.filesDir ? required(env, 'STEWARD_FILES_DIR') : (env['STEWARD_FILES_DIR'] ?? ''),
    currency,
    debug: flag(env, 'LEDGER_DEBUG'),
    maxUploadBytes: integer(env, 'LEDGER_MAX_UPLOAD_BYTES', 10 * 1024 * 1024, 1, 1024 * 1024 * 1024),
    shutdownSeconds: integer(env, 'LEDGER_SHUTDOWN_SECONDS', 8, 1, 300),
    workerPollMs: integer(env, 'LEDGER_WORKER_POLL_MS', 500, 10, 60_000),
    workerSpin: flag(env, 'LEDGER_WORKER_SPIN'),
    identityJwks: env['STEWARD_IDENTITY_JWKS'] || undefined,
    identityJwksUrl: env['LEDGER_IDENTITY_JWKS_URL'] || undefined,
    adminRole: env['LEDGER_ADMIN_ROLE'] || 'admin',
  };
}
