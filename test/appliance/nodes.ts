import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ApplianceNode } from '../../src/appliance/config.ts';
import { initApplianceSecrets } from '../../src/appliance/launcher.ts';
import { serves } from '../../src/appliance/node-loss.ts';
import { ApiClient } from '../../src/cli/client.ts';
import { ledgerDir, packRelease } from '../harness/ledger.ts';
import { until } from '../harness/stage-app.ts';
import { killNode as killNodeProcesses } from '../../src/appliance/node-kill.ts';
import { freePort } from '../../src/system/ports.ts';
import { run } from '../../src/system/exec.ts';
import { nftDeleteTable, tableName } from '../../src/runtime/sandbox/plan.ts';
import { testUidBase } from '../harness/steward.ts';
import { spawnUp, waitForOutput, type UpProcess, type UpReady } from '../cli/process.ts';

/**
 * Three nodes of the appliance on this machine: a data dir and a port set
 * each, all on loopback, each node a real `steward up` child process.
 */
export interface TestNode {
  readonly name: string;
  readonly dataDir: string;
  readonly ports: ApplianceNode;
  up: UpProcess | undefined;
  ready: UpReady | undefined;
}

export interface TestAppliance {
  readonly base: string;
  readonly nodes: readonly TestNode[];
  start(node: TestNode): Promise<UpReady>;
  /** SIGKILL of every process of the node (its Steward, etcd, Patroni, PostgreSQL, routers, HAProxy, stages). */
  stopAll(): Promise<void>;
}

async function ports(name: string, taken: Set<number>): Promise<ApplianceNode> {
  const next = async (): Promise<number> => {
    for (;;) {
      const port = await freePort(0);
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  return {
    name,
    host: '127.0.0.1',
    apiPort: await next(),
    gatewayPort: await next(),
    gatewayHttpPort: 0,
    etcdClientPort: await next(),
    etcdPeerPort: await next(),
    patroniPort: await next(),
    postgresPort: await next(),
    routerPort: await next(),
  };
}

export async function makeAppliance(
  count = 3,
  options: { unsafeNoFsync?: boolean } = {},
): Promise<TestAppliance> {
  const base = await mkdtemp(join(tmpdir(), 'steward-appliance-'));
  await chmod(base, 0o711);
  const taken = new Set<number>();
  const entries: ApplianceNode[] = [];
  for (let i = 1; i <= count; i++) entries.push(await ports(`n${i}`, taken));
  const nodes: TestNode[] = [];
  for (const entry of entries) {
    const dataDir = join(base, entry.name);
    nodes.push({ name: entry.name, dataDir, ports: entry, up: undefined, ready: undefined });
  }
  // One node makes the shared files, the others get copies (as an operator would scp them).
  const first = nodes[0] as TestNode;
  const files = await initApplianceSecrets(first.dataDir);
  for (const node of nodes) {
    if (node !== first) {
      await mkdir(node.dataDir, { recursive: true });
      for (const file of files) await copyFile(join(first.dataDir, file), join(node.dataDir, file));
    }
    await chmod(node.dataDir, 0o711);
    const config = {
      appliance: { node: node.name, nodes: entries, unsafeNoFsync: options.unsafeNoFsync ?? true },
      // One machine, one kernel: each node's nftables rules judge its own uid range only.
      runtime: { uidBase: testUidBase(), uidCount: 1000 },
      backups: { enabled: false },
      // Checks often enough that the drill sees one after the kill without waiting half a minute.
      monitoring: { intervalSeconds: 3 },
      logLevel: 'info',
    };
    await writeFile(join(node.dataDir, 'steward.yaml'), stringify(config));
  }
  const appliance: TestAppliance = {
    base,
    nodes,
    async start(node) {
      node.up = spawnUp(node.dataDir, ['-o', 'json']);
      const out = await waitForOutput(node.up, '\n}\n', 180_000);
      const ready = JSON.parse(out) as UpReady & { error?: unknown };
      if (!ready.apiUrl) throw new Error(`${node.name} did not start: ${out}\n${node.up.stderr()}`);
      node.ready = ready;
      return ready;
    },
    async stopAll() {
      for (const node of nodes) {
        await killNode(node);
        // A node killed leaves its sandbox's network table behind, as a crashed machine would until its reboot.
        await run('nft', ['-f', '-'], { input: nftDeleteTable(tableName(node.dataDir)) });
      }
      await rm(base, { recursive: true, force: true });
    },
  };
  return appliance;
}

/** The whole node dies (node-kill.ts), its `steward up` child included. */
export async function killNode(node: TestNode): Promise<void> {
  await killNodeProcesses(node.dataDir);
  node.up?.child.kill('SIGKILL');
  await node.up?.exited;
  node.up = undefined;
}

export async function readClientFile(node: TestNode): Promise<{ apiUrl: string; ca: string; token: string }> {
  return JSON.parse(await readFile(join(node.dataDir, 'client.json'), 'utf8')) as {
    apiUrl: string;
    ca: string;
    token: string;
  };
}

export const baseDomain = 'localhost';

export function client(node: TestNode, ca: string, token: string): ApiClient {
  return new ApiClient({ apiUrl: `https://127.0.0.1:${node.ports.apiPort}`, ca, token });
}

/** The node whose Patroni member leads the control database. */
export async function leaderOf(nodes: readonly TestNode[]): Promise<TestNode | undefined> {
  for (const node of nodes) {
    const res = await fetch(`http://127.0.0.1:${node.ports.patroniPort}/leader`).catch(() => undefined);
    if (res?.status === 200) return node;
  }
  return undefined;
}

/** A tenant with the sample app in prod, serving through every node's gateway. */
export async function deployServing(
  appliance: TestAppliance,
  api: ApiClient,
  ca: string,
  tenant: string,
): Promise<void> {
  await api.post('/api/v1/tenants', { slug: tenant, stages: ['prod'] });
  await api.upload('/api/v1/releases?version=1.0.0', packRelease(ledgerDir), 'application/gzip');
  await until(
    `${tenant} prod ready`,
    async () => {
      const view = await api.get<{ phase: string }>(`/api/v1/tenants/${tenant}`);
      return view.phase === 'ready' ? true : undefined;
    },
    120_000,
  );
  const deployment = await api.post<{ id: string }>(`/api/v1/tenants/${tenant}/stages/prod/deployments`, {
    version: '1.0.0',
  });
  await until(
    'the deployment',
    async () => {
      const view = await api.get<{ status: string; reason: string }>(`/api/v1/deployments/${deployment.id}`);
      if (view.status === 'failed') throw new Error(view.reason);
      return view.status === 'active' ? true : undefined;
    },
    180_000,
  );
  for (const node of appliance.nodes) {
    await until(
      `${tenant} prod through ${node.name}'s gateway`,
      async () => ((await serves(node.ports, `prod.${tenant}.${baseDomain}`, ca)) ? true : undefined),
      60_000,
    );
  }
}
