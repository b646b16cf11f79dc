import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { ControlDatabase } from './schema.ts';
import { tolerateServerLoss } from '../databases/client.ts';

export type ControlDb = Kysely<ControlDatabase>;
export type ControlTx = Transaction<ControlDatabase>;
/** Either the database or a transaction: services accept both so callers can compose them. */
export type Queryable = Kysely<ControlDatabase>;

export interface ControlStore {
  readonly db: ControlDb;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

export function openControlStore(
  url: string,
  options: { max?: number; applicationName?: string } = {},
): ControlStore {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'steward',
    idleTimeoutMillis: 30_000,
  });
  // A client that loses its server, idle or in use, must not crash the process.
  tolerateServerLoss(pool);
  const db = new Kysely<ControlDatabase>({ dialect: new PostgresDialect({ pool }) });
  let closing: Promise<void> | undefined;
  return {
    db,
    pool,
    close: () => (closing ??= db.destroy()),
  };
}
