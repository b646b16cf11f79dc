import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Haproxy, RuntimeApiError, type HaproxyOptions } from '../../src/dataplane/index.ts';
import { issueServerCertificate } from '../../src/tls/ca.ts';
import {
  dataPlaneFixture,
  get,
  loadLoop,
  nameServer,
  plainGet,
  until,
  type DataPlaneFixture,
} from './support.ts';

/** The data plane against the real HAProxy: routes, servers and certificates changed at runtime, reloads, adoption. */

let fixture: DataPlaneFixture;
let options: HaproxyOptions;
let haproxy: Haproxy;
const servers: Server[] = [];
const ports: Record<string, number> = {};

async function backend(name: string): Promise<number> {
  const { server, port } = await nameServer(name);
  servers.push(server);
  ports[name] = port;
  return port;
}

beforeAll(async () => {
  fixture = await dataPlaneFixture([{ name: 'st_acme' }, { name: 'st_slots', slots: 2 }]);
  options = {
    configFile: fixture.configFile,
    pidFile: join(fixture.dir, 'haproxy.pid'),
    masterSocket: join(fixture.dir, 'master.sock'),
    adminSocket: fixture.state.files.adminSocket,
    logFile: join(fixture.dir, 'haproxy.log'),
  };
  for (const name of ['web-1', 'web-2', 'slot-app']) await backend(name);
  const steward = await nameServer('steward pages');
  servers.push(steward.server);
  // Steward's own pages listen on the port the config names.
  steward.server.close();
  await new Promise<void>((resolve) =>
    steward.server.listen(fixture.state.steward.port, '127.0.0.1', resolve),
  );
  haproxy = new Haproxy(options);
  const started = await haproxy.start();
  expect(started.adopted).toBe(false);
});

afterAll(async () => {
  await haproxy?.stop(2_000);
  for (const server of servers) server.close();
  if (fixture) rmSync(fixture.dir, { recursive: true, force: true });
});

