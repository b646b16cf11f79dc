import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.ts';
import { backoff as backoffDelay } from '../core/retry.ts';
import { detectMemoryCgroups, processCgroupName, type MemoryCgroups } from './cgroups.ts';
import { openLogForChild, rotateIfLarge, tailLines } from './log-files.ts';
import { probeHttp, type ProbeResult } from './probe.ts';
import {
  fileId,
  groupMembers,
  identify,
  isSameProcessAlive,
  logWriters,
  readProcStat,
  StateStore,
  type ProcessIdentity,
  type StateFile,
} from './process-state.ts';

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

interface Managed {
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

type NormalisedOptions = Required<
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

const niceBinary = '/usr/bin/nice';

/** What a state file holds in place of each environment value. */
export const envNotStored = '(not stored)';

/**
 * Runs a stage's processes as children of Steward and keeps them running:
 * restarts with backoff, crashloop detection, HTTP health probes that replace
 * a hung process, memory limits, log files with rotation. Children live in
 * their own process groups and write their logs through inherited file
 * descriptors, so they outlive a crash of Steward; a state file per process
 * lets the next Steward adopt them instead of starting a second copy.
 *
 * `tick()` is the one pass; the timer only calls it.
 */
export class Supervisor {
  readonly #options: NormalisedOptions;
  readonly #logger: Logger;
  readonly #store: StateStore<ProcessSpec>;
  readonly #cgroups: MemoryCgroups | undefined;
  readonly #managed = new Map<string, Managed>();
  readonly #ensuring = new Map<string, Promise<ProcessStatus>>();
  readonly #probes = new Set<Promise<void>>();
  #adopting: Promise<ProcessStatus[]> | undefined;
  #starting: Promise<void> | undefined;
  #shuttingDown: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> = Promise.resolve();
  #passInFlight = false;
  #closed = false;
  #lastLogPass = 0;

  constructor(options: SupervisorOptions) {
    this.#options = {
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
    this.#logger = options.logger.child({ component: 'supervisor' });
    this.#store = new StateStore<ProcessSpec>(options.stateDir);
    this.#cgroups =
      this.#options.memory === 'auto' ? detectMemoryCgroups({ name: this.#options.cgroupName }) : undefined;
  }

  /** How memory limits are enforced on this machine. */
  get memoryEnforcement(): MemoryEnforcement {
    return this.#cgroups?.kind ?? 'runtime';
  }

  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    await this.adopt();
    if (this.#closed) return;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#passInFlight) return this.#schedule();
      this.tick()
        .catch((error: unknown) => this.#logger.error({ err: errorMessage(error) }, 'supervisor pass failed'))
        .finally(() => this.#schedule());
    }, this.#options.tickMs);
    this.#timer.unref();
  }

  /**
   * Starts the process unless it runs already (or was adopted); never starts a
   * second copy. A changed spec under the same key takes effect at the next
   * restart: releases and instances have keys of their own.
   */
  ensure(spec: ProcessSpec): Promise<ProcessStatus> {
    const pending = this.#ensuring.get(spec.key);
    if (pending) return pending;
    const work = this.#ensure(spec).finally(() => this.#ensuring.delete(spec.key));
    this.#ensuring.set(spec.key, work);
    return work;
  }

  async #ensure(spec: ProcessSpec): Promise<ProcessStatus> {
    if (this.#closed) throw new Error('the supervisor is shut down');
    // Adoption first: a process left by an earlier Steward must be found, not started again.
    await this.adopt();
    let m = this.#managed.get(spec.key);
    if (m?.stopping) {
      await m.stopping;
      m = this.#managed.get(spec.key);
    }
    if (m) {
      if (!m.envKnown) {
        m.spec = spec; // an adopted process: now its environment is known again
        m.envKnown = true;
      } else if (JSON.stringify(m.spec) !== JSON.stringify(spec)) {
        m.logger.info('spec changed; it applies at the next restart');
        m.spec = spec;
      }
      return this.#status(m);
    }
    m = this.#newManaged(spec);
    this.#managed.set(spec.key, m);
    await this.#spawn(m);
    return this.#status(m);
  }

  #newManaged(spec: ProcessSpec): Managed {
    return {
      spec,
      logger: this.#logger.child({
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

  #writeState(m: Managed, phase: StateFile<ProcessSpec>['phase']): Promise<void> {
    const state: StateFile<ProcessSpec> = {
      version: 1,
      key: m.spec.key,
      phase,
      identity: m.identity,
      startedAt: m.startedAt?.toISOString() ?? null,
      restarts: m.restarts,
      cgroup: m.cgroup,
      // Environment values (database passwords) are not written to disk; ensure() provides them again after a restart.
      spec: {
        ...m.spec,
        env: Object.fromEntries(Object.keys(m.spec.env).map((name) => [name, envNotStored])),
      },
    };
    const write = m.writes.then(() => this.#store.write(state));
    m.writes = write.catch((error: unknown) =>
      m.logger.error({ err: errorMessage(error) }, 'could not write the state file'),
    );
    return write;
  }

  #spawn(m: Managed): Promise<void> {
    const spawning = this.#spawnNow(m).finally(() => {
      if (m.spawning === spawning) m.spawning = null;
    });
    m.spawning = spawning;
    return spawning;
  }

