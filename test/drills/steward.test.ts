import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrillView } from '../../src/drills/store.ts';
import { isHaDriver } from '../../src/drills/ha-clusters.ts';
import type { RunResult } from '../../src/system/exec.ts';
import { apiCli } from '../harness/api-cli.ts';
import { patroniAvailable } from '../harness/patroni.ts';
import { until } from '../harness/stage-app.ts';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

/**
 * Failover drills and the ha checks in a real Steward with an ha stage (a
 * three-member synchronous Patroni cluster behind the database router, the
 * run's shared etcd), one cluster for the file:
 * - a stage on another tier is refused by name, and nothing is recorded;
 * - `steward drill failover acme prod --kill` through the real CLI: progress
 *   on stderr, writes resume, 0 acknowledged commits lost, the old primary
 *   rejoins, the drill kept as evidence with its audit events;
 * - a switchover drill through the API, 0 lost;
 * - a member's machine lost: the ha-members check goes degraded, the
 *   ha-member-down alert opens, self-healing starts the member, the alert resolves.
 */
let t: TestSteward;
let cli: (...args: string[]) => Promise<RunResult>;

beforeAll(async () => {
  t = await startTestSteward({
    config: {
      monitoring: { intervalSeconds: 1, failuresToDown: 1, badToDegraded: 1 },
      // The drills' aftermath heals too: an alert about a member a drill stopped on purpose, still
      // open when the drill ends, gets an attempt that finds every member answering ("nothing to
      // start"). With the default cool-down (5 min) that attempt would keep the member-lost test's
      // real loss from being healed. Cool-downs and rate limits are test/healing/'s.
      healing: { coolDownSeconds: 0, maxAttempts: 10 },
      // Each drill moves the ha-members check twice, and under load the switchover's old primary
      // may too: with the default (6 changes in 10 min) the member-lost alert is then flapping and
      // resolves only after 10 min up. Flapping is test/alerts/'s.
      alerts: { flapChanges: 20 },
    },
  });
  cli = await apiCli(t);
  expect(
    (await t.request('POST', '/api/v1/tenants', { slug: 'acme', tier: 'ha', stages: ['prod'] })).status,
  ).toBe(201);
  expect((await t.request('POST', '/api/v1/tenants', { slug: 'plain', stages: ['dev'] })).status).toBe(201);
  await t.waitForStages('acme', 'ready', 150_000);
  await t.waitForStages('plain');
}, 200_000);

afterAll(async () => {
  await t?.close();
});

/**
 * Until the drills' aftermath is over: every member answers, no ha-member-down alert is open
 * and no heal attempt runs. A drill ends when its old primary streams again; on a loaded
 * machine a member-down alert about a member it stopped may outlive it, and heal with it.
 */
const clusterSettled = (): Promise<true> =>
  until(
    'every member answering, no ha-member-down alert open, no heal attempt running',
    async () => {
      const checks = await t.services.checks.list('acme', 'prod');
      const open = await t.services.alerts.list({ tenant: 'acme', stage: 'prod', open: true });
      const running = await t.query(
        "select 1 from heal_attempts where outcome = 'running'",
        [],
        t.controlDatabase,
      );
      const whole = checks.find((c) => c.builtin === 'ha-members')?.state === 'up';
      return whole && !open.some((a) => a.rule === 'ha-member-down') && running.length === 0
        ? true
        : undefined;
    },
    60_000,
  );

const drillsOf = async (tenant: string): Promise<DrillView[]> =>
  ((await t.request('GET', `/api/v1/drills?tenant=${tenant}`)).body as { drills: DrillView[] }).drills;

