import pg from 'pg';

/**
 * Runs `work` on a connection of its own and always closes it. A server that
 * goes away mid-work fails `work`, not the process (the client's 'error').
 */
export async function withClient<T>(config: pg.ClientConfig, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A pool whose sessions may lose their server (a restart, a kill -9 of the
 * postmaster) without ending the process. pg-pool listens for 'error' only on
 * idle clients; a checked-out client (a transaction, a LISTEN, a query in
 * flight) without a listener of its own throws the error at the top level.
 * The failure still reaches whoever uses the session, through its query.
 */
export function tolerateServerLoss(pool: pg.Pool): pg.Pool {
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
