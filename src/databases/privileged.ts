import type pg from 'pg';

/**
 * Sessions that hold a PostgreSQL privilege, and the rule they keep: a
 * superuser session never evaluates what a tenant defined.
 *
 * A stage's role owns its database and schema public, so it can define
 * functions, aggregates and operators there, set `search_path` for its
 * database (`ALTER DATABASE … SET`) and for itself (`ALTER ROLE … SET`).
 * An unqualified call in a superuser session on that database may then
 * resolve to the tenant's function (a better overload match, or public ahead
 * of pg_catalog), which runs as the superuser and can `COPY … TO PROGRAM`.
 *
 * So:
 * - superuser sessions go to the `postgres` maintenance database only (which
 *   no stage role can write to or connect to), for what only a superuser
 *   may do: create, rename, drop and grant databases and roles, restore
 *   points, WAL switches, catalog reads;
 * - every session, privileged or not, starts with `search_path` pinned to
 *   pg_catalog then pg_temp (named last, so that a temporary table cannot
 *   shadow a catalog; functions and operators are never looked up there).
 *   It is sent in the startup packet, which
 *   overrides whatever `ALTER DATABASE/ROLE … SET search_path` a tenant
 *   planted (client settings take precedence over both);
 * - work inside a stage's database (fingerprints, dumps, restores of its
 *   data, verification) connects as the stage's own role, by password, so
 *   whatever of the tenant's code runs there runs with the tenant's rights.
 *   Switching a superuser session to the role (`SET ROLE`, `SET SESSION
 *   AUTHORIZATION`) is not enough: the tenant's code could `RESET ROLE` or
 *   `RESET SESSION AUTHORIZATION`, which PostgreSQL allows whenever the
 *   authenticated user is a superuser.
 */
export const pinnedOptions = [
  '-c search_path=pg_catalog,pg_temp',
  // What else a tenant may set for its role or database that would stop Steward's sessions (a
  // fingerprint batch holds several tenants' databases: one tenant's settings must not fail the others).
  '-c statement_timeout=0',
  '-c lock_timeout=0',
  '-c idle_in_transaction_session_timeout=0',
  '-c default_transaction_read_only=off',
].join(' ');

/**
 * A connection config with search_path pinned from its first statement. A
 * connection string's own `options` parameter would override the config's
 * (node-postgres lets the URL win), so there the pin goes into the URL.
 */
export function pinned<C extends pg.ClientConfig>(config: C): C {
  const join = (before: string | null | undefined): string =>
    before ? `${before} ${pinnedOptions}` : pinnedOptions;
  if (config.connectionString) {
    const url = new URL(config.connectionString);
    url.searchParams.set('options', join(url.searchParams.get('options') ?? config.options));
    const { options: _ignored, ...rest } = config;
    return { ...rest, connectionString: url.toString() } as C;
  }
  return { ...config, options: join(config.options) };
}

/** The same for a connection URL: for pools and clients that take a connection string only. */
export function pinnedUrl(url: string): pg.ClientConfig {
  return pinned({ connectionString: url });
}

/** The maintenance database, the only one superuser sessions open. */
export const maintenanceDatabase = 'postgres';

/**
 * A superuser config moved to the maintenance database, search_path pinned.
 * Whatever database it named before is ignored.
 */
export function maintenance(config: pg.ClientConfig): pg.ClientConfig {
  if (!config.connectionString) return pinned({ ...config, database: maintenanceDatabase });
  const url = new URL(config.connectionString);
  url.pathname = `/${maintenanceDatabase}`;
  return pinned({ ...config, connectionString: url.toString() });
}

/**
 * A session as a stage's own role, from its DATABASE_URL (the stage's
 * credentials), on its database or on another it is admitted to (the
 * replacement a restore copies into). search_path pinned: the queries
 * Steward sends mean what they say whatever the tenant set.
 */
export function stageRoleSession(databaseUrl: string, database?: string): StageRoleSession {
  const url = new URL(databaseUrl);
  return pinned({
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: database ?? decodeURIComponent(url.pathname.slice(1)),
  });
}

/** A stage role's session: host, port, role, password and database spelled out (for libpq's programs too). */
export interface StageRoleSession extends pg.ClientConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}
