import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { UnavailableError } from '../core/errors.ts';
import type { EndpointStage, StageEndpoints } from '../runtime/endpoints.ts';
import type { StageServer } from './config.ts';
import { createExclusive, type Exclusive } from './exclusive.ts';
import {
  appServerName,
  appServers,
  isServing,
  planRetireRemove,
  planServe,
  planSleep,
  servingWeight,
  type AppServer,
  type EndpointStep,
} from './handover.ts';
import { checkPort, stageBackendName, stageIdOfBackend } from './names.ts';
import { isUnknownBackend, isUnknownServer, RuntimeApiError, type RuntimeApi } from './runtime-api.ts';

/**
 * The runtime's StageEndpoints on HAProxy. A stage is the backend
 * `st_<stage id>`; its app instances are dynamic servers `p<port>` at
 * 127.0.0.1, added, set ready, drained and deleted through the runtime API;
 * its activator is the backend's backup server, which HAProxy uses by itself
 * when no instance takes requests.
 *
 * HAProxy runs no health checks on the instances: the runtime probes an
 * instance before it calls serve and owns its health (restarts, deploy
 * verdicts), and a second opinion in HAProxy could mark a stage's only
 * instance down and send its traffic to the activator, waking a stage that is
 * awake. Serve still waits until HAProxy counts each instance running.
 *
 * HAProxy is the state: every change asks HAProxy first and plans from its
 * answer (src/dataplane/handover.ts), and `refresh` rebuilds the view after a
 * restart, so a kill -9 of Steward in the middle of a handover converges.
 */

/** What the endpoints tell the activator, which holds a sleeping stage's first requests. */
export interface ActivatorPort {
  /** The stage serves on these ports: held requests go there. */
  serve(stageId: string, ports: readonly number[]): void;
  /** The stage sleeps: its requests are held until it serves again. */
  sleep(stageId: string): void;
  /** The stage is gone: held requests get their answer now. */
  remove(stageId: string): void;
  onWake(handler: (stageId: string) => void): void;
}

export interface HaproxyStageEndpointsOptions {
  readonly api: RuntimeApi;
  readonly activator?: ActivatorPort;
  /** Shared with the controller, which renders `servers()` and reloads inside it. */
  readonly exclusive?: Exclusive;
  /** Renders and reloads the config with the stage's backend; called when HAProxy does not know it yet. */
  readonly ensureBackend?: (stage: EndpointStage) => Promise<void>;
  /** How long serve waits for HAProxy to count a new instance running. */
  readonly upTimeoutMs?: number;
  /** How old an answer of `show stat` (one call for every stage) idleMs may reuse. */
  readonly statsMaxAgeMs?: number;
  /** How often a retire asks whether its instances still carry requests. */
  readonly pollMs?: number;
  readonly logger?: Logger;
}

/** Where app instances listen: loopback, reached by HAProxy and by nobody else (the sandbox). */
export const appAddress = '127.0.0.1';

interface StatsView {
  readonly at: number;
  /** Backend -> when it last had a request (ms), or `at` while one is in flight or queued. */
  readonly lastActivity: ReadonlyMap<string, number>;
}

export class HaproxyStageEndpoints implements StageEndpoints {
  readonly #o: HaproxyStageEndpointsOptions;
  readonly #api: RuntimeApi;
  readonly #exclusive: Exclusive;
  /** Backend -> its app instances, as HAProxy last showed them. */
  readonly #view = new Map<string, readonly AppServer[]>();
  #stats: StatsView | undefined;
  #statsPending: Promise<StatsView> | undefined;
  /** Backend -> its last request as last seen, kept across reloads (a new worker's counters start empty). */
  readonly #lastActivity = new Map<string, number>();

  constructor(options: HaproxyStageEndpointsOptions) {
    this.#o = options;
    this.#api = options.api;
    this.#exclusive = options.exclusive ?? createExclusive();
  }

