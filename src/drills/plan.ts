import { drillProblems, rejoined, type HaClusterSeen } from '../monitoring/ha-verdicts.ts';

/**
 * A failover drill decides each step with a pure function of what it
 * observes: the cluster (through Patroni), the write load and what the drill
 * has done so far. Each step is one action; the runner observes again after
 * it. Table-tested without I/O (test/drills/plan.test.ts).
 */
export const drillKinds = ['kill', 'switchover', 'node-loss'] as const;
export type DrillKind = (typeof drillKinds)[number];
/** The kinds a stage's drill runs; node-loss is the appliance's (src/appliance/). */
export const stageDrillKinds = ['kill', 'switchover'] as const;
export type StageDrillKind = (typeof stageDrillKinds)[number];

export const drillOutcomes = ['running', 'passed', 'failed', 'interrupted'] as const;
export type DrillOutcome = (typeof drillOutcomes)[number];

/** What the write load has seen, as the planner needs it. */
export interface LoadSeen {
  readonly acknowledged: number;
  /** Ms from the fault to writes acknowledged again (writesResumeMs); null while they fail or before a fault. */
  readonly resumeMs: number | null;
  readonly stopped: boolean;
}

export interface DrillObservation {
  readonly kind: StageDrillKind;
  readonly synchronous: boolean;
  /** Ms since the drill started. */
  readonly elapsedMs: number;
  /** Null: no member's Patroni answered. */
  readonly cluster: HaClusterSeen | null;
  /** The drill's own database and role exist on the leader. */
  readonly prepared: boolean;
  /** Null: not started. */
  readonly load: LoadSeen | null;
  /** Null: not injected yet. */
  readonly fault: { readonly oldPrimary: string; readonly msSince: number } | null;
  /** The killed member was started again this long ago (kill only). */
  readonly restartedMsAgo: number | null;
  /** Acknowledged writes missing from the new primary; null until counted. */
  readonly lost: number | null;
}

export interface DrillLimits {
  /** How long to wait for a fit cluster (one leader, every member streaming) before refusing. */
  readonly healthyWithinMs: number;
  /** Acknowledged writes before the fault: the load runs steadily. */
  readonly warmupWrites: number;
  readonly warmupWithinMs: number;
  /** Writes must resume within this of the fault. */
  readonly resumeWithinMs: number;
  /** The load keeps writing this long after writes resumed (what the new primary acknowledges counts too). */
  readonly settleMs: number;
  /** The old primary must stream from the new one within this of its restart (kill) or the fault (switchover). */
  readonly rejoinWithinMs: number;
}

export const defaultDrillLimits: DrillLimits = {
  healthyWithinMs: 60_000,
  warmupWrites: 50,
  warmupWithinMs: 15_000,
  resumeWithinMs: 90_000,
  settleMs: 1_000,
  rejoinWithinMs: 120_000,
};

export type DrillStep =
  | { readonly kind: 'prepare' }
  | { readonly kind: 'start-load' }
  | { readonly kind: 'inject'; readonly member: string }
  | { readonly kind: 'stop-load' }
  | { readonly kind: 'count-lost' }
  | { readonly kind: 'restart-member'; readonly member: string }
  | { readonly kind: 'wait'; readonly ms: number; readonly phase: string }
  | { readonly kind: 'finish'; readonly outcome: 'passed' | 'failed'; readonly reason: string };

/** The phase people see while a step runs (drills.phase). */
export function phaseOf(step: DrillStep): string {
  switch (step.kind) {
    case 'prepare':
      return 'preparing the drill database';
    case 'start-load':
      return 'starting the write load';
    case 'inject':
      return `injecting the fault on ${step.member}`;
    case 'stop-load':
      return 'stopping the write load';
    case 'count-lost':
      return 'counting lost commits';
    case 'restart-member':
      return `starting ${step.member} again`;
    case 'wait':
      return step.phase;
    case 'finish':
      return step.outcome;
  }
}

const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

