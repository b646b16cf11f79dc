import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));
/** Any constant works; it only has to be the same for every Steward process. */
const migrationLockKey = 0x5737_0001;

export const controlRoles = { owner: 'steward_owner', app: 'steward_app', audit: 'steward_audit' } as const;

export interface MigrationReport {
  readonly applied: readonly string[];
}

/**
 * Applies the plain SQL migrations in order, each in its own transaction,
 * under an advisory lock so that two starts cannot race. Tables are owned by
 * the owner role when it exists; the app role gets what it needs and no more:
 * it can read and append the audit log but not change or remove from it, and
 * reach the audit chain's head (schema audit, owned by steward_audit) only to
 * read it and to reserve the next place.
 */
export async function migrate(
  adminUrl: string,
  options: { readonly until?: string } = {},
): Promise<MigrationReport> {
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'steward-migrate' });
  // A server that goes away fails the migration (and the start), with its message, not the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [migrationLockKey]);
    const owner = await roleExists(client, controlRoles.owner);
    const app = await roleExists(client, controlRoles.app);
    if (owner) await client.query(`set role ${controlRoles.owner}`);
    await client.query(
      'create table if not exists schema_migrations (name text primary key, applied_at timestamptz not null default now())',
    );
    const done = new Set(
      (await client.query<{ name: string }>('select name from schema_migrations')).rows.map((r) => r.name),
    );
    // `until` (a file name or its number, e.g. "0011"): a database as an older Steward left it, for tests of upgrades.
    const files = (await readdir(migrationsDir))
      .filter(
        (f) =>
          f.endsWith('.sql') && (options.until === undefined || f.slice(0, 4) <= options.until.slice(0, 4)),
      )
      .sort();
    const applied: string[] = [];
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(migrationsDir + file, 'utf8');
      await client.query('begin');
      try {
        await client.query(sql);
        await client.query('insert into schema_migrations (name) values ($1)', [file]);
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw new Error(`migration ${file} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push(file);
    }
    if (app) {
      await client.query(`grant usage on schema public to ${controlRoles.app}`);
      await client.query(
        `grant select, insert, update, delete on all tables in schema public to ${controlRoles.app}`,
      );
      await client.query(`grant usage, select on all sequences in schema public to ${controlRoles.app}`);
      await client.query(`revoke update, delete, truncate on audit_events from ${controlRoles.app}`);
      await client.query(
        `revoke insert, update, delete, truncate on schema_migrations from ${controlRoles.app}`,
      );
      // The chain's head: the app may read it and reserve the next place, never write it.
      if (await schemaExists(client, 'audit')) {
        await client.query(`grant usage on schema audit to ${controlRoles.app}`);
        await client.query(`grant select on audit.head to ${controlRoles.app}`);
        await client.query(`grant execute on function audit.reserve() to ${controlRoles.app}`);
      }
    }
    if (owner) await client.query('reset role');
    await client.query('select pg_advisory_unlock($1)', [migrationLockKey]);
    return { applied };
  } finally {
    await client.end();
  }
}

async function roleExists(client: pg.Client, role: string): Promise<boolean> {
  const result = await client.query('select 1 from pg_roles where rolname = $1', [role]);
  return result.rowCount === 1;
}

async function schemaExists(client: pg.Client, schema: string): Promise<boolean> {
  const result = await client.query('select 1 from pg_namespace where nspname = $1', [schema]);
  return result.rowCount === 1;
}
