import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Haproxy } from '../dataplane/haproxy.ts';
import type { ControlRoute } from './plan.ts';

/**
 * This node's database router for the control database: HAProxy in TCP
 * mode, the standard HAProxy-with-Patroni setup. Every member is a server,
 * health-checked on Patroni's REST API (`GET /primary` answers 200 only on
 * the leader), so connections to the router's port reach the primary
 * wherever it is; sessions to a member that stops being primary are cut at
 * once (`on-marked-down shutdown-sessions`), and the clients reconnect to
 * the new one. Detached and adopted after a kill -9 (dataplane/haproxy.ts).
 */
export function renderControlRouter(route: ControlRoute, files: RouterFiles): string {
  return [
    'global',
    '    master-worker',
    `    stats socket ${files.adminSocket} mode 600 level admin`,
    '',
    'defaults',
    '    mode tcp',
    '    timeout connect 2s',
    // Long: a session of the job runner or LISTEN may idle for minutes; a dead primary cuts it anyway.
    '    timeout client 30m',
    '    timeout server 30m',
    '    timeout check 1s',
    '',
    `listen ${route.name}`,
    `    bind 127.0.0.1:${route.port}`,
    '    option httpchk GET /primary',
    '    http-check expect status 200',
    '    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions',
    ...route.members.map((m) => `    server ${m.name} ${m.host}:${m.pgPort} check port ${m.restPort}`),
    '',
  ].join('\n');
}

export interface RouterFiles {
  readonly dir: string;
  readonly configFile: string;
  readonly pidFile: string;
  readonly masterSocket: string;
  readonly adminSocket: string;
  readonly logFile: string;
}

export function routerFiles(dataDir: string): RouterFiles {
  const dir = join(dataDir, 'router');
  return {
    dir,
    configFile: join(dir, 'haproxy.cfg'),
    pidFile: join(dir, 'haproxy.pid'),
    masterSocket: join(dir, 'master.sock'),
    adminSocket: join(dir, 'admin.sock'),
    logFile: join(dir, 'haproxy.log'),
  };
}

/** Writes the config and starts or adopts the router; a changed config is reloaded into a running one. */
export async function ensureControlRouter(
  dataDir: string,
  route: ControlRoute,
  binary?: string,
): Promise<Haproxy> {
  const files = routerFiles(dataDir);
  await mkdir(files.dir, { recursive: true, mode: 0o700 });
  const text = renderControlRouter(route, files);
  const before = await readFile(files.configFile, 'utf8').catch(() => undefined);
  await writeFile(files.configFile, text, { mode: 0o600 });
  const haproxy = new Haproxy({ ...files, ...(binary ? { binary } : {}) });
  const started = await haproxy.start();
  if (started.adopted && before !== text) await haproxy.reload();
  return haproxy;
}