  async #spawnNow(m: Managed): Promise<void> {
    const spec = m.spec;
    const generation = ++m.generation;
    m.identity = null;
    m.restartAt = null;
    m.killReason = null;
    m.healthy = null;
    m.failures = 0;
    m.everHealthy = false;
    m.lastProbeAt = 0;
    m.adopted = false;
    await this.#store.init();
    // Before the spawn: a crash from here on leaves a file that tells adoption to look for the child by its log file.
    await this.#writeState(m, 'spawning');

    const env: Record<string, string> = { ...spec.env };
    if (spec.memoryMb !== undefined) {
      if (this.#cgroups) {
        try {
          m.cgroup = await this.#cgroups.prepare(processCgroupName(spec.key), spec.memoryMb);
          m.oomBaseline = await this.#cgroups.oomKills(m.cgroup);
        } catch (error) {
          m.cgroup = null;
          m.logger.warn(
            { err: errorMessage(error) },
            'could not create a memory cgroup; using the runtime limit',
          );
        }
      }
      if (!m.cgroup && isNodeCommand(spec.command)) {
        env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --max-old-space-size=${spec.memoryMb}`.trim();
      }
    }

    // dash exports PWD; unless the caller asked for it, the child gets exactly the env it was given.
    const script = `${'PWD' in spec.env ? '' : 'unset PWD; '}${isSimpleCommand(spec.command) ? 'exec ' : ''}${spec.command}`;
    const argv = [
      ...(spec.nice !== undefined && existsSync(niceBinary) ? [niceBinary, '-n', String(spec.nice)] : []),
      ...(spec.wrapper?.argv ?? []),
      '/bin/sh',
      '-c',
      script,
    ];

    let child: ChildProcess | undefined;
    let spawnError: string | undefined;
    const log = await openLogForChild(spec.logFile);
    const fd = log.fd;
    try {
      child = spawn(argv[0] ?? '/bin/sh', argv.slice(1), {
        cwd: spec.cwd,
        env,
        detached: true,
        stdio: spec.wrapper ? ['ignore', fd, fd, 'pipe'] : ['ignore', fd, fd],
        ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
        ...(spec.gid !== undefined ? { gid: spec.gid } : spec.uid !== undefined ? { gid: spec.uid } : {}),
      });
    } catch (error) {
      spawnError = errorMessage(error);
    } finally {
      await log.close();
    }
    const pid = child?.pid;
    if (!child || pid === undefined) {
      child?.on('error', () => undefined);
      m.startedAt = this.#options.clock.now();
      this.#handleExit(m, generation, null, null, `could not start: ${spawnError ?? 'spawn failed'}`);
      return;
    }
    // The sandbox's options: written once, then the pipe is closed (bubblewrap reads it to the end).
    const fd3 = child.stdio[3];
    if (spec.wrapper && fd3 && 'end' in fd3) {
      fd3.on('error', () => undefined);
      fd3.end(spec.wrapper.fd3);
    }
    child.unref();
    child.on('error', (error) => m.logger.warn({ err: error.message }, 'child process error'));
    m.child = child;
    m.identity = identify(pid) ?? null;
    m.startedAt = this.#options.clock.now();
    m.watchedSince = m.startedAt.getTime();
    if (!m.stopping) m.phase = m.crashloop ? 'crashloop' : this.#hasProbe(spec) ? 'starting' : 'running';
    child.once('exit', (code, signal) => this.#handleExit(m, generation, code, signal));

    if (m.cgroup && this.#cgroups) {
      try {
        await this.#cgroups.add(m.cgroup, pid);
        // The shell may have forked before the move; its children must be limited too.
        for (const member of groupMembers(pid)) {
          if (member !== pid) await this.#cgroups.add(m.cgroup, member).catch(() => undefined);
        }
      } catch (error) {
        m.logger.warn({ err: errorMessage(error) }, 'could not move the process into its memory cgroup');
      }
    }
    if (m.identity) await this.#writeState(m, 'running').catch(() => undefined);
    m.logger.info({ pid, restarts: m.restarts }, 'process started');
    this.#emit({ kind: 'started', key: spec.key, at: m.startedAt.toISOString() });
  }

  #hasProbe(spec: ProcessSpec): boolean {
    return spec.health !== undefined && spec.port !== undefined;
  }

  #handleExit(
    m: Managed,
    generation: number,
    code: number | null,
    signal: NodeJS.Signals | null,
    reasonOverride?: string,
  ): void {
    if (generation !== m.generation || this.#closed) return;
    const pid = m.identity?.pid ?? null;
    m.child = null;
    m.identity = null;
    m.healthy = this.#hasProbe(m.spec) ? false : null;
    if (pid !== null) killGroup(pid, 'SIGKILL'); // whatever the leader left behind in its group
    const done = this.#afterExit(m, generation, code, signal, reasonOverride).catch((error: unknown) =>
      m.logger.error({ err: errorMessage(error) }, 'handling an exit failed'),
    );
    m.exitHandled = done;
  }

  async #afterExit(
    m: Managed,
    generation: number,
    code: number | null,
    signal: NodeJS.Signals | null,
    reasonOverride: string | undefined,
  ): Promise<void> {
    const spec = m.spec;
    const now = this.#options.clock.now();
    m.lastLogLines = await tailLines(spec.logFile, this.#options.logs.lines);
    let oom = false;
    if (m.cgroup && this.#cgroups) oom = (await this.#cgroups.oomKills(m.cgroup)) > m.oomBaseline;
    // Node sizes its heap from the cgroup limit too, so under a cgroup it may give up before the kernel steps in.
    if (!oom && spec.memoryMb !== undefined && (code !== 0 || signal !== null)) {
      oom = m.lastLogLines.some((line) =>
        /heap out of memory|Allocation failed - JavaScript heap/i.test(line),
      );
    }
    const reason = oom
      ? `out of memory (limit ${spec.memoryMb} MB)`
      : (reasonOverride ??
        m.killReason ??
        (code !== null ? `exited with code ${code}` : signal !== null ? `killed by ${signal}` : 'exited'));
    m.lastExit = { code, signal, at: now.toISOString(), reason };
    if (generation !== m.generation || m.stopping || this.#closed) return;

    m.logger.warn({ code, signal, reason }, 'process exited');
    this.#emit({ kind: 'exited', key: spec.key, at: now.toISOString(), reason });
    if (oom)
      this.#emit({ kind: 'oom', key: spec.key, at: now.toISOString(), reason, lastLogLines: m.lastLogLines });

    const nowMs = now.getTime();
    if (m.startedAt && nowMs - m.startedAt.getTime() >= this.#options.stableMs) m.attempt = 0;
    m.exitTimes = [...m.exitTimes.filter((t) => nowMs - t < this.#options.crashloop.windowMs), nowMs];
    if (!m.crashloop && m.exitTimes.length >= this.#options.crashloop.exits) {
      m.crashloop = true;
      const why = `${m.exitTimes.length} exits within ${Math.round(this.#options.crashloop.windowMs / 1000)} s; last: ${reason}`;
      m.logger.error({ reason: why, lastLogLines: m.lastLogLines }, 'process is crash-looping');
      this.#emit({
        kind: 'crashloop',
        key: spec.key,
        at: now.toISOString(),
        reason: why,
        lastLogLines: m.lastLogLines,
      });
    }
    const { baseMs, capMs } = this.#options.backoff;
    const delay = m.crashloop ? capMs : backoffDelay(m.attempt, baseMs, capMs, this.#options.random);
    m.attempt += 1;
    m.restartAt = nowMs + delay;
    m.phase = m.crashloop ? 'crashloop' : 'backoff';
    this.#emit({
      kind: 'restarting',
      key: spec.key,
      at: now.toISOString(),
      reason: `in ${delay} ms after: ${reason}`,
    });
  }

  /**
   * The one pass: liveness of adopted processes, restarts that are due,
   * health probes and start timeouts, log rotation. Passes run one at a time.
   * Probes are started here and finish on their own (each within its
   * timeout), so one hung process cannot delay the restart of another.
   */
  tick(): Promise<void> {
    const pass = this.#pass.then(() => this.#runPass());
    this.#pass = pass.catch(() => undefined);
    return pass;
  }

  async #runPass(): Promise<void> {
    if (this.#closed) return;
    this.#passInFlight = true;
    try {
      const now = this.#options.clock.now().getTime();
      for (const m of [...this.#managed.values()]) {
        if (m.stopping || this.#closed) continue;
        await this.#passOne(m, now);
      }
      if (now - this.#lastLogPass >= this.#options.logs.checkEveryMs) {
        this.#lastLogPass = now;
        await this.#logPass();
      }
    } finally {
      this.#passInFlight = false;
    }
  }

  async #passOne(m: Managed, now: number): Promise<void> {
    // Adopted processes are not our children: no exit event, so poll.
    if (m.identity && !m.child && !isSameProcessAlive(m.identity)) {
      this.#handleExit(
        m,
        m.generation,
        null,
        null,
        m.killReason ?? 'exited while adopted (exit status unknown)',
      );
      await m.exitHandled;
    }
    if (!m.identity && !m.stopping && m.restartAt !== null && m.restartAt <= now) {
      if (!m.envKnown) return; // adopted, and ensure() has not given its environment yet
      m.restarts += 1;
      try {
        await this.#spawn(m);
      } catch (error) {
        // Could not even prepare (log directory, state dir): try again later.
        m.logger.error({ err: errorMessage(error) }, 'restart failed');
        m.restartAt = now + this.#options.backoff.capMs;
      }
      return;
    }
    // Killed for a restart already: its exit will come; no more probes meanwhile.
    if (!m.identity || m.killReason !== null) return;
    const spec = m.spec;
    if (!this.#hasProbe(spec)) {
      if (m.startedAt && now - m.startedAt.getTime() >= this.#options.stableMs && m.crashloop) {
        m.crashloop = false;
        m.attempt = 0;
        m.phase = 'running';
      }
      return;
    }
    const health = spec.health;
    if (!health) return;
    if (!m.everHealthy && now - m.watchedSince > health.startTimeoutMs) {
      this.#killForRestart(m, `not healthy within ${health.startTimeoutMs} ms of start`);
      return;
    }
    // Until a process is first healthy, probe at every pass: deploys and restarts then hand over as
    // soon as it answers, not up to an interval later. Failures of a healthy process keep the interval.
    const interval = m.everHealthy ? health.intervalMs : Math.min(health.intervalMs, 100);
    if (!m.probing && now - m.lastProbeAt >= interval) {
      m.probing = true;
      m.lastProbeAt = now;
      const generation = m.generation;
      const probe = probeHttp(spec.port ?? 0, health.path, health.timeoutMs).then((result) => {
        m.probing = false;
        this.#probeResult(m, generation, result);
      });
      this.#probes.add(probe);
      void probe.finally(() => this.#probes.delete(probe));
    }
  }

  #probeResult(m: Managed, generation: number, result: ProbeResult): void {
    if (generation !== m.generation || m.stopping || this.#closed || !m.identity || m.killReason !== null)
      return;
    const health = m.spec.health;
    if (!health) return;
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
      return;
    }
    if (!m.everHealthy) return; // the start timeout decides
    m.failures += 1;
    m.healthy = false;
    if (m.failures >= health.failureThreshold && !this.#options.holdHealthRestarts()) {
      const reason = `unhealthy: ${m.failures} health checks failed in a row, last: ${result.reason}`;
      this.#emit({ kind: 'unhealthy', key: m.spec.key, at: this.#options.clock.now().toISOString(), reason });
      this.#killForRestart(m, reason);
    }
  }

  /**
   * Self-healing: kills a running process that runs but does not serve (what
   * its own probe cannot see), so that its exit restarts it. False when it is
   * not running now.
   */
  restart(key: string, reason: string): boolean {
    const m = this.#managed.get(key);
    if (!m?.identity || m.stopping || m.killReason !== null) return false;
    this.#killForRestart(m, reason);
    return true;
  }

  /** SIGKILL to the whole group: a hung or stopped process gets no say. Its exit then restarts it. */
  #killForRestart(m: Managed, reason: string): void {
    if (!m.identity) return;
    m.logger.warn({ reason }, 'killing the process to restart it');
    m.killReason = reason;
    m.healthy = false;
    killGroup(m.identity.pid, 'SIGKILL');
  }

  async #logPass(): Promise<void> {
    const seen = new Set<string>();
    for (const m of this.#managed.values()) {
      const file = m.spec.logFile;
      if (seen.has(file)) continue;
      seen.add(file);
      try {
        if (await rotateIfLarge(file, this.#options.logs)) m.logger.info({ file }, 'log file rotated');
        m.lastLogLines = await tailLines(file, this.#options.logs.lines);
      } catch (error) {
        m.logger.warn({ err: errorMessage(error), file }, 'log rotation failed');
      }
    }
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; then the state file and cgroup are removed. */
  async stop(key: string, options: { readonly graceMs?: number } = {}): Promise<void> {
    await this.adopt();
    const m = this.#managed.get(key);
    if (!m) {
      await this.#store.remove(key);
      return;
    }
    m.stopping ??= this.#stop(m, options.graceMs ?? 10_000);
    return m.stopping;
  }

  async #stop(m: Managed, graceMs: number): Promise<void> {
    m.phase = 'stopping';
    m.restartAt = null;
    await m.spawning?.catch(() => undefined);
    const identity = m.identity;
    await this.#writeState(m, 'stopping').catch(() => undefined);
    if (identity) {
      m.logger.info({ pid: identity.pid, graceMs }, 'stopping process');
      killGroup(identity.pid, 'SIGTERM');
      if (!(await waitUntil(() => !isSameProcessAlive(identity), graceMs))) {
        m.logger.warn({ pid: identity.pid, graceMs }, 'process ignored SIGTERM; killing it');
      }
      killGroup(identity.pid, 'SIGKILL');
      await waitUntil(() => !isSameProcessAlive(identity) && groupMembers(identity.pid).length === 0, 10_000);
      await m.exitHandled;
    }
    if (m.cgroup && this.#cgroups) {
      await this.#cgroups
        .remove(m.cgroup)
        .catch((error: unknown) =>
          m.logger.warn({ err: errorMessage(error) }, 'could not remove the memory cgroup'),
        );
    }
    await m.writes;
    await this.#store.remove(m.spec.key);
    m.phase = 'stopped';
    m.identity = null;
    this.#managed.delete(m.spec.key);
    this.#emit({ kind: 'stopped', key: m.spec.key, at: this.#options.clock.now().toISOString() });
  }

  /** Resolves when the process passes its HTTP probe (without a probe: when it runs). */
  async waitHealthy(key: string, timeoutMs: number): Promise<void> {
    const ok = await waitUntil(() => {
      const m = this.#managed.get(key);
      if (!m || !m.identity) return false;
      return this.#hasProbe(m.spec) ? m.healthy === true : m.phase === 'running';
    }, timeoutMs);
    if (ok) return;
    const m = this.#managed.get(key);
    const detail = m
      ? `phase ${m.phase}${m.lastExit ? `, last exit: ${m.lastExit.reason}` : ''}`
      : 'not supervised';
    throw new Error(`process ${key} was not healthy within ${timeoutMs} ms (${detail})`);
  }

  status(): ProcessStatus[] {
    return [...this.#managed.values()].map((m) => this.#status(m));
  }

  get(key: string): ProcessStatus | undefined {
    const m = this.#managed.get(key);
    return m ? this.#status(m) : undefined;
  }

  #status(m: Managed): ProcessStatus {
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

  /**
   * Finds the processes an earlier Steward left running: each state file's
   * pid is adopted only if its start time (and boot) still match, so a reused
   * pid is never taken for ours. A file written just before a spawn (no pid
   * yet) is resolved by the log file: the child's stdout is that file. Any
   * other process still writing to a supervised log file is a leftover and is
   * killed. Dead processes' files are removed; `ensure` starts them again.
   * Runs once; later calls return the same result.
   */
  adopt(): Promise<ProcessStatus[]> {
    this.#adopting ??= this.#adopt();
    return this.#adopting;
  }

  async #adopt(): Promise<ProcessStatus[]> {
    await this.#store.init();
    const { states, unreadable } = await this.#store.readAll();
    for (const path of unreadable) this.#logger.warn({ path }, 'unreadable supervisor state file ignored');
    const adopted: Managed[] = [];
    const keepGroups = new Set<number>();
    const pending: StateFile<ProcessSpec>[] = [];

    for (const state of states) {
      const identity = state.identity;
      const leader = identity && isSameProcessAlive(identity) ? readProcStat(identity.pid) : undefined;
      if (identity && leader && leader.pgid === identity.pid) {
        if (state.phase === 'stopping') {
          pending.push(state); // finish the stop below
          keepGroups.add(identity.pid);
          continue;
        }
        adopted.push(this.#adoptOne(state, identity));
        keepGroups.add(identity.pid);
      } else {
        pending.push(state);
      }
    }

    // Stdout of every process on the machine, by device and inode of its target.
    const byLog = new Map<string, StateFile<ProcessSpec>>();
    for (const state of states) {
      const id = fileId(state.spec.logFile);
      if (id) byLog.set(id, state);
    }
    const writers = byLog.size > 0 ? logWriters(byLog) : [];

    for (const state of pending) {
      if (state.phase === 'spawning') {
        // Spawned, but the pid never made it to the file: the group leader writing to its log is the child.
        const found = writers.find(
          (w) => w.state.key === state.key && w.pgid === w.pid && !keepGroups.has(w.pgid),
        );
        const identity = found ? identify(found.pid) : undefined;
        if (identity) {
          adopted.push(this.#adoptOne(state, identity));
          keepGroups.add(identity.pid);
          continue;
        }
      }
      if (state.phase === 'stopping' && state.identity && keepGroups.has(state.identity.pid)) {
        keepGroups.delete(state.identity.pid);
        killGroup(state.identity.pid, 'SIGKILL');
        const identity = state.identity;
        await waitUntil(() => !isSameProcessAlive(identity), 5_000);
      }
      await this.#store.remove(state.key);
      if (state.cgroup && this.#cgroups) await this.#cgroups.remove(state.cgroup).catch(() => false);
      this.#logger.info(
        { key: state.key, phase: state.phase },
        'removed the state of a process that is gone',
      );
    }

    for (const writer of writers) {
      if (keepGroups.has(writer.pgid)) continue;
      this.#logger.warn(
        { key: writer.state.key, pid: writer.pid },
        'killing a leftover process of an earlier run',
      );
      killGroup(writer.pgid, 'SIGKILL');
      try {
        process.kill(writer.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }

    for (const m of adopted) {
      if (m.cgroup && this.#cgroups) m.oomBaseline = await this.#cgroups.oomKills(m.cgroup);
      await this.#writeState(m, 'running').catch(() => undefined);
      m.logger.info({ pid: m.identity?.pid }, 'adopted a running process');
      this.#emit({ kind: 'adopted', key: m.spec.key, at: this.#options.clock.now().toISOString() });
    }
    return adopted.map((m) => this.#status(m));
  }

  #adoptOne(state: StateFile<ProcessSpec>, identity: ProcessIdentity): Managed {
    const m = this.#newManaged(state.spec);
    m.identity = identity;
    m.generation = 1;
    m.adopted = true;
    m.restarts = state.restarts;
    m.startedAt = state.startedAt ? new Date(state.startedAt) : this.#options.clock.now();
    m.watchedSince = this.#options.clock.now().getTime();
    m.cgroup = state.cgroup;
    m.envKnown = false;
    m.phase = this.#hasProbe(state.spec) ? 'starting' : 'running';
    this.#managed.set(state.key, m);
    return m;
  }

  /**
   * Stops the timer and waits for the pass and probes in flight. With
   * `stopChildren: false` the children keep running, to be adopted by the
   * next start. Safe to call twice.
   */
  shutdown(options: { readonly stopChildren: boolean }): Promise<void> {
    this.#shuttingDown ??= this.#shutdown(options);
    return this.#shuttingDown;
  }

  async #shutdown(options: { readonly stopChildren: boolean }): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#starting?.catch(() => undefined);
    if (this.#timer) clearTimeout(this.#timer);
    if (options.stopChildren) {
      await this.#pass;
      await Promise.allSettled([...this.#probes]);
      await Promise.allSettled([...this.#managed.keys()].map((key) => this.stop(key)));
    }
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#pass;
    await Promise.allSettled([...this.#probes]);
    for (const m of this.#managed.values()) await m.writes;
  }

  /**
   * Test only: forgets everything at once, as a `kill -9` of Steward would,
   * without signalling any child and without touching the state files.
   */
  abandon(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const m of this.#managed.values()) m.generation += 1;
  }

  #emit(event: SupervisorEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch (error) {
      this.#logger.warn({ err: errorMessage(error), event: event.kind }, 'supervisor event handler failed');
    }
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  if (pgid <= 1) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone
  }
}

async function waitUntil(condition: () => boolean, timeoutMs: number, everyMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A command without shell syntax can be exec'd, so the pid we supervise is the program itself, not a shell. */
function isSimpleCommand(command: string): boolean {
  return /^[\w@%+=:,./ -]+$/.test(command.trim());
}

function isNodeCommand(command: string): boolean {
  return /(^|[\s/])node(\s|$)/.test(command);
}
