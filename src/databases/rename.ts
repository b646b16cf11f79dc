import type pg from 'pg';
import { quoteIdent } from './sql.ts';

/** A stage's database and role under their old name and their new one. */
export interface ObservedRename {
  readonly fromDatabase: boolean;
  readonly fromRole: boolean;
  /** The old role may still log in: its apps could reconnect between the terminate and the rename. */
  readonly fromRoleCanLogin: boolean;
  readonly toDatabase: boolean;
  readonly toRole: boolean;
}

/**
 * Renaming a stage's database and role in a cluster, over a superuser pool
 * (on the maintenance database, search_path pinned, SQL qualified: see
 * ./privileged.ts).
 * Nothing here runs inside the stage's database: ALTER DATABASE and ALTER
 * ROLE are cluster-wide commands issued from the maintenance database.
 */
export interface StageRenames {
  observeRename(from: string, to: string): Promise<ObservedRename>;
  /** The old role may no longer log in (ALTER ROLE ... NOLOGIN); its sessions stay until the rename ends them. */
  blockLogins(role: string): Promise<void>;
  /** Ends the sessions on the database (it cannot be renamed while in use) and renames it. */
  renameDatabase(from: string, to: string): Promise<void>;
  /** ALTER ROLE ... RENAME keeps a SCRAM verifier (only MD5 ones are salted with the name). */
  renameRole(from: string, to: string): Promise<void>;
}

export function renameOperations(pool: pg.Pool): StageRenames {
  return {
    async observeRename(from, to) {
      const { rows } = await pool.query<{
        from_database: boolean;
        from_role: boolean;
        from_role_can_login: boolean;
        to_database: boolean;
        to_role: boolean;
      }>(
        `select
           exists (select 1 from pg_catalog.pg_database where datname operator(pg_catalog.=) $1) as from_database,
           exists (select 1 from pg_catalog.pg_roles where rolname operator(pg_catalog.=) $1) as from_role,
           exists (select 1 from pg_catalog.pg_roles
                   where rolname operator(pg_catalog.=) $1 and rolcanlogin) as from_role_can_login,
           exists (select 1 from pg_catalog.pg_database where datname operator(pg_catalog.=) $2) as to_database,
           exists (select 1 from pg_catalog.pg_roles where rolname operator(pg_catalog.=) $2) as to_role`,
        [from, to],
      );
      const row = rows[0];
      if (!row) throw new Error('observeRename returned no row');
      return {
        fromDatabase: row.from_database,
        fromRole: row.from_role,
        fromRoleCanLogin: row.from_role_can_login,
        toDatabase: row.to_database,
        toRole: row.to_role,
      };
    },

    async blockLogins(role) {
      await pool.query(`alter role ${quoteIdent(role)} nologin`);
    },

    async renameDatabase(from, to) {
      await pool.query(
        'select pg_catalog.pg_terminate_backend(pid) from pg_catalog.pg_stat_activity where datname operator(pg_catalog.=) $1',
        [from],
      );
      await pool.query(`alter database ${quoteIdent(from)} rename to ${quoteIdent(to)}`);
    },

    async renameRole(from, to) {
      await pool.query(`alter role ${quoteIdent(from)} rename to ${quoteIdent(to)}`);
    },
  };
}
