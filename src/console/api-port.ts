import { createServer } from 'node:net';
import { previousApiPort } from './edge.ts';

/**
 * The API's port: the configured one, or with port 0 the one it had last time
 * if that is free (else any free one), chosen before the data plane starts so
 * the console's route in HAProxy's config stays the same across restarts.
 */
export async function chooseApiPort(host: string, port: number, dataDir: string): Promise<number> {
  if (port !== 0) return port;
  const previous = await previousApiPort(dataDir);
  if (previous !== undefined && (await portFree(host, previous))) return previous;
  return anyFreePort(host);
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const probe = createServer();
    probe.once('error', () => resolveFree(false));
    probe.listen(port, host, () => probe.close(() => resolveFree(true)));
  });
}

function anyFreePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
