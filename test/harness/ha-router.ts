import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Haproxy } from '../../src/dataplane/haproxy.ts';
import { defaultSettings, type PatroniSettings } from '../../src/databases/patroni/index.ts';
import { freePort } from '../../src/system/ports.ts';
import type { TestHaCluster } from './patroni.ts';

/**
 * A database router for a test cluster: HAProxy in TCP mode whose servers
 * are the members, each checked on its Patroni's GET /primary, as
 * src/databases/patroni/router.ts renders it for Steward. Stopped by stop().
 */
export interface TestRouter {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startTestRouter(
  cluster: TestHaCluster,
  settings: Pick<PatroniSettings, 'routerCheckIntervalMs' | 'routerFall' | 'routerRise'> = defaultSettings,
): Promise<TestRouter> {
  const dir = await mkdtemp(join(tmpdir(), 'steward-test-router-'));
  const port = await freePort(0);
  const config = [
    'global',
    `    stats socket ${join(dir, 'admin.sock')} mode 600 level admin expose-fd listeners`,
    'defaults',
    '    mode tcp',
    '    timeout connect 3s',
    '    timeout client 1h',
    '    timeout server 1h',
    '    timeout check 2s',
    `    default-server inter ${settings.routerCheckIntervalMs}ms fall ${settings.routerFall} rise ${settings.routerRise} on-marked-down shutdown-sessions`,
    `listen ha_${cluster.scope}`,
    `    bind 127.0.0.1:${port}`,
    '    option httpchk GET /primary',
    '    http-check expect status 200',
    ...cluster.members.map((m) => `    server ${m.name} ${m.host}:${m.pgPort} check port ${m.restPort}`),
    '',
  ].join('\n');
  await writeFile(join(dir, 'haproxy.cfg'), config);
  const haproxy = new Haproxy({
    configFile: join(dir, 'haproxy.cfg'),
    pidFile: join(dir, 'haproxy.pid'),
    masterSocket: join(dir, 'master.sock'),
    adminSocket: join(dir, 'admin.sock'),
    logFile: join(dir, 'haproxy.log'),
  });
  await haproxy.start();
  return {
    host: '127.0.0.1',
    port,
    async stop() {
      await haproxy.stop(2_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
