import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.ts';
import { backoff as backoffDelay } from '../core/retry.ts';
import { rotateIfLarge, tailLines } from './log-files.ts';
import { errorMessage } from './process-groups.ts';
import type { ProbeResult } from './probe.ts';
import type { ProcessIdentity, StateFile } from './process-state.ts';
import {
  envNotStored,
  type ProcessExit,
  type ProcessPhase,
  type ProcessSpec,
  type ProcessStatus,
  type SupervisorEvent,
  type SupervisorOptions,
} from './supervisor-types.ts';

/** The supervisor's own record of one process (internal to supervisor.ts). */
export interface Managed {
  spec: ProcessSpec;
  readonly logger: Logger;
  identity: ProcessIdentity | null;
  child: ChildProcess | null;
  /** Bumped at each spawn or adoption; exits and probe results of an older generation are ignored. */
  generation: number;
  phase: ProcessPhase;
  healthy: boolean | null;
  everHealthy: boolean;
  failures: number;
  lastProbeAt: number;
  probing: boolean;
  restarts: number;
  startedAt: Date | null;
  /** When the health start timeout began: the spawn, or the adoption. */
  watchedSince: number;
  adopted: boolean;
  lastExit: ProcessExit | null;
  lastLogLines: string[];
  attempt: number;
  exitTimes: number[];
  crashloop: boolean;
  restartAt: number | null;
  /** Set when the supervisor itself kills the process, so its exit carries the real reason. */
  killReason: string | null;
  cgroup: string | null;
  oomBaseline: number;
  stopping: Promise<void> | null;
  /** False for an adopted process until ensure() passes its spec: state files do not hold environment values. */
  envKnown: boolean;
  /** A spawn in progress; a stop waits for it, so that it never misses the process being started. */
  spawning: Promise<void> | null;
  /** State file writes of one process happen in order. */
  writes: Promise<void>;
  exitHandled: Promise<void>;
}

export type NormalisedOptions = Required<
  Omit<SupervisorOptions, 'clock' | 'onEvent' | 'backoff' | 'crashloop' | 'logs'>
> & {
  readonly clock: Clock;
  readonly onEvent: ((event: SupervisorEvent) => void) | undefined;
  readonly backoff: { readonly baseMs: number; readonly capMs: number };
  readonly crashloop: { readonly exits: number; readonly windowMs: number };
  readonly logs: {
    readonly maxBytes: number;
    readonly generations: number;
    readonly checkEveryMs: number;
    readonly lines: number;
  };
};

const defaults = {
  backoff: { baseMs: 500, capMs: 30_000 },
  crashloop: { exits: 5, windowMs: 60_000 },
  stableMs: 10_000,
  tickMs: 250,
  logs: { maxBytes: 10 * 1024 * 1024, generations: 3, checkEveryMs: 5_000, lines: 20 },
} as const;

export function normaliseOptions(options: SupervisorOptions): NormalisedOptions {
  return {
    stateDir: options.stateDir,
    logger: options.logger,
    clock: options.clock ?? systemClock,
    onEvent: options.onEvent,
    backoff: { ...defaults.backoff, ...options.backoff },
    crashloop: { ...defaults.crashloop, ...options.crashloop },
    stableMs: options.stableMs ?? defaults.stableMs,
    tickMs: options.tickMs ?? defaults.tickMs,
    logs: { ...defaults.logs, ...options.logs },
    memory: options.memory ?? 'auto',
    cgroupName: options.cgroupName ?? 'steward',
    random: options.random ?? Math.random,
    holdHealthRestarts: options.holdHealthRestarts ?? (() => false),
  };
}

export function newManaged(parent: Logger, spec: ProcessSpec): Managed {
  return {
    spec,
    logger: parent.child({
      key: spec.key,
      tenant: spec.tenant,
      stage: spec.stage,
      process: spec.process,
    }),
    identity: null,
    child: null,
    generation: 0,
    phase: 'starting',
    healthy: null,
    everHealthy: false,
    failures: 0,
    lastProbeAt: 0,
    probing: false,
    restarts: 0,
    startedAt: null,
    watchedSince: 0,
    adopted: false,
    lastExit: null,
    lastLogLines: [],
    attempt: 0,
    exitTimes: [],
    crashloop: false,
    restartAt: null,
    killReason: null,
    cgroup: null,
    oomBaseline: 0,
    stopping: null,
    envKnown: true,
    spawning: null,
    writes: Promise.resolve(),
    exitHandled: Promise.resolve(),
  };
}

