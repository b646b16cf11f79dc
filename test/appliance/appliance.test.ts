import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serves, type NodeLossResult } from '../../src/appliance/node-loss.ts';
import type { DrillView } from '../../src/drills/store.ts';
import { ApiClient } from '../../src/cli/client.ts';
import type { NodeView } from '../../src/cluster/index.ts';
import { cli, cliJson } from '../cli/process.ts';
import { ledgerDir, packRelease } from '../harness/ledger.ts';
import { until } from '../harness/stage-app.ts';
import { killNode, makeAppliance, readClientFile, type TestAppliance, type TestNode } from './nodes.ts';

/**
 * Three real nodes on this machine (issue 14 part 3): the node that holds
 * the control database's primary dies whole; the others keep the API, the
 * tenant, the job queue, the checks and the notifications going; then it
 * comes back and rejoins.
 */
let appliance: TestAppliance;
let webhook: Server;
let held = true;
const received: string[] = [];
const baseDomain = 'localhost';

function client(node: TestNode, ca: string, token: string): ApiClient {
  return new ApiClient({ apiUrl: `https://127.0.0.1:${node.ports.apiPort}`, ca, token });
}

async function leaderOf(nodes: readonly TestNode[]): Promise<TestNode | undefined> {
  for (const node of nodes) {
    const res = await fetch(`http://127.0.0.1:${node.ports.patroniPort}/leader`).catch(() => undefined);
    if (res?.status === 200) return node;
  }
  return undefined;
}

beforeAll(async () => {
  webhook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (held) return void res.writeHead(503).end();
      received.push(req.url ?? '');
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  appliance = await makeAppliance();
  await Promise.all(appliance.nodes.map((node) => appliance.start(node)));
}, 300_000);

afterAll(async () => {
  await appliance?.stopAll();
  await new Promise((resolve) => webhook?.close(resolve));
});

describe('the appliance on three nodes', () => {
  it('loses the node of the control primary and keeps serving; the node rejoins', async () => {
    const [n1] = appliance.nodes as [TestNode, TestNode, TestNode];
    const { ca, token } = await readClientFile(n1);
    const api = client(n1, ca, token);
    await api.post('/api/v1/tenants', { slug: 'acme', stages: ['prod'] });
    await api.upload('/api/v1/releases?version=1.0.0', packRelease(ledgerDir), 'application/gzip');
    await until(
      'acme prod ready',
      async () => {
        const view = await api.get<{ phase: string }>('/api/v1/tenants/acme');
        return view.phase === 'ready' ? true : undefined;
      },
      120_000,
    );
    const deployment = await api.post<{ id: string }>('/api/v1/tenants/acme/stages/prod/deployments', {
      version: '1.0.0',
    });
    await until(
      'the deployment',
      async () => {
        const view = await api.get<{ status: string; reason: string }>(
          `/api/v1/deployments/${deployment.id}`,
        );
        if (view.status === 'failed') throw new Error(view.reason);
        return view.status === 'active' ? true : undefined;
      },
      180_000,
    );
    // Every node runs the stage's instances and serves it through its own gateway.
    for (const node of appliance.nodes) {
      await until(
        'acme prod through every gateway',
        async () => ((await serves(node.ports, `prod.acme.${baseDomain}`, ca)) ? true : undefined),
        60_000,
      );
    }
    // A notification that cannot be delivered yet: it is pending across the kill.
    await api.post('/api/v1/notification-channels', {
      kind: 'webhook',
      target: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`,
      name: 'drill-hook',
    });
    const pending = await api.post<{ id: string; status: string }>(
      '/api/v1/notification-channels/drill-hook/test',
    );
    expect(pending.status).not.toBe('delivered');

    const victim = await leaderOf(appliance.nodes);
    expect(victim, 'a node holds the control primary').toBeDefined();
    if (!victim) return;
    setTimeout(() => (held = false), 3000);
    // The real CLI on the victim's data dir: it kills its own node and measures from the others.
    const started = Date.now();
    const run = await cli(victim.dataDir, ['-o', 'json', 'drill', 'node-loss', '--yes']);
    process.stderr.write(`${run.stderr}node-loss drill in ${(Date.now() - started) / 1000} s\n`);
    expect(run.code, run.stderr).toBe(0);
    const drill = JSON.parse(run.stdout) as DrillView;
    const result = drill.details as unknown as NodeLossResult;
    process.stderr.write(`node-loss ${JSON.stringify(result)}\n`);
    expect(drill).toMatchObject({ kind: 'node-loss', outcome: 'passed', oldPrimary: victim.name });
    expect(result.controlPlaneSeconds).not.toBeNull();
    expect(result.servingSeconds).not.toBeNull();
    expect(result.tenants).toEqual(['acme']);
    expect(result.notifications).toEqual({ pending: [pending.id], delivered: 1 });
    expect(result.lost).toEqual({ jobs: 0, checks: 0, notifications: 0 });
    expect(received.length).toBeGreaterThan(0);
    const survivors = appliance.nodes.filter((n) => n !== victim);
    const newLeader = await leaderOf(survivors);
    expect(newLeader).toBeDefined();
    // `steward node list` on a survivor: the dead node is gone, the new leader's member leads.
    const listed = await until('the dead node listed as gone', async () => {
      const nodes = await cliJson<NodeView[]>(survivors[0]?.dataDir ?? '', ['node', 'list']);
      return nodes.find((n) => n.name === victim.name)?.health === 'gone' ? nodes : undefined;
    });
    expect(listed.find((n) => n.name === newLeader?.name)?.controlDatabaseRole).toMatch(/^leader/);
    expect(
      listed
        .filter((n) => n.health === 'live')
        .map((n) => n.name)
        .sort(),
    ).toEqual(survivors.map((n) => n.name).sort());

    // The node comes back: its etcd and Patroni members rejoin (as a replica), its API answers.
    await killNode(victim);
    await appliance.start(victim);
    const back = client(victim, ca, token);
    await until(
      'the rejoined API',
      async () => (await back.get('/api/v1/tenants').catch(() => undefined)) ?? undefined,
    );
    await until(
      'the rejoined member streams',
      async () => {
        const res = await fetch(`http://127.0.0.1:${victim.ports.patroniPort}/replica`).catch(
          () => undefined,
        );
        return res?.status === 200 ? true : undefined;
      },
      60_000,
    );
  }, 600_000);
});
