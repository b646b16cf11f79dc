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