describe.skipIf(!patroniAvailable)('failover drills and ha checks in Steward', () => {
  it('refuses a stage that is not on the ha tier, naming the tier', async () => {
    const run = await cli('drill', 'failover', 'plain', 'dev');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('tenant plain is on the shared tier: failover drills need the ha tier');
    expect(await drillsOf('plain')).toEqual([]);
  });

  it(
    'kill: measured under load through the CLI, nothing lost, kept as evidence',
    { timeout: 150_000 },
    async () => {
      const run = await cli('drill', 'failover', 'acme', 'prod', '--kill', '-o', 'json');
      if (!run.stdout.startsWith('{')) throw new Error(run.stderr);
      const drill = JSON.parse(run.stdout) as DrillView;
      expect(drill.reason, run.stderr).toMatch(/no acknowledged commit lost/);
      expect(run.code).toBe(0);
      expect(drill).toMatchObject({ kind: 'kill', outcome: 'passed', lostCommits: 0, synchronous: true });
      expect(drill.newPrimary).not.toBe(drill.oldPrimary);
      expect(drill.writesResumeSeconds).toBeGreaterThan(1);
      expect(drill.writesResumeSeconds).toBeLessThan(25);
      expect(drill.acknowledgedWrites).toBeGreaterThan(50);
      expect(drill.rejoinSeconds).not.toBeNull();
      expect(run.stderr).toContain(`killed ${drill.oldPrimary ?? ''}: waiting for writes to resume`);
      // Self-healing left the killed member to the drill, which started it again itself: held while
      // the drill ran; an attempt just after it (the member-down alert still open, on a loaded
      // machine) found every member answering and started nothing. None started a member.
      await clusterSettled();
      const attempts = await t.query<{ outcome: string; detail: string }>(
        "select outcome, detail from heal_attempts where action = 'start-ha-member'",
        [],
        t.controlDatabase,
      );
      for (const a of attempts)
        expect(`${a.outcome}: ${a.detail}`).toMatch(
          /^skipped-in-progress: a failover drill runs|^failed: every member of \S+ answers: nothing to start$/,
        );
      const listed = await cli('drill', 'list', 'acme');
      expect(listed.stdout).toMatch(new RegExp(`${drill.id}\\s+kill\\s+acme/prod\\s+\\S+\\s+passed`));
      const audit = (await t.request('GET', '/api/v1/audit?tenant=acme')).body as {
        events: { action: string }[];
      };
      expect(audit.events.map((e) => e.action)).toEqual(
        expect.arrayContaining(['drill.start', 'drill.finish']),
      );
    },
  );

  it('switchover: through the API, nothing lost', { timeout: 120_000 }, async () => {
    const started = await t.request('POST', '/api/v1/tenants/acme/stages/prod/drills', {
      kind: 'switchover',
    });
    expect(started.status).toBe(202);
    const drill = await t.services.drills.settled((started.body as DrillView).id);
    expect(drill.reason).toMatch(/no acknowledged commit lost/);
    expect(drill).toMatchObject({ kind: 'switchover', outcome: 'passed', lostCommits: 0 });
  });

  it(
    'a member lost: member-down check, alert, self-healing starts it, resolved',
    { timeout: 150_000 },
    async () => {
      const driver = t.steward.ha?.driver;
      if (!isHaDriver(driver)) throw new Error('no ha driver');
      // The switchover's old primary may not answer while it demotes (on a loaded machine, longer
      // than the check waits): an ha-member-down alert about it, still open, was taken for this
      // one (CI: "t…_3 is down" when _2 was killed, 0.6 s in). So the fault is injected into a
      // whole cluster.
      await clusterSettled();
      const name = await t.database('acme', 'prod');
      const view = await driver.clusterOf(name);
      const leader = await (await driver.rest(name)).leader();
      const victim = view?.members.find((m) => m.name !== leader)?.name ?? '';
      // Its machine is gone: the keeper leaves it down; only self-healing brings it back.
      driver.keeper.hold(victim);
      const killedAt = new Date().toISOString();
      await driver.killMember(name, victim);
      const alert = await until(
        'the ha-member-down alert',
        async () =>
          (await t.services.alerts.list({ tenant: 'acme', stage: 'prod', open: true })).find(
            (a) => a.rule === 'ha-member-down',
          ),
        30_000,
      );
      expect(alert.startedAt >= killedAt, `opened at ${alert.startedAt}, killed at ${killedAt}`).toBe(true);
      expect(JSON.stringify(alert.details)).toContain(`${victim} is down`);
      const checks = await t.services.checks.list('acme', 'prod');
      expect(checks.map((c) => c.builtin)).toEqual(
        expect.arrayContaining(['ha-members', 'ha-replication', 'ha-leader']),
      );
      const healed = await until(
        'self-healing started the member',
        async () => (await t.services.healing.attemptsFor(alert.id)).find((a) => a.outcome === 'succeeded'),
        60_000,
      );
      expect(healed).toMatchObject({ action: 'start-ha-member' });
      expect(healed.detail).toContain(`started ${victim}`);
      await until(
        'the alert resolved',
        async () => ((await t.services.alerts.get(alert.id)).status === 'resolved' ? true : undefined),
        30_000,
      );
    },
  );
});
