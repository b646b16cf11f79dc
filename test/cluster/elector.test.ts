import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Elector, LeaseStore, type LeaseHolder } from '../../src/cluster/index.ts';
import {
  bootstrapControlDatabase,
  replaceDatabase,
  withCredentials,
} from '../../src/databases/local-cluster.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { appPassword, dropTestInstance } from '../harness/steward.ts';
import { eventually } from '../cli/process.ts';

/**
 * Two electors on one lease against the real control database; one reaches
 * it through a TCP relay that the test freezes (a network partition: its
 * renewal neither fails nor answers). The partitioned holder stops its loop
 * on its own deadline, before the other node can take the lease: their
 * passes never overlap.
 */
const ttlMs = 1500;
const renewMs = ttlMs / 3;

/** A TCP relay to PostgreSQL that can hold all bytes both ways (a partition) and let them go again. */
async function relay(target: { host: string; port: number }): Promise<{
  port: number;
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}> {
  const sockets: Socket[] = [];
  let frozen = false;
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.push(client, upstream);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      if (frozen) from.pause();
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    freeze: () => {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    thaw: () => {
      frozen = false;
      for (const s of sockets) s.resume();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('a holder cut off from the control database', () => {
  const superuserUrl = inject('pgSuperuserUrl');
  const id = randomBytes(3).toString('hex');
  const database = `elect_${id}`;
  let direct: ControlStore;
  let partitioned: ControlStore;
  let proxy: Awaited<ReturnType<typeof relay>>;
  const electors: Elector[] = [];

  beforeAll(async () => {
    await bootstrapControlDatabase(superuserUrl, database, appPassword, { template: 'steward_template' });
    const url = new URL(withCredentials(replaceDatabase(superuserUrl, database), 'steward_app', appPassword));
    direct = openControlStore(url.toString(), { max: 2 });
    proxy = await relay({ host: url.hostname, port: Number(url.port) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    partitioned = openControlStore(url.toString(), { max: 2 });
  });

  afterAll(async () => {
    // The relay first: the partitioned holder's hung renewal fails, and it stops at once.
    await proxy?.close();
    for (const e of electors) await e.stop();
    await partitioned?.close().catch(() => undefined);
    await direct?.close();
    await dropTestInstance(superuserUrl, database, `none${id}_`);
  });

  it('stops its loop on its own deadline, before the other takes the lease: no overlap', async () => {
    const passes: { node: string; start: number; end: number }[] = [];
    const elector = (store: ControlStore, node: string): Elector => {
      const holder: LeaseHolder = { node, incarnation: randomUUID() };
      const e = new Elector({
        leases: new LeaseStore(store.db),
        lease: 'operations',
        holder,
        ttlMs,
        logger: pino({ level: 'silent' }),
        loops: [
          {
            name: 'work',
            everyMs: 50,
            pass: async () => {
              const start = performance.now();
              await new Promise((r) => setTimeout(r, 20));
              passes.push({ node, start, end: performance.now() });
            },
          },
        ],
      });
      electors.push(e);
      return e;
    };
    const x = elector(partitioned, 'x');
    const y = elector(direct, 'y');
    await x.start();
    await y.start();
    expect(x.term?.epoch).toBeDefined();
    expect(y.term).toBeUndefined();
    await eventually('x works', () => Promise.resolve(passes.length >= 3 || undefined), 5000, 20);

    proxy.freeze();
    const frozenAt = performance.now();
    await eventually('y holds the lease', () => Promise.resolve(y.term ?? undefined), 10_000, 20);
    const tookOver = performance.now();
    await eventually(
      'y works',
      () => Promise.resolve(passes.some((p) => p.node === 'y') || undefined),
      5000,
      20,
    );

    const lastX = Math.max(...passes.filter((p) => p.node === 'x').map((p) => p.end));
    const firstY = Math.min(...passes.filter((p) => p.node === 'y').map((p) => p.start));
    // x gave up without any answer, within a ttl of its partition; y began only after x's last pass ended.
    expect(x.term).toBeUndefined();
    expect(lastX).toBeLessThan(frozenAt + ttlMs);
    expect(lastX).toBeLessThan(firstY);
    // y took over once the lease ran out: after the ttl from x's last renewal, within a ttl and a renew interval.
    expect(tookOver - frozenAt).toBeLessThan(ttlMs + renewMs + 1000);
    expect(y.term?.epoch).toBe('2');

    // The partition heals: x's held-up renewal arrives late and finds y's lease; x stays a follower.
    proxy.thaw();
    await new Promise((r) => setTimeout(r, ttlMs));
    expect(x.term).toBeUndefined();
    expect(y.term?.epoch).toBe('2');
    // And takes over again when y goes.
    await y.stop();
    await eventually('x holds the lease again', () => Promise.resolve(x.term ?? undefined), 10_000, 20);
    expect(x.term?.epoch).toBe('3');
  });
});
