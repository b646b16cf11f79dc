import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Haproxy, type DataPlaneState, type StageBackend } from '../../src/dataplane/index.ts';
import type { GatewayLimits } from '../../src/gateway/limits.ts';
import { freePort } from '../../src/system/ports.ts';
import { issueServerCertificate } from '../../src/tls/ca.ts';
import { sendRaw, type Backend, type Reply } from '../gateway/hostile-cases.ts';
import { dataPlaneFixture, type DataPlaneFixture } from './support.ts';

/**
 * A real HAProxy from the rendered config in front of the hostile suite's
 * tenants: acme and globex, whose stage backends point at their recording
 * backends and are published on loopback ports of their own, and sleepy, a
 * stage with no instance; certificates for their hosts from the fixture's
 * CA in the crt-list, routes in the map.
 */
export interface Edge {
  readonly fixture: DataPlaneFixture;
  readonly haproxy: Haproxy;
  readonly port: number;
}

export interface Tenants {
  readonly acme: Backend;
  readonly globex: Backend;
}

async function stageBackends(tenants: Tenants): Promise<StageBackend[]> {
  return [
    {
      name: 'st_acme',
      tenant: 'acme',
      publishedPort: await freePort(),
      servers: [{ name: 'web-1', address: '127.0.0.1', port: tenants.acme.port }],
    },
    {
      name: 'st_globex',
      tenant: 'globex',
      publishedPort: await freePort(),
      servers: [{ name: 'web-1', address: '127.0.0.1', port: tenants.globex.port }],
    },
    { name: 'st_sleepy', tenant: 'sleepy' },
  ];
}

/** Starts an edge with these limits; the caller stops it with stopEdge. */
export async function startEdge(
  tenants: Tenants,
  limits: GatewayLimits,
  options: Partial<Pick<DataPlaneState, 'accessLog' | 'activator'>> = {},
): Promise<Edge> {
  const fixture = await dataPlaneFixture(await stageBackends(tenants), { limits, ...options });
  const { files } = fixture.state;
  const crtList: string[] = [];
  for (const tenant of ['acme', 'globex']) {
    const names = [`${tenant}.localhost`, `prod.${tenant}.localhost`];
    const issued = await issueServerCertificate(fixture.ca, names);
    const file = join(fixture.dir, `${tenant}.pem`);
    writeFileSync(file, `${issued.chainPem}\n${issued.keyPem}`, { mode: 0o600 });
    crtList.push(`${file} ${names.join(' ')}`);
  }
  writeFileSync(files.crtList, `${crtList.join('\n')}\n`);
  writeFileSync(
    files.routesMap,
    ['acme', 'globex', 'sleepy']
      .flatMap((t) => [`${t}.localhost st_${t}`, `prod.${t}.localhost st_${t}`])
      .join('\n') + '\n',
  );
  const haproxy = new Haproxy({
    configFile: fixture.configFile,
    pidFile: join(fixture.dir, 'haproxy.pid'),
    masterSocket: join(fixture.dir, 'master.sock'),
    adminSocket: files.adminSocket,
    logFile: join(fixture.dir, 'haproxy.log'),
  });
  const edge = { fixture, haproxy, port: fixture.state.https.port };
  try {
    await haproxy.start();
  } catch (error) {
    await stopEdge(edge);
    throw error;
  }
  return edge;
}

export async function stopEdge(edge: Edge): Promise<void> {
  await edge.haproxy.stop(1_000);
  rmSync(edge.fixture.dir, { recursive: true, force: true });
}

/** Raw bytes over TLS to an edge, SNI acme unless told otherwise. */
export function sendTo(
  edge: Edge,
  chunks: string | readonly (string | number)[],
  options: { sni?: string | null; waitMs?: number } = {},
): Promise<Reply> {
  return sendRaw(chunks, { ...options, port: edge.port, ca: edge.fixture.ca.certPem });
}