/** A process with an HTTP probe: ready once it answers, not merely once it runs. */
export function hasProbe(spec: ProcessSpec): boolean {
  return spec.health !== undefined && spec.port !== undefined;
}

export function statusOf(m: Managed): ProcessStatus {
  return {
    key: m.spec.key,
    pid: m.identity?.pid ?? null,
    phase: m.phase,
    healthy: m.healthy,
    restarts: m.restarts,
    startedAt: m.identity ? (m.startedAt?.toISOString() ?? null) : null,
    adopted: m.adopted,
    lastExit: m.lastExit,
    lastLogLines: [...m.lastLogLines],
    spec: m.spec,
  };
}

/** What the state file says of a process: enough to adopt it, and no environment value (passwords). */
export function stateFileOf(m: Managed, phase: StateFile<ProcessSpec>['phase']): StateFile<ProcessSpec> {
  return {
    version: 1,
    key: m.spec.key,
    phase,
    identity: m.identity,
    startedAt: m.startedAt?.toISOString() ?? null,
    restarts: m.restarts,
    cgroup: m.cgroup,
    // ensure() provides the environment again after a restart of Steward.
    spec: {
      ...m.spec,
      env: Object.fromEntries(Object.keys(m.spec.env).map((name) => [name, envNotStored])),
    },
  };
}

/** Why a process exited, in words: out of memory, the supervisor's own kill, or its exit status. */
export function exitReason(
  m: Managed,
  oom: boolean,
  code: number | null,
  signal: NodeJS.Signals | null,
  override: string | undefined,
): string {
  if (oom) return `out of memory (limit ${m.spec.memoryMb} MB)`;
  return (
    override ??
    m.killReason ??
    (code !== null ? `exited with code ${code}` : signal !== null ? `killed by ${signal}` : 'exited')
  );
}

/**
 * After an exit: when to start the process again (capped exponential backoff
 * with jitter; at the cap once it crash-loops). `crashloop` says why, when
 * this exit put it in crashloop.
 */
export function scheduleRestart(
  m: Managed,
  nowMs: number,
  reason: string,
  options: NormalisedOptions,
): { delay: number; crashloop: string | undefined } {
  if (m.startedAt && nowMs - m.startedAt.getTime() >= options.stableMs) m.attempt = 0;
  m.exitTimes = [...m.exitTimes.filter((t) => nowMs - t < options.crashloop.windowMs), nowMs];
  let crashloop: string | undefined;
  if (!m.crashloop && m.exitTimes.length >= options.crashloop.exits) {
    m.crashloop = true;
    crashloop = `${m.exitTimes.length} exits within ${Math.round(options.crashloop.windowMs / 1000)} s; last: ${reason}`;
  }
  const { baseMs, capMs } = options.backoff;
  const delay = m.crashloop ? capMs : backoffDelay(m.attempt, baseMs, capMs, options.random);
  m.attempt += 1;
  m.restartAt = nowMs + delay;
  m.phase = m.crashloop ? 'crashloop' : 'backoff';
  return { delay, crashloop };
}

/**
 * A health probe's answer: healthy again, or one more failure. Returns why
 * the process must be killed (to be restarted) once it failed
 * failureThreshold probes in a row, unless restarts are held. Before its
 * first healthy answer, failures do not count: the start timeout decides.
 */
export function applyProbe(m: Managed, result: ProbeResult, holdRestarts: boolean): string | undefined {
  const health = m.spec.health;
  if (!health) return undefined;
  if (result.ok) {
    m.failures = 0;
    if (m.healthy !== true) {
      m.healthy = true;
      m.everHealthy = true;
      m.phase = 'running';
      m.crashloop = false;
      m.attempt = 0;
      m.logger.info('process is healthy');
    }
    return undefined;
  }
  if (!m.everHealthy) return undefined;
  m.failures += 1;
  m.healthy = false;
  if (m.failures < health.failureThreshold || holdRestarts) return undefined;
  return `unhealthy: ${m.failures} health checks failed in a row, last: ${result.reason}`;
}

/** Rotates each process's log file when it is large, and keeps its last lines for the process's status. */
export async function rotateLogs(managed: Iterable<Managed>, logs: NormalisedOptions['logs']): Promise<void> {
  const seen = new Set<string>();
  for (const m of managed) {
    const file = m.spec.logFile;
    if (seen.has(file)) continue;
    seen.add(file);
    try {
      if (await rotateIfLarge(file, logs)) m.logger.info({ file }, 'log file rotated');
      m.lastLogLines = await tailLines(file, logs.lines);
    } catch (error) {
      m.logger.warn({ err: errorMessage(error), file }, 'log rotation failed');
    }
  }
}
