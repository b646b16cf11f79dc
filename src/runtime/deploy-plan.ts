import type { DeploymentStatus } from './deployments.ts';

/**
 * The deploy planner: what a deployment wants and what is observed in, the
 * next step out. Pure, so every case is a row in a table test. The deploy job
 * asks it again after every step, and after a crash, so a deploy resumes
 * from what it finds, not from what it remembers.
 */
export const deploySteps = [
  'migrate',
  'start',
  'wait-healthy',
  'serve',
  'mark-active',
  'retire',
  'stop-old',
  'done',
  'fail',
] as const;
export type DeployStep = (typeof deploySteps)[number];

export interface DeployDesired {
  /** The release has a migration command. */
  readonly migrate: boolean;
}

export interface ObservedDeploy {
  /** The phase recorded in the deployments row. */
  readonly status: DeploymentStatus;
  /** False once the stage is being removed. */
  readonly stagePresent: boolean;
  /** Instances the new release defines, how many of them are supervised, how many may take requests. */
  readonly instances: { readonly wanted: number; readonly supervised: number; readonly ready: number };
  /** Web ports of the new release's instances. */
  readonly newPorts: readonly number[];
  /** Ports the stage's endpoint sends new requests to now. */
  readonly serving: readonly number[];
  /** Web ports of other releases' instances that still run and were not retired yet. */
  readonly oldPorts: readonly number[];
  /** Instances of other releases that still run. */
  readonly oldInstances: number;
  /** Why the last step failed (a migration's exit, a health timeout); undefined when it did not. */
  readonly failure: string | undefined;
}

export type DeployPlan =
  | {
      readonly step: Exclude<DeployStep, 'fail'>;
      readonly reason: string;
    }
  | { readonly step: 'fail'; readonly reason: string };

const inFlight: readonly DeploymentStatus[] = ['pending', 'migrating', 'starting'];

export function nextDeployStep(observed: ObservedDeploy, desired: DeployDesired): DeployPlan {
  const { status } = observed;
  if (inFlight.includes(status)) {
    if (!observed.stagePresent) return { step: 'fail', reason: 'the stage was removed' };
    if (observed.failure !== undefined) return { step: 'fail', reason: observed.failure };
    // A crash during the migration runs it again: migrations must be safe to repeat.
    if (status !== 'starting' && desired.migrate) {
      return { step: 'migrate', reason: 'migrating the stage database' };
    }
    const { wanted, supervised, ready } = observed.instances;
    if (supervised < wanted) return { step: 'start', reason: 'starting the new release' };
    if (ready < wanted) return { step: 'wait-healthy', reason: 'waiting for the new release to be healthy' };
    if (!samePorts(observed.serving, observed.newPorts)) {
      return { step: 'serve', reason: 'handing new requests to the new release' };
    }
    return { step: 'mark-active', reason: 'the new release is healthy and serving' };
  }
  if (status !== 'active') return { step: 'done', reason: `the deployment is ${status}` };
  // Active: the old release goes, the new one keeps the traffic.
  if (!observed.stagePresent) return { step: 'done', reason: 'the stage is being removed' };
  if (observed.instances.ready > 0 && !samePorts(observed.serving, observed.newPorts)) {
    return { step: 'serve', reason: 'handing new requests to the new release' };
  }
  if (observed.oldPorts.length > 0) {
    return { step: 'retire', reason: 'letting requests in flight to the old release finish' };
  }
  if (observed.oldInstances > 0) return { step: 'stop-old', reason: 'stopping the old release' };
  return { step: 'done', reason: 'healthy and serving' };
}

function samePorts(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((p) => b.includes(p));
}
