import pg from 'pg';
import type { Logger } from './log.ts';
import { errorFields } from './log.ts';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;

/** bigint columns as numbers: amounts stay below 2^53 by validation. */
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export function createPool(databaseUrl: string, logger: Logger, application: string, max = 10): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    application_name: application,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A request never waits longer than this on one statement.
    statement_timeout: 30_000,
  });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', (error) => logger.warn('idle database connection failed', errorFields(error)));
  return pool;
}

export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
