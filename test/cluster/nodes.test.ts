import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseStore, NodeMembership, operationsLease, type NodeView } from '../../src/cluster/index.ts';
import { ConflictError } from '../../src/core/errors.ts';
import { openControlStore, type ControlStore } from '../../src/store/db.ts';
import { startTestSteward, testUidBase, type TestSteward } from '../harness/steward.ts';
import { eventually } from '../cli/process.ts';

/**
 * Three Stewards against one control database (in one process): each
 * registers a node and serves the API; the operations loop's singletons run
 * on exactly one of them, and move to another within a renew interval when
 * it stops. A second process under a live node's name is refused. (A kill -9
 * is process-kill.test.ts's.)
 */
const leaseSeconds = 2;
const config = {
  node: { leaseSeconds },
  monitoring: { intervalSeconds: 1, tickMs: 200, timeoutMs: 800 },
};

describe('several Steward nodes on one control database', () => {
  let a: TestSteward;
  const others: TestSteward[] = [];
  const dirs: string[] = [];
  let store: ControlStore;
  /** Probes seen by each node's check runner. */
  const probes = new Map<TestSteward, number>();

  /** Another node: its own data dir (the same master key), the same control database. */
  async function another(): Promise<TestSteward> {
    const dataDir = await mkdtemp(join(tmpdir(), 'st-node-'));
    await chmod(dataDir, 0o711);
    dirs.push(dataDir);
    await copyFile(join(a.dataDir, 'master.key'), join(dataDir, 'master.key'));
    const node = await startTestSteward({
      reuse: {
        ...a,
        dataDir,
        config: { ...a.config, runtime: { ...a.config.runtime, uidBase: testUidBase() } },
      },
      config,
    });
    others.push(node);
    return node;
  }
  const all = (): TestSteward[] => [a, ...others];
  const nodeName = (t: TestSteward): string => t.steward.cluster.node?.holder.node ?? '';
  const holders = (): TestSteward[] => all().filter((t) => t.steward.cluster.elector?.term !== undefined);
  // Each start issues the owner a new local token, which revokes the one before: the newest is good on every node.
  const token = (): string => (others.at(-1) ?? a).token;
  const listNodes = async (via: TestSteward): Promise<NodeView[]> => {
    const res = await via.request('GET', '/api/v1/nodes', undefined, token());
    expect(res.status, res.text).toBe(200);
    return res.body.nodes as NodeView[];
  };

  beforeAll(async () => {
    a = await startTestSteward({ config });
    await another();
    await another();
    for (const t of all()) {
      probes.set(t, 0);
      t.services.checkRunner.onProbe(() => probes.set(t, (probes.get(t) ?? 0) + 1));
    }
    store = openControlStore(a.controlUrl, { max: 2 });
    // Built-in checks for the runner to probe: a tenant with one stage.
    const last = others.at(-1) as TestSteward;
    await last.request('POST', '/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
    await last.waitForStages('acme');
  }, 120_000);

  afterAll(async () => {
    for (const t of others) await t.steward.stop();
    await store?.close();
    await a?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('shows every node live with its API URL; exactly one holds the operations lease', async () => {
    expect(holders()).toEqual([a]);
    const nodes = await listNodes(others[0] as TestSteward);
    expect(nodes.map((n) => n.name).sort()).toEqual(all().map(nodeName).sort());
    for (const n of nodes) {
      expect(n.health).toBe('live');
      expect(n.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(n.pid).toBe(process.pid);
      expect(n.leases).toEqual(n.name === nodeName(a) ? [operationsLease] : []);
    }
  });

  it('tells Prometheus which node holds the lease', async () => {
    const held = async (t: TestSteward): Promise<string | undefined> =>
      /^steward_lease_held\{lease="operations"\} (\d)$/m.exec(
        (await t.request('GET', '/metrics', undefined, token())).text,
      )?.[1];
    expect(await Promise.all(all().map(held))).toEqual(['1', undefined, undefined]);
  });

  it('runs the singletons on the holder only: only its check runner probes', async () => {
    for (const t of all()) probes.set(t, 0);
    await eventually(
      'the holder probes',
      () => Promise.resolve((probes.get(a) ?? 0) >= 3 || undefined),
      20_000,
      100,
    );
    expect(others.map((t) => probes.get(t))).toEqual([0, 0]);
  });

  it('refuses a second process under a live node name, naming it, and changes nothing', async () => {
    const before = await store.db.selectFrom('nodes').selectAll().orderBy('name').execute();
    const intruder = new NodeMembership({
      db: store.db,
      leases: new LeaseStore(store.db),
      name: nodeName(a),
      leaseMs: leaseSeconds * 1000,
      logger: pino({ level: 'silent' }),
    });
    const refused = await intruder.start().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as ConflictError).field).toBe('node.name');
    expect((refused as Error).message).toMatch(
      new RegExp(
        `^node\\.name ${nodeName(a)} is taken: a live node has this name: process ${process.pid} on .+, last heartbeat \\d+\\.\\d s ago; give this process another node\\.name`,
      ),
    );
    expect(await store.db.selectFrom('nodes').selectAll().orderBy('name').execute()).toEqual(before);
  });

  it('moves the singletons to another node within a renew interval when the holder stops; the old term is fenced', async () => {
    const leases = new LeaseStore(store.db);
    const oldTerm = a.steward.cluster.elector?.term;
    const oldHolder = a.steward.cluster.node?.holder;
    if (!oldTerm || !oldHolder) throw new Error('a holds no term');
    expect(await store.db.transaction().execute((tx) => leases.stillHeld(tx, oldTerm, oldHolder))).toBe(true);
    // Steward's stop begins with its elector's: the loops stop and the lease is given up.
    await a.steward.cluster.elector?.stop();
    const releasedAt = Date.now();
    const next = await eventually(
      'another node holds the lease',
      () => Promise.resolve(holders().find((t) => t !== a)),
      10_000,
      20,
    );
    // Given up: the next round of any node takes it (a round every third of the ttl), not the ttl later.
    expect(Date.now() - releasedAt).toBeLessThan((leaseSeconds * 1000) / 3 + 1000);
    await a.steward.stop();
    expect(holders()).toEqual([next]);
    const term = next.steward.cluster.elector?.term;
    expect(BigInt(term?.epoch ?? '0')).toBe(BigInt(oldTerm.epoch) + 1n);
    expect(await store.db.transaction().execute((tx) => leases.stillHeld(tx, oldTerm, oldHolder))).toBe(
      false,
    );
    const count = probes.get(next) ?? 0;
    await eventually(
      'the new holder probes',
      () => Promise.resolve((probes.get(next) ?? 0) >= count + 3 || undefined),
      20_000,
      100,
    );
    const listed = await next.request('GET', '/api/v1/nodes', undefined, token());
    expect(listed.body.leases).toEqual([
      expect.objectContaining({ name: operationsLease, node: nodeName(next), epoch: term?.epoch }),
    ]);
    const nodes = await listNodes(next);
    expect(nodes.find((n) => n.name === nodeName(a))).toMatchObject({ health: 'gone', leases: [] });
    expect(nodes.find((n) => n.name === nodeName(next))).toMatchObject({
      health: 'live',
      leases: [operationsLease],
    });
  });
});
