import { describe, expect, it } from 'vitest';
import { appendRun, longestGapMs, lostCommits, writesResumeMs } from '../../src/drills/measure.ts';
import { nextDrillStep, type DrillObservation } from '../../src/drills/plan.ts';
import type { HaClusterSeen, HaMemberSeen } from '../../src/monitoring/ha-verdicts.ts';

const member = (name: string, p: Partial<HaMemberSeen> = {}): HaMemberSeen => ({
  name,
  reachable: true,
  role: 'replica',
  state: 'running',
  timeline: 1,
  lagBytes: 0,
  ...p,
});
const healthy: HaClusterSeen = {
  scope: 'c',
  leader: 'm1',
  members: [member('m1', { role: 'primary', lagBytes: null }), member('m2'), member('m3')],
};
/** After m1 was killed: m2 leads on timeline 2, m1 gone. */
const failedOver: HaClusterSeen = {
  scope: 'c',
  leader: 'm2',
  members: [
    member('m1', { reachable: false, role: 'unknown', state: 'unknown', timeline: null, lagBytes: null }),
    member('m2', { role: 'primary', timeline: 2, lagBytes: null }),
    member('m3', { timeline: 2 }),
  ],
};
const rejoinedCluster: HaClusterSeen = {
  ...failedOver,
  members: [member('m1', { timeline: 2 }), ...failedOver.members.slice(1)],
};

const base: DrillObservation = {
  kind: 'kill',
  synchronous: true,
  elapsedMs: 1_000,
  cluster: healthy,
  prepared: true,
  load: { acknowledged: 500, resumeMs: null, stopped: false },
  fault: null,
  restartedMsAgo: null,
  lost: null,
};
const after = (p: Partial<DrillObservation>): DrillObservation => ({
  ...base,
  cluster: failedOver,
  fault: { oldPrimary: 'm1', msSince: 3_000 },
  ...p,
});

describe('nextDrillStep', () => {
  it.each<{ name: string; o: DrillObservation; want: string; detail?: string }>([
    { name: 'not prepared', o: { ...base, prepared: false, load: null }, want: 'prepare' },
    { name: 'prepared, no load', o: { ...base, load: null }, want: 'start-load' },
    {
      name: 'warming up',
      o: { ...base, load: { acknowledged: 3, resumeMs: null, stopped: false } },
      want: 'wait',
    },
    {
      name: 'a load that does not write fails before any fault',
      o: { ...base, elapsedMs: 20_000, load: { acknowledged: 3, resumeMs: null, stopped: false } },
      want: 'finish',
      detail: 'before any fault',
    },
    { name: 'warm: inject on the leader', o: base, want: 'inject', detail: 'm1' },
    {
      name: 'no leader yet: waits',
      o: { ...base, load: null, prepared: false, cluster: { ...healthy, leader: null } },
      want: 'wait',
    },
    {
      name: 'a member down for a minute: refused',
      o: { ...base, load: null, elapsedMs: 61_000, cluster: failedOver },
      want: 'finish',
      detail: 'not fit for a drill',
    },
    {
      name: 'split brain: refused',
      o: {
        ...base,
        load: null,
        elapsedMs: 61_000,
        cluster: {
          ...healthy,
          members: [healthy.members[0]!, member('m2', { role: 'primary' }), member('m3')],
        },
      },
      want: 'finish',
      detail: 'split brain',
    },
    { name: 'writes still fail after the kill', o: after({}), want: 'wait' },
    {
      name: 'writes never resumed: the load stops',
      o: after({ fault: { oldPrimary: 'm1', msSince: 91_000 } }),
      want: 'stop-load',
    },
    {
      name: '…then the drill fails',
      o: after({
        fault: { oldPrimary: 'm1', msSince: 92_000 },
        load: { acknowledged: 500, resumeMs: null, stopped: true },
      }),
      want: 'finish',
      detail: 'did not resume',
    },
    {
      name: 'resumed just now: writes on',
      o: after({ load: { acknowledged: 600, resumeMs: 2_800, stopped: false } }),
      want: 'wait',
    },
    {
      name: 'resumed a while ago: stop the load',
      o: after({ load: { acknowledged: 900, resumeMs: 1_500, stopped: false } }),
      want: 'stop-load',
    },
    {
      name: 'stopped: count',
      o: after({ load: { acknowledged: 900, resumeMs: 1_500, stopped: true } }),
      want: 'count-lost',
    },
    {
      name: 'counted: start the killed member again',
      o: after({ load: { acknowledged: 900, resumeMs: 1_500, stopped: true }, lost: 0 }),
      want: 'restart-member',
      detail: 'm1',
    },
    {
      name: 'switchover: no restart, waits for the old primary',
      o: after({ kind: 'switchover', load: { acknowledged: 900, resumeMs: 0, stopped: true }, lost: 0 }),
      want: 'wait',
    },
    {
      name: 'restarted, not yet rejoined',
      o: after({
        load: { acknowledged: 900, resumeMs: 1_500, stopped: true },
        lost: 0,
        restartedMsAgo: 2_000,
      }),
      want: 'wait',
    },
    {
      name: 'never rejoined',
      o: after({
        load: { acknowledged: 900, resumeMs: 1_500, stopped: true },
        lost: 0,
        restartedMsAgo: 121_000,
      }),
      want: 'finish',
      detail: 'did not rejoin',
    },
    {
      name: 'rejoined, none lost: passed',
      o: after({
        cluster: rejoinedCluster,
        load: { acknowledged: 900, resumeMs: 1_500, stopped: true },
        lost: 0,
        restartedMsAgo: 5_000,
      }),
      want: 'finish',
      detail: 'passed',
    },
    {
      name: 'lost commits in synchronous mode: failed',
      o: after({
        cluster: rejoinedCluster,
        load: { acknowledged: 900, resumeMs: 1_500, stopped: true },
        lost: 3,
        restartedMsAgo: 5_000,
      }),
      want: 'finish',
      detail: 'failed: 3 acknowledged commits lost in synchronous mode',
    },
    {
      name: 'lost commits in asynchronous mode: passed, said',
      o: after({
        synchronous: false,
        cluster: rejoinedCluster,
        load: { acknowledged: 900, resumeMs: 1_500, stopped: true },
        lost: 3,
        restartedMsAgo: 5_000,
      }),
      want: 'finish',
      detail: 'passed: 3 acknowledged commits lost: asynchronous mode allows it',
    },
  ])('$name', ({ o, want, detail }) => {
    const step = nextDrillStep(o);
    expect(step.kind).toBe(want);
    if (detail !== undefined) {
      const text =
        step.kind === 'finish'
          ? `${step.outcome}: ${step.reason}`
          : step.kind === 'inject' || step.kind === 'restart-member'
            ? step.member
            : '';
      expect(text).toContain(detail);
    }
  });
});

