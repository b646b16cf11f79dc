import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Haproxy } from '../../src/dataplane/haproxy.ts';

/**
 * Stops the HAProxy a `steward up` of this data dir left running (it
 * outlives a kill -9 of Steward by design): tests must not leave one behind.
 */
export async function stopLeftHaproxy(dataDir: string): Promise<void> {
  for (const dir of [join(dataDir, 'dataplane'), join(dataDir, 'dataplane-gateway')]) {
    if (existsSync(join(dir, 'haproxy.pid'))) await stopHaproxyIn(dir);
  }
}

async function stopHaproxyIn(dir: string): Promise<void> {
  const haproxy = new Haproxy({
    configFile: join(dir, 'haproxy.cfg'),
    pidFile: join(dir, 'haproxy.pid'),
    masterSocket: join(dir, 'master.sock'),
    adminSocket: join(dir, 'admin.sock'),
    logFile: join(dir, 'haproxy.log'),
  });
  await haproxy.stop(2_000);
}
