import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import {
  allowListFile,
  allowListText,
  Haproxy,
  renderErrorPages,
  renderHaproxyConfig,
  type DataPlaneState,
  type StageBackend,
} from '../../src/dataplane/index.ts';
import { gatewayLimitDefaults } from '../../src/gateway/limits.ts';
import { freePort } from '../../src/system/ports.ts';
import { createCa, issueServerCertificate, type CertificateAuthority } from '../../src/tls/ca.ts';

/** A data plane's files in a fresh /tmp/st- directory, a CA and a default certificate, on free loopback ports. */
export interface DataPlaneFixture {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  readonly state: DataPlaneState;
  readonly configFile: string;
  write(backends: readonly StageBackend[]): void;
}

export async function dataPlaneFixture(
  backends: readonly StageBackend[],
  options: Partial<Pick<DataPlaneState, 'limits' | 'accessLog' | 'activator'>> = {},
): Promise<DataPlaneFixture> {
  const dir = mkdtempSync('/tmp/st-dp-');
  const ca = await createCa('Steward test CA');
  const fallback = await issueServerCertificate(ca, ['default.test']);
  const files = {
    adminSocket: join(dir, 'admin.sock'),
    routesMap: join(dir, 'routes.map'),
    defaultCertificate: join(dir, 'default.pem'),
    crtList: join(dir, 'crt-list.txt'),
    errorDir: join(dir, 'errors'),
    allowDir: join(dir, 'allow'),
    maintenanceMap: join(dir, 'maintenance.map'),
    tenantLimits: join(dir, 'tenant-limits.map'),
  };
  mkdirSync(files.errorDir);
  mkdirSync(files.allowDir);
  for (const page of renderErrorPages()) writeFileSync(join(files.errorDir, page.name), page.content);
  writeFileSync(files.maintenanceMap, '');
  writeFileSync(files.tenantLimits, '');
  writeFileSync(files.defaultCertificate, `${fallback.chainPem}\n${fallback.keyPem}`, { mode: 0o600 });
  writeFileSync(files.crtList, '');
  writeFileSync(files.routesMap, '');
  const loopback = async () => ({ address: '127.0.0.1', port: await freePort() });
  const base = {
    files,
    https: await loopback(),
    http: await loopback(),
    stats: await loopback(),
    steward: await loopback(),
    hstsMaxAgeSeconds: 31_536_000,
    runAs: { user: 'haproxy', group: 'haproxy' },
    threads: 2,
    limits: gatewayLimitDefaults,
    ...options,
  };
  const configFile = join(dir, 'haproxy.cfg');
  const fixture = {
    dir,
    ca,
    configFile,
    state: { ...base, backends },
    write(next: readonly StageBackend[]) {
      fixture.state = { ...base, backends: next };
      for (const backend of next) {
        const file = allowListFile(files, backend.name);
        if (!existsSync(file)) writeFileSync(file, allowListText(undefined));
      }
      writeFileSync(configFile, renderHaproxyConfig(fixture.state));
    },
  };
  fixture.write(backends);
  return fixture;
}

/** The HAProxy of a fixture's files (validate, start, stop). */
export function fixtureHaproxy(fixture: DataPlaneFixture): Haproxy {
  return new Haproxy({
    configFile: fixture.configFile,
    pidFile: join(fixture.dir, 'haproxy.pid'),
    masterSocket: join(fixture.dir, 'master.sock'),
    adminSocket: fixture.state.files.adminSocket,
    logFile: join(fixture.dir, 'haproxy.log'),
  });
}

/** A real HTTP backend that answers every request with its own name. */
export async function nameServer(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(name));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** One HTTPS request on a new connection, with SNI and Host set to `host`. */
export function get(port: number, host: string, path = '/', agent: Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        servername: host,
        headers: { host },
        rejectUnauthorized: false,
        agent,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export function plainGet(port: number, host: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: '', headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Requests in `concurrency` loops until stopped; counts answers by body, and
 * anything but a 200 as failed. With `keepAlive`, half the loops reuse their
 * connections (no retry: a connection closed under a request counts as failed).
 */
export function loadLoop(
  port: number,
  host: string,
  options: { concurrency?: number; keepAlive?: boolean } = {},
) {
  const concurrency = options.concurrency ?? 4;
  const bodies = new Map<string, number>();
  const failures: string[] = [];
  let running = true;
  const agents: Agent[] = [];
  const loop = async (_: unknown, index: number) => {
    const agent =
      options.keepAlive && index % 2 === 1 ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    if (agent) agents.push(agent);
    while (running) {
      try {
        const answer = await get(port, host, '/', agent);
        if (answer.status === 200) bodies.set(answer.body, (bodies.get(answer.body) ?? 0) + 1);
        else failures.push(`${answer.status} ${answer.body}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    bodies,
    failures,
    total: () => [...bodies.values()].reduce((a, b) => a + b, 0) + failures.length,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      for (const agent of agents) agent.destroy();
    },
  };
}

export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