describe('lost commits', () => {
  const runs = (...ns: number[]): [number, number][] => {
    const r: [number, number][] = [];
    for (const n of ns) appendRun(r, n);
    return r;
  };

  it('keeps acknowledged numbers as runs', () => {
    expect(runs(1, 2, 3, 5, 6, 9)).toEqual([
      [1, 3],
      [5, 6],
      [9, 9],
    ]);
    expect(() => runs(3, 2)).toThrow(/out of order/);
  });

  it.each([
    { name: 'all found', acked: runs(1, 2, 3), found: [1, 2, 3], lost: 0, extra: 0, examples: [] },
    { name: 'the tail lost', acked: runs(1, 2, 3, 4), found: [1, 2], lost: 2, extra: 0, examples: [3, 4] },
    { name: 'a hole', acked: runs(1, 2, 3, 4), found: [1, 3, 4], lost: 1, extra: 0, examples: [2] },
    {
      name: 'in-doubt writes that committed are no loss',
      acked: runs(1, 2, 4, 5),
      found: [1, 2, 3, 4, 5],
      lost: 0,
      extra: 1,
      examples: [],
    },
    {
      name: 'duplicates and numbers past the end',
      acked: runs(1, 2, 5),
      found: [1, 1, 2, 3, 5, 7, 7],
      lost: 0,
      extra: 2,
      examples: [],
    },
    { name: 'nothing found', acked: runs(1, 2, 6), found: [], lost: 3, extra: 0, examples: [1, 2, 6] },
  ])('$name', ({ acked, found, lost, extra, examples }) => {
    const got = lostCommits(acked, found);
    expect(got).toEqual({ lost, examples, committedUnacknowledged: extra });
  });

  it('counts a large load by runs', () => {
    const acked: [number, number][] = [
      [1, 50_000],
      [50_002, 100_000],
    ];
    const found = Array.from({ length: 99_990 }, (_, i) => i + 1);
    // 99,991…100,000 are missing; 50,001 was found though never acknowledged.
    expect(lostCommits(acked, found)).toMatchObject({ lost: 10, committedUnacknowledged: 1 });
  });
});

describe('writes resume', () => {
  const outages = [
    { lastAckAt: 100, firstErrorAt: 120, resumedAt: 300 },
    { lastAckAt: 5_000, firstErrorAt: 5_010, resumedAt: 13_000 },
  ];

  it('from the fault to the end of the outage it caused', () => {
    expect(writesResumeMs(outages, 4_990)).toBe(8_010);
    // A fault during an outage: that outage's end.
    expect(writesResumeMs(outages, 5_005)).toBe(7_995);
  });

  it('no outage since the fault, or an open one: not yet', () => {
    expect(writesResumeMs(outages, 14_000)).toBeNull();
    expect(writesResumeMs([{ lastAckAt: 10, firstErrorAt: 20, resumedAt: null }], 15)).toBeNull();
  });

  it('the longest gap', () => {
    expect(longestGapMs(outages, 20_000)).toBe(8_000);
    expect(longestGapMs([{ lastAckAt: 10, firstErrorAt: 20, resumedAt: null }], 1_010)).toBe(1_000);
  });
});