export function nextDrillStep(o: DrillObservation, limits: DrillLimits = defaultDrillLimits): DrillStep {
  if (!o.fault) return beforeFault(o, limits);
  const load = o.load;
  // A fault without a load cannot happen (the planner starts it first); stop rather than guess.
  if (!load) return { kind: 'finish', outcome: 'failed', reason: 'the write load was lost' };
  if (load.resumeMs === null && !load.stopped) {
    if (o.fault.msSince > limits.resumeWithinMs) {
      return { kind: 'stop-load' };
    }
    return { kind: 'wait', ms: 100, phase: `waiting for writes to resume (${seconds(o.fault.msSince)})` };
  }
  if (!load.stopped) {
    // Writes resumed: let the new primary acknowledge some, then stop.
    const sinceResume = o.fault.msSince - (load.resumeMs ?? 0);
    if (sinceResume < limits.settleMs) {
      return { kind: 'wait', ms: limits.settleMs - sinceResume, phase: 'writes resumed; writing on' };
    }
    return { kind: 'stop-load' };
  }
  if (load.resumeMs === null) {
    return {
      kind: 'finish',
      outcome: 'failed',
      reason: `writes did not resume within ${seconds(limits.resumeWithinMs)} of the ${o.kind}`,
    };
  }
  if (o.lost === null) return { kind: 'count-lost' };
  if (o.kind === 'kill' && o.restartedMsAgo === null) {
    return { kind: 'restart-member', member: o.fault.oldPrimary };
  }
  const waited = o.restartedMsAgo ?? o.fault.msSince;
  if (!o.cluster || !rejoined(o.cluster, o.fault.oldPrimary)) {
    if (waited > limits.rejoinWithinMs) {
      return {
        kind: 'finish',
        outcome: 'failed',
        reason: `${o.fault.oldPrimary} did not rejoin as a streaming replica within ${seconds(limits.rejoinWithinMs)}`,
      };
    }
    return {
      kind: 'wait',
      ms: 250,
      phase: `waiting for ${o.fault.oldPrimary} to rejoin (${seconds(waited)})`,
    };
  }
  if (o.synchronous && o.lost > 0) {
    return {
      kind: 'finish',
      outcome: 'failed',
      reason: `${o.lost} acknowledged commits lost in synchronous mode`,
    };
  }
  return {
    kind: 'finish',
    outcome: 'passed',
    reason:
      o.lost > 0
        ? `${o.lost} acknowledged commits lost: asynchronous mode allows it`
        : `writes resumed after ${(load.resumeMs / 1000).toFixed(1)} s; no acknowledged commit lost`,
  };
}

function beforeFault(o: DrillObservation, limits: DrillLimits): DrillStep {
  const problems = o.cluster ? drillProblems(o.cluster) : ["no member's Patroni answers"];
  if (problems.length > 0) {
    // A load already running was started on a fit cluster: the cluster changed under it.
    if (o.elapsedMs > limits.healthyWithinMs || o.load) {
      return {
        kind: 'finish',
        outcome: 'failed',
        reason: `the cluster is not fit for a drill (one leader, every member streaming): ${problems.join('; ')}`,
      };
    }
    return { kind: 'wait', ms: 500, phase: `waiting for a healthy cluster: ${problems.join('; ')}` };
  }
  if (!o.prepared) return { kind: 'prepare' };
  if (!o.load) return { kind: 'start-load' };
  if (o.load.acknowledged < limits.warmupWrites) {
    if (o.elapsedMs > limits.warmupWithinMs) {
      return {
        kind: 'finish',
        outcome: 'failed',
        reason: `the write load had ${o.load.acknowledged} writes acknowledged after ${seconds(o.elapsedMs)}, before any fault`,
      };
    }
    return { kind: 'wait', ms: 100, phase: 'warming up the write load' };
  }
  const leader = o.cluster?.leader;
  if (!leader) return { kind: 'finish', outcome: 'failed', reason: 'no leader to fail' };
  return { kind: 'inject', member: leader };
}
