/**
 * bench/node-loss: the appliance losing one node. Three real nodes on this
 * machine (loopback, a data dir and a port set each, as in
 * test/appliance/); a tenant runs the sample app in prod. BENCH_KILLS times
 * (3), the node holding the control database's primary is killed whole with
 * `steward drill node-loss` (SIGKILL of all its processes), which measures
 * from the surviving nodes: seconds until their API answers and until every
 * tenant serves through every surviving gateway, and that no job, check or
 * notification was lost. The node is then started again and the time until
 * its member streams from the new leader is measured too. Prints JSON.
 *
 * BENCH_FSYNC=1 keeps fsync on in the control cluster (default off, as in tests).
 * Usage: npm run bench:node-loss
 */
import { cli } from '../test/cli/process.ts';
import {
  client,
  deployServing,
  killNode,
  leaderOf,
  makeAppliance,
  readClientFile,
  type TestNode,
} from '../test/appliance/nodes.ts';
import type { NodeLossResult } from '../src/appliance/node-loss.ts';
import type { DrillView } from '../src/drills/store.ts';
import { log, percentile, round, sleep } from './support.ts';

const kills = Number(process.env.BENCH_KILLS ?? 3);
const fsync = process.env.BENCH_FSYNC === '1';

function summary(values: readonly number[]): { p50: number; max: number; all: number[] } {
  return {
    p50: round(percentile(values, 50)),
    max: round(Math.max(...values)),
    all: values.map((v) => round(v)),
  };
}

async function streams(node: TestNode): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${node.ports.patroniPort}/replica`).catch(() => undefined);
  return res?.status === 200;
}

const appliance = await makeAppliance(3, { unsafeNoFsync: !fsync });
try {
  const started = Date.now();
  await Promise.all(appliance.nodes.map((node) => appliance.start(node)));
  const upSeconds = (Date.now() - started) / 1000;
  log(`three nodes up in ${round(upSeconds)} s`);
  const first = appliance.nodes[0] as TestNode;
  const { ca, token } = await readClientFile(first);
  await deployServing(appliance, client(first, ca, token), ca, 'acme');
  const results: (NodeLossResult & { outcome: string; rejoinSeconds: number })[] = [];
  for (let i = 1; i <= kills; i++) {
    const victim = await leaderOf(appliance.nodes);
    if (!victim) throw new Error('no node leads the control database');
    const run = await cli(victim.dataDir, ['-o', 'json', 'drill', 'node-loss', '--yes']);
    if (!run.stdout.trim().startsWith('{')) throw new Error(`drill failed: ${run.stderr}`);
    const drill = JSON.parse(run.stdout) as DrillView;
    const measured = drill.details as unknown as NodeLossResult;
    await killNode(victim);
    const restarted = Date.now();
    await appliance.start(victim);
    while (!(await streams(victim))) {
      if (Date.now() - restarted > 180_000) throw new Error(`${victim.name} did not rejoin`);
      await sleep(200);
    }
    const rejoinSeconds = (Date.now() - restarted) / 1000;
    results.push({ ...measured, outcome: drill.outcome, rejoinSeconds });
    log(
      `kill ${i}: ${victim.name}: API ${measured.controlPlaneSeconds} s, tenants ${measured.servingSeconds} s, ${drill.outcome}; rejoined in ${round(rejoinSeconds)} s`,
    );
  }
  const numbers = (pick: (r: NodeLossResult) => number | null): number[] =>
    results.map(pick).filter((v): v is number => v !== null);
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: 'node-loss',
        nodes: 3,
        kills,
        fsync,
        patroni: { ttl: 10, loop_wait: 2, retry_timeout: 3, synchronous_mode: true },
        upSeconds: round(upSeconds),
        controlPlaneSeconds: summary(numbers((r) => r.controlPlaneSeconds)),
        servingSeconds: summary(numbers((r) => r.servingSeconds)),
        probeJobSeconds: summary(numbers((r) => r.job.ranSeconds)),
        rejoinSeconds: summary(results.map((r) => r.rejoinSeconds)),
        passed: results.filter((r) => r.outcome === 'passed').length,
        lost: {
          jobs: results.reduce((n, r) => n + r.lost.jobs, 0),
          checks: results.reduce((n, r) => n + r.lost.checks, 0),
          notifications: results.reduce((n, r) => n + r.lost.notifications, 0),
        },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await appliance.stopAll();
}