  /** Rebuilds the view from HAProxy (`show servers state`), e.g. after Steward restarted and adopted it. */
  async refresh(): Promise<void> {
    await this.#exclusive(async () => {
      const rows = await this.#api.showServersState();
      const backends = new Map<string, typeof rows>();
      for (const row of rows) {
        if (stageIdOfBackend(row.backend) === undefined) continue;
        backends.set(row.backend, [...(backends.get(row.backend) ?? []), row]);
      }
      this.#view.clear();
      for (const [backend, backendRows] of backends) this.#view.set(backend, appServers(backendRows));
    });
    for (const backend of this.#view.keys()) {
      const stageId = stageIdOfBackend(backend);
      if (stageId !== undefined) this.#tellActivator(stageId);
    }
  }

  /** The activator sends a stage's held requests to the instances HAProxy has ready, and holds them when there are none. */
  #tellActivator(stageId: string): void {
    const ports = this.serving(stageId);
    if (ports.length > 0) this.#o.activator?.serve(stageId, ports);
    else this.#o.activator?.sleep(stageId);
  }

  /** The app instances a render of haproxy.cfg must name, so that a reload keeps them. */
  servers(backend: string): StageServer[] {
    return (this.#view.get(backend) ?? [])
      .filter((server) => server.admin !== 'maint')
      .map((server) => ({
        name: appServerName(server.port),
        address: appAddress,
        port: server.port,
        state: isServing(server) ? 'ready' : 'drain',
      }));
  }

  serving(stageId: string): readonly number[] {
    return (this.#view.get(stageBackendName(stageId)) ?? []).filter(isServing).map((server) => server.port);
  }

  onWake(handler: (stageId: string) => void): void {
    // Without an activator nothing holds a sleeping stage's requests, and nothing wakes it.
    this.#o.activator?.onWake(handler);
  }

  async serve(stage: EndpointStage, ports: readonly number[]): Promise<void> {
    const backend = stageBackendName(stage.id);
    for (const [index, port] of ports.entries()) checkPort(`ports[${index}]`, port);
    await this.#withBackend(stage, () =>
      this.#exclusive(async () => {
        const steps = planServe(await this.#observe(backend), ports);
        await this.#apply(
          backend,
          steps.filter((step) => step.kind !== 'drain'),
        );
        await this.#waitRunning(backend, ports);
        // Only once the new instances take requests do the others drain: no moment without one.
        await this.#apply(
          backend,
          steps.filter((step) => step.kind === 'drain'),
        );
        await this.#observe(backend);
      }),
    );
    this.#tellActivator(stage.id);
  }

  async retire(stage: EndpointStage, ports: readonly number[], timeoutMs: number): Promise<void> {
    const backend = stageBackendName(stage.id);
    for (const [index, port] of ports.entries()) checkPort(`ports[${index}]`, port);
    if (ports.length === 0) return;
    const deadline = Date.now() + timeoutMs;
    let busy = await this.#busy(backend, ports);
    while (busy.length > 0 && Date.now() < deadline) {
      await sleep(this.#o.pollMs ?? 50);
      busy = await this.#busy(backend, ports);
    }
    await this.#exclusive(async () => {
      let observed: readonly AppServer[];
      try {
        observed = await this.#observe(backend);
      } catch (error) {
        if (isUnknownBackend(error)) return;
        throw error;
      }
      const steps = planRetireRemove(observed, ports);
      await this.#apply(
        backend,
        steps.filter((step) => step.kind === 'maint'),
      );
      for (const step of steps.filter((candidate) => candidate.kind === 'delete')) {
        if (busy.includes(step.port)) {
          this.#o.logger?.warn(
            { stage: stage.id, port: step.port, timeoutMs },
            'an instance still carried requests when its drain timed out: closing them',
          );
          await this.#api.shutdownSessions(backend, appServerName(step.port)).catch(ignoreUnknownServer);
        }
        await this.#delete(backend, step.port);
      }
      await this.#observe(backend);
    });
    this.#tellActivator(stage.id);
  }

  async sleep(stage: EndpointStage): Promise<void> {
    const backend = stageBackendName(stage.id);
    this.#o.activator?.sleep(stage.id);
    await this.#withBackend(stage, () =>
      this.#exclusive(async () => {
        await this.#apply(backend, planSleep(await this.#observe(backend)));
        // Instances still finishing a request stay in maintenance; a retire removes them.
        const idle = new Set(await this.#idleServers(backend));
        for (const server of await this.#observe(backend)) {
          // A request that reached it since: it stays in maintenance, and a retire removes it.
          if (idle.has(server.port)) await this.#delete(backend, server.port, 0).catch(() => undefined);
        }
        await this.#observe(backend);
      }),
    );
  }

  async remove(stageId: string): Promise<void> {
    const backend = stageBackendName(stageId);
    this.#o.activator?.remove(stageId);
    await this.#exclusive(async () => {
      try {
        for (const server of await this.#observe(backend)) {
          if (server.admin !== 'maint') await this.#apply(backend, [{ kind: 'maint', port: server.port }]);
          await this.#api.shutdownSessions(backend, appServerName(server.port)).catch(ignoreUnknownServer);
          await this.#delete(backend, server.port);
        }
      } catch (error) {
        if (!isUnknownBackend(error)) throw error;
      }
      this.#view.delete(backend);
    });
  }

  async idleMs(stageId: string, now: number): Promise<number | undefined> {
    const stats = await this.#backendStats(now);
    const last = stats.lastActivity.get(stageBackendName(stageId));
    return last === undefined ? undefined : Math.max(0, now - last);
  }

  /**
   * One `show stat` of every backend answers every stage's idleMs for
   * `statsMaxAgeMs` (HAProxy counts `lastsess` in seconds). A reload starts a
   * worker with empty counters: a stage with no request since then keeps the
   * last request seen before, or, when none was seen (Steward restarted too),
   * counts as idle since the worker started, never longer.
   */
  async #backendStats(now: number): Promise<StatsView> {
    const cached = this.#stats;
    if (cached && now >= cached.at && now - cached.at < (this.#o.statsMaxAgeMs ?? 1_000)) return cached;
    this.#statsPending ??= (async () => {
      try {
        const [rows, info] = await Promise.all([this.#api.showStat('backends'), this.#api.showInfo()]);
        const workerStart = now - Number(info.Uptime_sec ?? 0) * 1000;
        const lastActivity = new Map<string, number>();
        for (const row of rows) {
          if (row.name !== 'BACKEND' || stageIdOfBackend(row.proxy) === undefined) continue;
          const busy = Number(row.fields.scur ?? 0) + Number(row.fields.qcur ?? 0) > 0;
          const seconds = Number(row.fields.lastsess === '' ? -1 : (row.fields.lastsess ?? -1));
          const last = busy
            ? now
            : seconds >= 0
              ? now - seconds * 1000
              : (this.#lastActivity.get(row.proxy) ?? workerStart);
          lastActivity.set(row.proxy, last);
          this.#lastActivity.set(row.proxy, last);
        }
        for (const backend of this.#lastActivity.keys()) {
          if (!lastActivity.has(backend)) this.#lastActivity.delete(backend);
        }
        this.#stats = { at: now, lastActivity };
        return this.#stats;
      } finally {
        this.#statsPending = undefined;
      }
    })();
    return this.#statsPending;
  }

  /** Runs `change`; when HAProxy does not know the stage's backend yet, has it made and runs it again. */
  async #withBackend(stage: EndpointStage, change: () => Promise<void>): Promise<void> {
    try {
      await change();
    } catch (error) {
      if (!isUnknownBackend(error)) throw error;
      if (!this.#o.ensureBackend) {
        throw new UnavailableError(`HAProxy has no backend for stage ${stage.id} yet`, { cause: error });
      }
      // Outside the exclusive section: the controller takes it to render and reload.
      await this.#o.ensureBackend(stage);
      await change().catch((again: unknown) => {
        if (!isUnknownBackend(again)) throw again;
        throw new UnavailableError(
          `HAProxy has no backend ${stageBackendName(stage.id)} for stage ${stage.id} even after the data plane rendered its config: is the stage in the control DB?`,
          { cause: again },
        );
      });
    }
  }

  /** Asks HAProxy; only inside the exclusive section, so that a render never sees an older answer than the last change. */
  async #observe(backend: string): Promise<readonly AppServer[]> {
    const servers = appServers(await this.#api.showServersState(backend));
    this.#view.set(backend, servers);
    return servers;
  }

  async #apply(backend: string, steps: readonly EndpointStep[]): Promise<void> {
    for (const step of steps) {
      const name = appServerName(step.port);
      switch (step.kind) {
        case 'add':
          await this.#api.addServer(backend, name, appAddress, step.port).catch((error: unknown) => {
            // Added by a Steward killed before it could set it ready: the next step does.
            if (!(error instanceof RuntimeApiError && /Already exists/.test(error.response))) throw error;
          });
          break;
        case 'ready':
        case 'drain':
        case 'maint':
          await this.#api.setServerState(backend, name, step.kind);
          break;
        case 'weight':
          await this.#api.setServerWeight(backend, name, servingWeight);
          break;
        case 'delete':
          await this.#delete(backend, step.port);
          break;
      }
    }
  }

  /** Deletes a server in maintenance; HAProxy refuses while a stream still ends on it, so it is asked again. */
  async #delete(backend: string, port: number, patienceMs = 2_000): Promise<void> {
    const deadline = Date.now() + patienceMs;
    for (;;) {
      try {
        await this.#api.delServer(backend, appServerName(port));
        return;
      } catch (error) {
        if (isUnknownServer(error)) return;
        if (Date.now() >= deadline) throw error;
      }
      await sleep(20);
    }
  }

  async #waitRunning(backend: string, ports: readonly number[]): Promise<void> {
    const deadline = Date.now() + (this.#o.upTimeoutMs ?? 5_000);
    for (;;) {
      const observed = await this.#observe(backend);
      const down = ports.filter((port) => !observed.some((server) => server.port === port && server.running));
      if (down.length === 0) return;
      if (Date.now() >= deadline) {
        throw new UnavailableError(
          `HAProxy does not count instance(s) ${down.join(', ')} of ${backend} running after ${this.#o.upTimeoutMs ?? 5_000} ms`,
        );
      }
      await sleep(this.#o.pollMs ?? 50);
    }
  }

  /** The named instances that carry or queue a request and do not serve again (a rollback may have taken them back). */
  async #busy(backend: string, ports: readonly number[]): Promise<number[]> {
    // Read, not remembered: outside the exclusive section an answer may be older than a change made meanwhile.
    const [rows, observed] = await Promise.all([
      this.#api.showStat('servers', backend).catch(() => []),
      this.#api.showServersState(backend).then(appServers, () => []),
    ]);
    return ports.filter((port) => {
      const row = rows.find((candidate) => candidate.name === appServerName(port));
      const server = observed.find((candidate) => candidate.port === port);
      if (!row || !server || isServing(server)) return false;
      return Number(row.fields.scur ?? 0) + Number(row.fields.qcur ?? 0) > 0;
    });
  }

  async #idleServers(backend: string): Promise<number[]> {
    const rows = await this.#api.showStat('servers', backend);
    return (this.#view.get(backend) ?? [])
      .filter((server) => {
        const row = rows.find((candidate) => candidate.name === appServerName(server.port));
        return row !== undefined && Number(row.fields.scur ?? 0) + Number(row.fields.qcur ?? 0) === 0;
      })
      .map((server) => server.port);
  }
}

function ignoreUnknownServer(error: unknown): void {
  if (!isUnknownServer(error)) throw error;
}
