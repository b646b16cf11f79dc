import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { patroniCluster } from '../../src/drills/patroni-cluster.ts';
import { runDrill } from '../../src/drills/runner.ts';
import { DrillStore } from '../../src/drills/store.ts';
import type { HaCluster } from '../../src/drills/cluster.ts';
import { cloneControlDb, type TestControlDb } from '../harness/control-db.ts';
import { startTestRouter, type TestRouter } from '../harness/ha-router.ts';
import { patroniAvailable, startTestCluster, type TestHaCluster } from '../harness/patroni.ts';

/**
 * Failover drills against a real three-member Patroni cluster (synchronous
 * mode, Steward's tuned settings, the run's shared etcd) behind a real
 * HAProxy router: a kill drill (SIGKILL of the primary's Patroni and
 * postmaster) and a switchover drill, each measured under the write load,
 * 0 acknowledged commits lost, the old primary rejoined, the result stored.
 */
let cluster: TestHaCluster;
let router: TestRouter;
let control: TestControlDb;
let ha: HaCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ synchronous: true });
  await cluster.waitForLeader();
  router = await startTestRouter(cluster);
  control = await cloneControlDb();
  ha = patroniCluster({
    scope: cluster.scope,
    synchronous: true,
    members: cluster.members,
    rest: cluster.rest,
    router,
    socket: (m) => cluster.socket(m.name),
    kill: (m) => cluster.kill(m.name),
    start: (m) => cluster.start(m.name),
  });
}, 120_000);

afterAll(async () => {
  await router?.stop();
  await cluster?.stop();
  await control?.close();
});

const logger = pino({ level: 'silent' });

describe.skipIf(!patroniAvailable)('failover drill on a real Patroni cluster', () => {
  it('kill: writes resume, nothing acknowledged is lost, the old primary rejoins; stored', async () => {
    const phases: string[] = [];
    const leader = await cluster.rest.leader();
    const run = await runDrill(ha, 'kill', { logger, onPhase: (p) => void phases.push(p) });
    expect(run.reason, JSON.stringify(run.details)).toMatch(/no acknowledged commit lost/);
    expect(run).toMatchObject({ outcome: 'passed', lostCommits: 0, oldPrimary: leader });
    expect(run.newPrimary).not.toBe(leader);
    expect(run.writesResumeSeconds).toBeGreaterThan(1);
    expect(run.writesResumeSeconds).toBeLessThan(20);
    expect(run.acknowledgedWrites).toBeGreaterThan(50);
    expect(run.rejoinSeconds).not.toBeNull();
    expect(phases).toEqual(
      expect.arrayContaining([
        'preparing the drill database',
        `injecting the fault on ${leader}`,
        'counting lost commits',
        `starting ${leader} again`,
      ]),
    );
    const store = new DrillStore(control.store.db);
    const id = await store.start(
      {
        kind: 'kill',
        stageId: null,
        tenant: 'acme',
        stage: 'prod',
        cluster: cluster.scope,
        synchronous: true,
        requestedBy: 'test',
        startedAt: new Date(),
        phase: 'starting',
      },
      () => Promise.resolve(),
    );
    await store.finish(id, { ...run, endedAt: new Date() }, () => Promise.resolve());
    expect(await store.get(id)).toMatchObject({ outcome: 'passed', lostCommits: 0, oldPrimary: leader });
  });

  it('switchover: hands over under load, nothing lost, the old primary streams from the new one', async () => {
    await cluster.waitForLeader();
    const leader = await cluster.rest.leader();
    const run = await runDrill(ha, 'switchover', { logger });
    expect(run).toMatchObject({ outcome: 'passed', lostCommits: 0, oldPrimary: leader });
    expect(run.newPrimary).not.toBe(leader);
    expect(run.writesResumeSeconds).toBeLessThan(10);
  });
});
