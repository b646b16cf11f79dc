import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applianceSchema, controlMemberRoles, type NodeLossResult } from '../../src/appliance/index.ts';
import { unhealthyBecause } from '../../src/appliance/members.ts';
import type { DrillView } from '../../src/drills/store.ts';
import type { NodeView } from '../../src/cluster/index.ts';
import { cli, cliJson } from '../cli/process.ts';
import { until } from '../harness/stage-app.ts';
import {
  client,
  deployServing,
  killNode,
  leaderOf,
  makeAppliance,
  readClientFile,
  type TestAppliance,
  type TestNode,
} from './nodes.ts';

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
    // Every node runs the stage's instances and serves it through its own gateway.
    await deployServing(appliance, api, ca, 'acme');
    // The drill waits for a cluster that can lose a node (a replica's first clone can take a while): so does the
    // test, so that the notification below is still pending when the drill looks.
    const settings = applianceSchema.parse({ node: 'n1', nodes: appliance.nodes.map((n) => n.ports) });
    await until(
      'a control cluster that can lose any node',
      async () =>
        unhealthyBecause(settings, await controlMemberRoles(settings).roles()) === undefined
          ? true
          : undefined,
      120_000,
    );
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
    // Its start gave it a new local token (the old one is revoked): the CLI file of the node has it.
    const back = client(victim, ca, (await readClientFile(victim)).token);
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

    // A kill -9 of a survivor's Steward alone: its rerun adopts the etcd and Patroni members it left running.
    const survivor = survivors[0] as TestNode;
    const pids = async (): Promise<string[]> =>
      Promise.all(['etcd.pid', 'patroni.pid'].map((f) => readFile(join(survivor.dataDir, f), 'utf8')));
    const before = await pids();
    survivor.up?.child.kill('SIGKILL');
    await survivor.up?.exited;
    await appliance.start(survivor);
    expect(await pids()).toEqual(before);
  }, 600_000);
});
