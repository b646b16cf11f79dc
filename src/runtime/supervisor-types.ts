import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';

/** The supervisor's public shapes: what it runs (a ProcessSpec), what it reports, and its options. */
export interface HealthSpec {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failureThreshold: number;
  readonly startTimeoutMs: number;
}

export interface ProcessSpec {
  /** Unique instance key, e.g. `acme/prod/web/1.0.0/0`; encoded before it names a file. */
  readonly key: string;
  readonly tenant: string;
  readonly stage: string;
  readonly process: string;
  readonly release: string;
  readonly instance: number;
  /** Run with `/bin/sh -c`, in its own process group. */
  readonly command: string;
  /**
   * The sandbox the shell runs in: an argv prefix (bubblewrap ..., ending in
   * `--`) and what the child reads on fd 3 (its options, kept out of ps).
   * Its first process is the one supervised: signals go to its process
   * group, which the sandboxed processes stay in.
   */
  readonly wrapper?: { readonly argv: readonly string[]; readonly fd3: string };
  readonly cwd: string;
  /** Exactly this environment; nothing is inherited from Steward. */
  readonly env: Readonly<Record<string, string>>;
  /** Run unprivileged: callers pass a per-stage uid; no /etc/passwd entry is needed. */
  readonly uid?: number;
  readonly gid?: number;
  /** Web processes: the port they listen on (also in env PORT). */
  readonly port?: number;
  readonly health?: HealthSpec;
  readonly memoryMb?: number;
  /** Scheduling priority (-20..19); workers get a higher nice value so they cannot starve web processes. */
  readonly nice?: number;
  /** stdout and stderr are appended here. */
  readonly logFile: string;
}

export const processPhases = ['starting', 'running', 'backoff', 'crashloop', 'stopping', 'stopped'] as const;
export type ProcessPhase = (typeof processPhases)[number];

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly at: string;
  readonly reason: string;
}

export interface ProcessStatus {
  readonly key: string;
  readonly pid: number | null;
  readonly phase: ProcessPhase;
  readonly healthy: boolean | null;
  readonly restarts: number;
  readonly startedAt: string | null;
  readonly adopted: boolean;
  readonly lastExit: ProcessExit | null;
  readonly lastLogLines: string[];
  readonly spec: ProcessSpec;
}

export const supervisorEventKinds = [
  'started',
  'exited',
  'restarting',
  'crashloop',
  'unhealthy',
  'oom',
  'adopted',
  'stopped',
] as const;
export type SupervisorEventKind = (typeof supervisorEventKinds)[number];

export interface SupervisorEvent {
  readonly kind: SupervisorEventKind;
  readonly key: string;
  readonly at: string;
  readonly reason?: string;
  /** With `crashloop` and `oom`: the end of the process's log. */
  readonly lastLogLines?: readonly string[];
}

/** Where memory limits are enforced: by the kernel (a cgroup per process) or by the runtime itself (Node's heap limit). */
export type MemoryEnforcement = 'cgroup2' | 'cgroup1' | 'runtime';

export interface SupervisorOptions {
  readonly stateDir: string;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly onEvent?: (event: SupervisorEvent) => void;
  /** Restart delay: capped exponential backoff with jitter. */
  readonly backoff?: { readonly baseMs?: number; readonly capMs?: number };
  /** `exits` exits within `windowMs` put a process in crashloop; it is then retried at the backoff cap. */
  readonly crashloop?: { readonly exits?: number; readonly windowMs?: number };
  /** A process that has run this long without exiting counts as stable: its backoff starts over. */
  readonly stableMs?: number;
  /** How often the timer runs a pass. */
  readonly tickMs?: number;
  readonly logs?: {
    readonly maxBytes?: number;
    readonly generations?: number;
    readonly checkEveryMs?: number;
    readonly lines?: number;
  };
  /** `auto`: a cgroup where the machine allows it, else the runtime's own limit. */
  readonly memory?: 'auto' | 'runtime';
  /** The name of the cgroup under which per-process cgroups are made. */
  readonly cgroupName?: string;
  readonly random?: () => number;
  /** While true, failing health checks restart nothing: the stages' database is down, not they (the watchdog restarts it). */
  readonly holdHealthRestarts?: () => boolean;
}

/** What a state file holds in place of each environment value. */
export const envNotStored = '(not stored)';