describe('HAProxy as the data plane', () => {
  it('routes a host through the map at runtime, without a reload', async () => {
    const { https, files } = fixture.state;
    expect((await get(https.port, 'acme.test')).status).toBe(404);
    await haproxy.api.addServer('st_acme', 'web-1', '127.0.0.1', ports['web-1']!);
    await haproxy.api.setServerState('st_acme', 'web-1', 'ready');
    const changed = performance.now();
    await haproxy.api.putMapEntry(files.routesMap, 'acme.test', 'st_acme');
    let first = 0;
    await until('the first routed request', async () => {
      const answer = await get(https.port, 'acme.test');
      first = performance.now();
      return answer.status === 200 && answer.body === 'web-1';
    });
    const routeChangeMs = first - changed;
    console.log(`route change to first routed request: ${routeChangeMs.toFixed(1)} ms`);
    expect(routeChangeMs).toBeLessThan(1_000);
    expect(await haproxy.api.showMap(files.routesMap)).toEqual([{ key: 'acme.test', value: 'st_acme' }]);
    expect((await haproxy.showProc()).master.reloads).toBe(0);

    const answer = await get(https.port, 'acme.test');
    expect(answer.headers['strict-transport-security']).toBe('max-age=31536000');
    // Steward's pages win on every host; a host nobody routes names no tenant.
    expect((await get(https.port, 'acme.test', '/.steward/status')).body).toBe('steward pages');
    const unrouted = await get(https.port, 'other.test');
    expect(unrouted.status).toBe(404);
    expect(unrouted.body).toContain('<p>No application is served at this address.</p>');
    expect(unrouted.body).not.toContain('acme');
    const redirect = await plainGet(fixture.state.http.port, 'acme.test:80', '/a/b?c=d');
    expect([redirect.status, redirect.headers.location]).toEqual([
      301,
      `https://acme.test:${https.port}/a/b?c=d`,
    ]);
  });

  it('refuses values that would smuggle a second command, before sending anything', async () => {
    const { routesMap } = fixture.state.files;
    await expect(haproxy.api.addMapEntry(routesMap, 'evil.test;del map x', 'st_acme')).rejects.toThrow(
      /host "evil.test;del map x" is not a host name/,
    );
    await expect(
      haproxy.api.addMapEntry(routesMap, 'evil.test', 'st_acme\nshutdown sessions'),
    ).rejects.toThrow(/map value .* is not accepted/);
    await expect(haproxy.api.addServer('st_acme', 'w 1', '127.0.0.1', 1)).rejects.toThrow(/server "w 1"/);
    expect(await haproxy.api.showMap(routesMap)).toEqual([{ key: 'acme.test', value: 'st_acme' }]);
    // What HAProxy itself refuses comes back as a typed error with its answer.
    await expect(haproxy.api.setServerState('st_nothing', 'web-1', 'ready')).rejects.toBeInstanceOf(
      RuntimeApiError,
    );
  });

  it('adds, drains and removes dynamic servers under load with no failed request', async () => {
    const { https } = fixture.state;
    const load = loadLoop(https.port, 'acme.test');
    try {
      await until('load', () => load.total() > 20);
      await haproxy.api.addServer('st_acme', 'web-2', '127.0.0.1', ports['web-2']!);
      await haproxy.api.setServerState('st_acme', 'web-2', 'ready');
      await until('web-2 serving', () => (load.bodies.get('web-2') ?? 0) > 10);
      await haproxy.api.setServerState('st_acme', 'web-1', 'drain');
      await until(
        'web-1 drained',
        async () => (await haproxy.api.serverSessions('st_acme', 'web-1')).current === 0,
      );
      await until('web-1 removed', () =>
        haproxy.api.delServer('st_acme', 'web-1').then(
          () => true,
          () => false,
        ),
      );
      const before = load.bodies.get('web-1') ?? 0;
      const after = load.total();
      await until('more load', () => load.total() > after + 50);
      expect(load.bodies.get('web-1') ?? 0).toBe(before);
    } finally {
      await load.stop();
    }
    console.log(`dynamic servers: ${load.total()} requests, ${load.failures.length} failed`);
    expect(load.failures).toEqual([]);
    const rows = await haproxy.api.showServersState('st_acme');
    expect(rows.map((row) => row.server)).toEqual(['web-2']);
  });

  it('brings a server-template slot up at an address', async () => {
    const { https, files } = fixture.state;
    await haproxy.api.setServerAddress('st_slots', 'slot1', '127.0.0.1', ports['slot-app']!);
    await haproxy.api.setServerState('st_slots', 'slot1', 'ready');
    await haproxy.api.putMapEntry(files.routesMap, 'slots.test', 'st_slots');
    await until('the slot serving', async () => (await get(https.port, 'slots.test')).body === 'slot-app');
    const slot = (await haproxy.api.showServersState('st_slots')).find((row) => row.server === 'slot1');
    expect([slot?.address, slot?.port]).toEqual(['127.0.0.1', ports['slot-app']]);
  });

  it('replaces the whole map in one commit (prepare, add, commit map)', async () => {
    const { https, files } = fixture.state;
    const entries = [
      { key: 'acme.test', value: 'st_acme' },
      { key: 'slots.test', value: 'st_slots' },
      { key: 'www.acme.test', value: 'st_acme' },
    ];
    await haproxy.api.replaceMap(files.routesMap, entries);
    expect(await haproxy.api.showMap(files.routesMap)).toEqual(entries);
    expect((await get(https.port, 'www.acme.test')).body).toBe('web-2');
    await haproxy.api.delMapEntry(files.routesMap, 'www.acme.test');
    expect((await get(https.port, 'www.acme.test')).status).toBe(404);
    await expect(haproxy.api.delMapEntry(files.routesMap, 'www.acme.test')).rejects.toBeInstanceOf(
      RuntimeApiError,
    );
  });

  it('hot-swaps a certificate through the runtime API and serves it by SNI', async () => {
    const { https, files } = fixture.state;
    const certFile = join(fixture.dir, 'acme.test.pem');
    const served = (): Promise<PeerCertificate & { alpn: string | false | null }> =>
      new Promise((resolve, reject) => {
        const socket = connect(
          {
            host: '127.0.0.1',
            port: https.port,
            servername: 'acme.test',
            ca: fixture.ca.certPem,
            ALPNProtocols: ['h2', 'http/1.1'],
          },
          () => {
            resolve({ ...socket.getPeerCertificate(), alpn: socket.alpnProtocol });
            socket.end();
          },
        );
        socket.on('error', reject);
      });
    // Until the operator's certificate is there, the default one answers (and does not verify for acme.test).
    await expect(served()).rejects.toThrow(/altnames|Hostname/);
    const first = await issueServerCertificate(fixture.ca, ['acme.test']);
    const firstPem = `${first.chainPem}\n${first.keyPem}`;
    writeFileSync(certFile, firstPem, { mode: 0o600 });
    await haproxy.api.putCertificate(certFile, firstPem, { isNew: true });
    await haproxy.api.addCrtListEntry(files.crtList, certFile, ['acme.test']);
    const one = await served();
    expect(one.alpn).toBe('h2');
    const second = await issueServerCertificate(fixture.ca, ['acme.test']);
    await haproxy.api.putCertificate(certFile, `${second.chainPem}\n${second.keyPem}`, { isNew: false });
    const two = await served();
    expect(one.fingerprint256).not.toBe(two.fingerprint256);
    expect(two.serialNumber).not.toBe(one.serialNumber);
    // TLS 1.1 is refused.
    await expect(
      new Promise((resolve, reject) => {
        const socket = connect(
          {
            host: '127.0.0.1',
            port: https.port,
            servername: 'acme.test',
            maxVersion: 'TLSv1.1',
            minVersion: 'TLSv1',
            rejectUnauthorized: false,
          },
          () => resolve(socket.end()),
        );
        socket.on('error', reject);
      }),
    ).rejects.toThrow();
    await expect(haproxy.api.putCertificate(certFile, 'not a certificate', { isNew: false })).rejects.toThrow(
      /pem is not accepted/,
    );
  });

  it('reloads seamlessly under load (new and kept-alive connections) with no failed request, and counts the reload', async () => {
    const { https, files } = fixture.state;
    // What the runtime API changed goes into the files a new worker reads.
    writeFileSync(files.routesMap, 'acme.test st_acme\nslots.test st_slots\n');
    fixture.write([
      { name: 'st_acme', servers: [{ name: 'web-2', address: '127.0.0.1', port: ports['web-2']! }] },
      { name: 'st_slots', slots: 2 },
      { name: 'st_new' },
    ]);
    const before = (await haproxy.showProc()).master;
    const load = loadLoop(https.port, 'acme.test', { keepAlive: true });
    try {
      await until('load', () => load.total() > 20);
      const view = await haproxy.reload();
      expect(view.master.reloads).toBe(before.reloads + 1);
      const after = load.total();
      await until('more load', () => load.total() > after + 50);
    } finally {
      await load.stop();
    }
    console.log(`reload: ${load.total()} requests, ${load.failures.length} failed`);
    expect(load.failures).toEqual([]);
    expect(haproxy.reloads).toBe(1);
    expect((await haproxy.api.showServersState('st_new')).length).toBe(0);
  });

  it('a new driver adopts the running HAProxy by its pid file instead of starting a second', async () => {
    const pid = haproxy.pid;
    haproxy.forget();
    const next = new Haproxy(options);
    const adopted = await next.start();
    expect(adopted).toEqual({ adopted: true, pid });
    expect((await get(fixture.state.https.port, 'acme.test')).body).toBe('web-2');
    haproxy = next;
  });

  it('a kill -9 of the Steward that started HAProxy (its whole process group) leaves it serving, and the next one adopts it', async () => {
    const old = haproxy.pid;
    await haproxy.stop(5_000);
    await expect(get(fixture.state.https.port, 'acme.test')).rejects.toThrow();
    const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'haproxy-child.ts')], {
      env: { ...process.env, STEWARD_TEST_HAPROXY: JSON.stringify(options) },
      stdio: ['ignore', 'pipe', 'inherit'],
      // Its own process group, as a Steward in a terminal or a service unit has: the whole group is killed.
      detached: true,
    });
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const started = JSON.parse(line) as { adopted: boolean; pid: number };
    expect(started.adopted).toBe(false);
    expect(started.pid).not.toBe(old);
    const load = loadLoop(fixture.state.https.port, 'acme.test');
    try {
      await until('load', () => load.total() > 20);
      process.kill(-child.pid!, 'SIGKILL');
      await once(child, 'exit');
      const after = load.total();
      await until('more load', () => load.total() > after + 50);
    } finally {
      await load.stop();
    }
    console.log(`kill -9 of the driver's process: ${load.total()} requests, ${load.failures.length} failed`);
    expect(load.failures).toEqual([]);
    haproxy = new Haproxy(options);
    expect(await haproxy.start()).toEqual({ adopted: true, pid: started.pid });
  });
});
