import type { ActiveRelease } from './deployments.ts';
import type { ProcessExit, ProcessPhase } from './supervisor.ts';

/**
 * What the stage runtime needs from wherever a stage's app instances run:
 * the process driver (the supervisor and the stage sandbox on this machine)
 * now, a Kubernetes one later. The runtime decides which release runs and
 * where traffic goes; the driver only runs, stops and reports instances.
 */
export interface RuntimeStage {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  readonly filesDir: string;
}

/** What an instance gets to run with: its environment, and the database it may reach. */
export interface StageEnvironment {
  readonly env: Readonly<Record<string, string>>;
  /** The port of the stage's own database: the only local connection its instances may open. */
  readonly databasePort: number;
}

export interface InstanceStatus {
  readonly key: string;
  readonly tenant: string;
  readonly stage: string;
  readonly process: string;
  readonly instance: number;
  readonly release: string;
  readonly pid: number | null;
  readonly phase: ProcessPhase;
  readonly healthy: boolean | null;
  /** It may take requests: it passed its health probe or, with no probe, it runs. */
  readonly ready: boolean;
  readonly restarts: number;
  readonly startedAt: string | null;
  /** Web instances: the loopback port they listen on. */
  readonly port: number | null;
  readonly lastExit: ProcessExit | null;
}

export interface OneShotResult {
  readonly code: number;
  /** stdout, then stderr. */
  readonly output: string;
}

export interface RuntimeDriver {
  /** Takes over what an earlier Steward left running (never a second copy), then supervises. */
  start(): Promise<void>;
  /** Stops supervising; with `stopInstances` the instances stop too, else they keep running to be adopted. */
  shutdown(options: { readonly stopInstances: boolean }): Promise<void>;
  /** Every instance the release defines runs for the stage; those running already are left alone. */
  ensure(
    stage: RuntimeStage,
    release: ActiveRelease,
    environment: StageEnvironment,
  ): Promise<InstanceStatus[]>;
  /** Instances of one stage (every release), or of every stage. */
  instances(stage?: { readonly tenant: string; readonly name: string }): InstanceStatus[];
  /** Stops the stage's instances that `which` picks. */
  stop(stage: RuntimeStage, which: (instance: InstanceStatus) => boolean): Promise<void>;
  /** Stops every instance of a stage not named here and gives up what was held for such stages. */
  keepStages(present: readonly RuntimeStage[]): Promise<void>;
  /**
   * Resolves when the instance is ready, or throws after `timeoutMs`. With
   * `eager`, a web instance is probed every 50 ms (a request is waiting for it)
   * rather than at its health interval.
   */
  waitReady(
    instance: InstanceStatus,
    timeoutMs: number,
    options?: { readonly eager?: boolean },
  ): Promise<void>;
  /**
   * Runs a command of the release once, as the stage (migrate, verify), and
   * waits for it. `reach` names further local ports it may connect to meanwhile.
   */
  runOnce(
    stage: RuntimeStage,
    release: ActiveRelease,
    command: string,
    environment: StageEnvironment,
    options: { readonly timeoutMs: number; readonly reach?: readonly number[] },
  ): Promise<OneShotResult>;
  /** The user a stage's instances run as; undefined when they run as Steward's own. */
  stageUid(stageId: string): number | undefined;
}

/** The loopback ports of web instances. */
export function webPorts(instances: readonly InstanceStatus[]): number[] {
  return instances.map((i) => i.port).filter((p): p is number => p !== null);
}
