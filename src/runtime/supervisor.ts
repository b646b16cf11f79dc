import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { detectMemoryCgroups, processCgroupName, type MemoryCgroups } from './cgroups.ts';
import { openLogForChild, tailLines } from './log-files.ts';
import { probeHttp, type ProbeResult } from './probe.ts';
import {
  groupMembers,
  identify,
  isSameProcessAlive,
  StateStore,
  type ProcessIdentity,
  type StateFile,
} from './process-state.ts';
import { planAdoption } from './adoption.ts';
import {
  applyProbe,
  rotateLogs,
  exitReason,
  hasProbe,
  newManaged,
  normaliseOptions,
  scheduleRestart,
  stateFileOf,
  statusOf,
  type Managed,
  type NormalisedOptions,
} from './managed.ts';
import { childCommand, errorMessage, killGroup, waitUntil } from './process-groups.ts';
import {
  type MemoryEnforcement,
  type ProcessSpec,
  type ProcessStatus,
  type SupervisorEvent,
  type SupervisorOptions,
} from './supervisor-types.ts';

export * from './supervisor-types.ts';

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
    this.#options = normaliseOptions(options);
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
      return statusOf(m);
    }
    m = newManaged(this.#logger, spec);
    this.#managed.set(spec.key, m);
    await this.#spawn(m);
    return statusOf(m);
  }

  #writeState(m: Managed, phase: StateFile<ProcessSpec>['phase']): Promise<void> {
    const state = stateFileOf(m, phase);
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

    if (spec.memoryMb !== undefined && this.#cgroups) {
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
    const { argv, env } = childCommand(spec, m.cgroup !== null);

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
    if (!m.stopping) m.phase = m.crashloop ? 'crashloop' : hasProbe(spec) ? 'starting' : 'running';
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
    m.healthy = hasProbe(m.spec) ? false : null;
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
    const reason = exitReason(m, oom, code, signal, reasonOverride);
    m.lastExit = { code, signal, at: now.toISOString(), reason };
    if (generation !== m.generation || m.stopping || this.#closed) return;

    m.logger.warn({ code, signal, reason }, 'process exited');
    this.#emit({ kind: 'exited', key: spec.key, at: now.toISOString(), reason });
    if (oom)
      this.#emit({ kind: 'oom', key: spec.key, at: now.toISOString(), reason, lastLogLines: m.lastLogLines });

    const { delay, crashloop } = scheduleRestart(m, now.getTime(), reason, this.#options);
    if (crashloop) {
      m.logger.error({ reason: crashloop, lastLogLines: m.lastLogLines }, 'process is crash-looping');
      this.#emit({
        kind: 'crashloop',
        key: spec.key,
        at: now.toISOString(),
        reason: crashloop,
        lastLogLines: m.lastLogLines,
      });
    }
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
        await rotateLogs(this.#managed.values(), this.#options.logs);
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
    if (!hasProbe(spec)) {
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
    const kill = applyProbe(m, result, this.#options.holdHealthRestarts());
    if (kill) {
      this.#emit({
        kind: 'unhealthy',
        key: m.spec.key,
        at: this.#options.clock.now().toISOString(),
        reason: kill,
      });
      this.#killForRestart(m, kill);
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
      return hasProbe(m.spec) ? m.healthy === true : m.phase === 'running';
    }, timeoutMs);
    if (ok) return;
    const m = this.#managed.get(key);
    const detail = m
      ? `phase ${m.phase}${m.lastExit ? `, last exit: ${m.lastExit.reason}` : ''}`
      : 'not supervised';
    throw new Error(`process ${key} was not healthy within ${timeoutMs} ms (${detail})`);
  }

  status(): ProcessStatus[] {
    return [...this.#managed.values()].map((m) => statusOf(m));
  }

  get(key: string): ProcessStatus | undefined {
    const m = this.#managed.get(key);
    return m ? statusOf(m) : undefined;
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
    const plan = planAdoption(states);
    const adopted = plan.adopt.map(({ state, identity }) => this.#adoptOne(state, identity));
    for (const state of plan.finishStop) {
      killGroup(state.identity.pid, 'SIGKILL');
      await waitUntil(() => !isSameProcessAlive(state.identity), 5_000);
    }
    for (const state of [...plan.finishStop, ...plan.gone]) {
      await this.#store.remove(state.key);
      if (state.cgroup && this.#cgroups) await this.#cgroups.remove(state.cgroup).catch(() => false);
      this.#logger.info(
        { key: state.key, phase: state.phase },
        'removed the state of a process that is gone',
      );
    }
    for (const writer of plan.leftovers) {
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
    return adopted.map((m) => statusOf(m));
  }

  #adoptOne(state: StateFile<ProcessSpec>, identity: ProcessIdentity): Managed {
    const m = newManaged(this.#logger, state.spec);
    m.identity = identity;
    m.generation = 1;
    m.adopted = true;
    m.restarts = state.restarts;
    m.startedAt = state.startedAt ? new Date(state.startedAt) : this.#options.clock.now();
    m.watchedSince = this.#options.clock.now().getTime();
    m.cgroup = state.cgroup;
    m.envKnown = false;
    m.phase = hasProbe(state.spec) ? 'starting' : 'running';
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
