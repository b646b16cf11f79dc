import type pg from 'pg';
import type { ClusterInventory, DatabaseDriver, ObservedStageDatabase } from './driver.ts';
import { quoteIdent, quoteLiteral, scramVerifier } from './sql.ts';

/**
 * What every driver does inside a running PostgreSQL server, over a superuser
 * pool on the maintenance database with search_path pinned (see
 * ./privileged.ts): catalog reads and DDL on databases and roles only, every
 * function and operator qualified, never a statement inside a stage's database.
 */
export type CatalogOperations = Pick<
  DatabaseDriver,
  'observe' | 'inventory' | 'ensureRole' | 'ensureDatabase' | 'restrictAccess' | 'dropDatabase' | 'dropRole'
>;

/** Connections a stage's role may hold at once in its cluster (PostgreSQL's CONNECTION LIMIT). */
export const stageRoleConnectionLimit = 50;

export function catalogOperations(pool: pg.Pool): CatalogOperations {
  return {
    async observe(name): Promise<ObservedStageDatabase> {
      const { rows } = await pool.query<{
        role_exists: boolean;
        role_is_plain: boolean;
        database_exists: boolean;
        owned_by_role: boolean;
        public_can_connect: boolean;
        connections: number;
      }>(
        `select
           r.oid is not null as role_exists,
           coalesce(r.rolcanlogin and not (r.rolsuper or r.rolcreatedb or r.rolcreaterole or r.rolreplication or r.rolbypassrls), false) as role_is_plain,
           d.oid is not null as database_exists,
           coalesce(d.datdba operator(pg_catalog.=) r.oid, false) as owned_by_role,
           coalesce(d.oid is not null and (d.datacl is null or exists (
             select 1 from pg_catalog.aclexplode(d.datacl) a
             where a.grantee operator(pg_catalog.=) 0::pg_catalog.oid
               and a.privilege_type operator(pg_catalog.=) 'CONNECT')), false) as public_can_connect,
           (select pg_catalog.count(*)::pg_catalog.int4 from pg_catalog.pg_stat_activity
            where datname operator(pg_catalog.=) n.name) as connections
         from (select $1::pg_catalog.name as name) n
         left join pg_catalog.pg_roles r on r.rolname operator(pg_catalog.=) n.name
         left join pg_catalog.pg_database d on d.datname operator(pg_catalog.=) n.name`,
        [name],
      );
      const row = rows[0];
      if (!row) throw new Error('observe returned no row');
      return {
        serverRunning: true,
        roleExists: row.role_exists,
        roleIsPlain: row.role_is_plain,
        databaseExists: row.database_exists,
        ownedByRole: row.owned_by_role,
        publicCanConnect: row.public_can_connect,
        connections: row.connections,
      };
    },

    async inventory(prefix): Promise<ClusterInventory> {
      const pattern = `${prefix.replaceAll('_', '\\_')}%`;
      const databases = await pool.query<{ name: string }>(
        'select datname as name from pg_catalog.pg_database where datname operator(pg_catalog.~~) $1 order by 1',
        [pattern],
      );
      const roles = await pool.query<{ name: string }>(
        'select rolname as name from pg_catalog.pg_roles where rolname operator(pg_catalog.~~) $1 order by 1',
        [pattern],
      );
      return { databases: databases.rows.map((r) => r.name), roles: roles.rows.map((r) => r.name) };
    },

    async ensureRole(name, password) {
      const attributes = `login nosuperuser nocreatedb nocreaterole inherit noreplication nobypassrls connection limit ${stageRoleConnectionLimit}`;
      const exists = await pool.query(
        'select 1 from pg_catalog.pg_roles where rolname operator(pg_catalog.=) $1',
        [name],
      );
      if (exists.rowCount === 0) {
        try {
          await pool.query(
            `create role ${quoteIdent(name)} ${attributes} password ${quoteLiteral(scramVerifier(password))}`,
          );
          return;
        } catch (error) {
          // Another pass created it in the meantime: fall through and make it right.
          if ((error as { code?: string }).code !== '42710') throw error;
        }
      }
      await pool.query(
        `alter role ${quoteIdent(name)} ${attributes} password ${quoteLiteral(scramVerifier(password))}`,
      );
    },

    async ensureDatabase(name) {
      const exists = await pool.query<{ owner: string }>(
        'select pg_catalog.pg_get_userbyid(datdba) as owner from pg_catalog.pg_database where datname operator(pg_catalog.=) $1',
        [name],
      );
      if (exists.rowCount === 0) {
        try {
          await pool.query(
            `create database ${quoteIdent(name)} owner ${quoteIdent(name)} template template0 encoding 'UTF8'`,
          );
        } catch (error) {
          if ((error as { code?: string }).code !== '42P04') throw error;
        }
      } else if (exists.rows[0]?.owner !== name) {
        await pool.query(`alter database ${quoteIdent(name)} owner to ${quoteIdent(name)}`);
      }
    },

    async restrictAccess(name) {
      await pool.query(`revoke all on database ${quoteIdent(name)} from public`);
      await pool.query(`grant connect, temporary on database ${quoteIdent(name)} to ${quoteIdent(name)}`);
    },

    async dropDatabase(name) {
      await pool.query(`drop database if exists ${quoteIdent(name)} with (force)`);
    },

    async dropRole(name) {
      await pool.query(`drop role if exists ${quoteIdent(name)}`);
    },
  };
}
