import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { etcdBinary, startEtcd, stopEtcd, type EtcdMember } from '../../src/databases/patroni/etcd.ts';
import { postgresRunAs } from '../../src/system/exec.ts';
import { freePort } from '../../src/system/ports.ts';

/**
 * The vitest run's one etcd (global-setup): every test file that runs Patroni
 * keeps its keys under a namespace of its own (test/harness/patroni.ts).
 * Undefined when etcd is not installed.
 */
export async function startSharedEtcd(
  root: string,
): Promise<{ readonly url: string; stop(): Promise<void> } | undefined> {
  if (!existsSync(etcdBinary)) return undefined;
  const member: EtcdMember = {
    name: 'steward-test',
    dir: join(root, 'etcd'),
    host: '127.0.0.1',
    clientPort: await freePort(0),
    peerPort: await freePort(0),
  };
  const user = postgresRunAs();
  const started = await startEtcd(member, user);
  return { url: started.url, stop: () => stopEtcd(member, user) };
}
