import { mkdtemp, readFile, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRunning } from '../../../src/databases/patroni/daemon.ts';
import {
  etcdDeletePrefix,
  etcdKeys,
  startEmbeddedEtcd,
  stopEtcd,
} from '../../../src/databases/patroni/index.ts';
import { postgresRunAs } from '../../../src/system/exec.ts';
import { patroniAvailable } from '../../harness/patroni.ts';

/** The etcd member Steward runs itself when config ha.etcd is absent: started, adopted, keys removed, stopped. */
describe.skipIf(!patroniAvailable)('the embedded etcd', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps its ports, is adopted by the next Steward, removes a prefix, and stops', async () => {
    dir = await mkdtemp(join(tmpdir(), 'steward-test-etcd-'));
    await chmod(dir, 0o711);
    const user = postgresRunAs();
    const first = await startEmbeddedEtcd(join(dir, 'etcd'), user);
    try {
      expect(first.adopted).toBe(false);
      const ports = JSON.parse(await readFile(join(dir, 'etcd', 'ports.json'), 'utf8')) as { client: number };
      expect(first.url).toBe(`http://127.0.0.1:${ports.client}`);
      // A Steward started after a kill -9 finds it running (pid file or command line) and keeps it.
      const second = await startEmbeddedEtcd(join(dir, 'etcd'), user);
      expect(second).toMatchObject({ adopted: true, url: first.url });
      for (const key of ['/steward/a/leader', '/steward/a/members/x', '/steward/ab/leader']) {
        const response = await fetch(`${first.url}/v3/kv/put`, {
          method: 'POST',
          body: JSON.stringify({
            key: Buffer.from(key).toString('base64'),
            value: Buffer.from('v').toString('base64'),
          }),
        });
        expect(response.ok).toBe(true);
      }
      expect(await etcdDeletePrefix([first.url], '/steward/a/')).toBe(2);
      expect(await etcdKeys([first.url], '/steward/')).toEqual(['/steward/ab/leader']);
    } finally {
      const pid = Number(await readFile(join(dir, 'etcd', 'etcd.pid'), 'utf8'));
      await stopEtcd(first.member, user);
      expect(await isRunning(pid)).toBe(false);
    }
  });
});
