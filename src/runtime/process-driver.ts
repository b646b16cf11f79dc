import { chmod, chown, lstat, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from '../system/exec.ts';
import { freePort } from '../system/ports.ts';
import type { ActiveRelease } from './deployments.ts';
import type {
  InstanceStatus,
  OneShotResult,
  RuntimeDriver,
  RuntimeStage,
  StageEnvironment,
} from './driver.ts';
import { probeHttp } from './probe.ts';
import type { StageSandbox } from './sandbox/index.ts';
import type { ProcessSpec, ProcessStatus, Supervisor } from './supervisor.ts';

export interface ProcessDriverOptions {
  readonly supervisor: Supervisor;
  /** The stage sandbox: each stage's uid, mounts and network rules; undefined runs stages as Steward's own user, unsandboxed. */
  readonly sandbox: StageSandbox | undefined;
  /** Where each stage's log files go: `<logsDir>/<tenant>/<stage>/<process>-<instance>.log`. */
  readonly logsDir: string;
}

/** A stage's log directory, for the driver that writes it and the read model that reads it. */
export function stageLogDir(logsDir: string, tenant: string, stage: string): string {
  return join(logsDir, tenant, stage);
}

/**
 * The process driver: a stage's instances are children of Steward's
 * supervisor, each in the stage's sandbox under the stage's own uid; they
 * outlive a crash of Steward and are adopted by the next one.
 */
export class ProcessRuntimeDriver implements RuntimeDriver {
  readonly #o: ProcessDriverOptions;

  constructor(options: ProcessDriverOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.#o.supervisor.adopt();
    await this.#o.supervisor.start();
  }

  shutdown(options: { readonly stopInstances: boolean }): Promise<void> {
    return this.#o.supervisor.shutdown({ stopChildren: options.stopInstances });
  }

  async ensure(
    stage: RuntimeStage,
    release: ActiveRelease,
    environment: StageEnvironment,
  ): Promise<InstanceStatus[]> {
    const uid = this.stageUid(stage.id);
    await this.#prepare(stage, uid, environment);
    const wrapper = this.#o.sandbox?.forStage(uid, {
      releasePath: release.path,
      filesDir: stage.filesDir,
      oneShot: false,
    });
    const statuses: InstanceStatus[] = [];
    const definition = release.definition;
    const health = definition.health;
    for (const [name, process] of Object.entries(definition.processes)) {
      for (let instance = 0; instance < (process.instances ?? 1); instance++) {
        const key = `${stage.tenant}/${stage.name}/${name}/${release.version}/${instance}`;
        const existing = this.#o.supervisor.get(key);
        const port = process.port ? (existing?.spec.port ?? (await freePort(0))) : undefined;
        const spec: ProcessSpec = {
          key,
          tenant: stage.tenant,
          stage: stage.name,
          process: name,
          release: release.version,
          instance,
          command: process.command,
          ...(wrapper ? { wrapper } : {}),
          cwd: release.path,
          env: { ...environment.env, ...(port ? { PORT: String(port) } : {}), STEWARD_PROCESS: name },
          ...(uid !== undefined ? { uid, gid: uid } : {}),
          ...(port ? { port } : {}),
          ...(port && health
            ? {
                health: {
                  path: health.path,
                  intervalMs: health.intervalSeconds * 1000,
                  timeoutMs: health.timeoutSeconds * 1000,
                  failureThreshold: health.failureThreshold,
                  startTimeoutMs: health.startTimeoutSeconds * 1000,
                },
              }
            : {}),
          ...(definition.resources?.memoryMb ? { memoryMb: definition.resources.memoryMb } : {}),
          // Background processes yield the CPU to web processes of the same stage.
          ...(port ? {} : { nice: 10 }),
          logFile: join(stageLogDir(this.#o.logsDir, stage.tenant, stage.name), `${name}-${instance}.log`),
        };
        statuses.push(instanceStatus(await this.#o.supervisor.ensure(spec)));
      }
    }
    return statuses;
  }

  instances(stage?: { readonly tenant: string; readonly name: string }): InstanceStatus[] {
    return this.#o.supervisor
      .status()
      .filter((s) => !stage || (s.spec.tenant === stage.tenant && s.spec.stage === stage.name))
      .map(instanceStatus);
  }

  async stop(stage: RuntimeStage, which: (instance: InstanceStatus) => boolean): Promise<void> {
    const mine = this.instances({ tenant: stage.tenant, name: stage.name }).filter(which);
    await Promise.all(mine.map((i) => this.#o.supervisor.stop(i.key, { graceMs: 10_000 })));
  }

  async keepStages(present: readonly RuntimeStage[]): Promise<void> {
    await this.#o.sandbox?.keepStages(new Set(present.map((s) => this.stageUid(s.id) ?? 0)));
    const live = new Set(present.map((s) => `${s.tenant}/${s.name}/`));
    for (const status of this.#o.supervisor.status()) {
      if (!live.has(`${status.spec.tenant}/${status.spec.stage}/`)) {
        await this.#o.supervisor.stop(status.key, { graceMs: 5000 });
      }
    }
  }

  async waitReady(
    instance: InstanceStatus,
    timeoutMs: number,
    options: { readonly eager?: boolean } = {},
  ): Promise<void> {
    const current = this.#o.supervisor.get(instance.key);
    const { health, port } = current?.spec ?? {};
    if (!options.eager || !health || port === undefined) {
      // Without a probe, a background process only has to stay up: do not wait for it as long as for a web one.
      const limit = port !== undefined ? timeoutMs : Math.min(timeoutMs, 10_000);
      return this.#o.supervisor.waitHealthy(instance.key, limit);
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = this.#o.supervisor.get(instance.key);
      if (!now) throw new Error(`process ${instance.key} is no longer supervised`);
      if (now.healthy === true || (await probeHttp(port, health.path, health.timeoutMs)).ok) return;
      if (Date.now() > deadline)
        throw new Error(`process ${instance.key} was not healthy within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async runOnce(
    stage: RuntimeStage,
    release: ActiveRelease,
    command: string,
    environment: StageEnvironment,
    options: { readonly timeoutMs: number; readonly reach?: readonly number[] },
  ): Promise<OneShotResult> {
    const uid = this.stageUid(stage.id);
    await this.#prepare(stage, uid, environment);
    const wrapper = this.#o.sandbox?.forStage(uid, {
      releasePath: release.path,
      filesDir: stage.filesDir,
      oneShot: true,
    });
    const [file, ...args] = [...(wrapper?.argv ?? []), '/bin/sh', '-c', command];
    const revokes: (() => Promise<void>)[] = [];
    if (uid !== undefined) {
      for (const port of options.reach ?? []) {
        const revoke = await this.#o.sandbox?.grant(uid, port);
        if (revoke) revokes.push(revoke);
      }
    }
    try {
      const result = await run(file ?? '/bin/sh', args, {
        cwd: release.path,
        env: { ...environment.env },
        ...(uid !== undefined ? { user: { name: `stage-${stage.id}`, uid, gid: uid } } : {}),
        timeoutMs: options.timeoutMs,
        ...(wrapper?.fd3 !== undefined ? { fd3: wrapper.fd3 } : {}),
      });
      return { code: result.code, output: `${result.stdout}\n${result.stderr}`.trim() };
    } finally {
      for (const revoke of revokes) await revoke();
    }
  }

  stageUid(stageId: string): number | undefined {
    return this.#o.sandbox?.stageUid(stageId);
  }

  /**
   * Before anything of the stage runs: its uid may reach its own database and
   * nothing else local, and its files directory belongs to it and nobody else.
   */
  async #prepare(stage: RuntimeStage, uid: number | undefined, environment: StageEnvironment): Promise<void> {
    if (uid !== undefined) await this.#o.sandbox?.allowDatabase(uid, [environment.databasePort]);
    await mkdir(stage.filesDir, { recursive: true, mode: 0o700 });
    await chmod(dirname(stage.filesDir), 0o711);
    if (uid !== undefined) {
      const info = await lstat(stage.filesDir);
      if (info.uid !== uid) await chown(stage.filesDir, uid, uid);
    }
  }
}

function instanceStatus(s: ProcessStatus): InstanceStatus {
  const probed = s.spec.health !== undefined && s.spec.port !== undefined;
  return {
    key: s.key,
    tenant: s.spec.tenant,
    stage: s.spec.stage,
    process: s.spec.process,
    instance: s.spec.instance,
    release: s.spec.release,
    pid: s.pid,
    phase: s.phase,
    healthy: s.healthy,
    ready: s.pid !== null && (probed ? s.healthy === true : s.phase === 'running'),
    restarts: s.restarts,
    startedAt: s.startedAt,
    port: s.spec.port ?? null,
    lastExit: s.lastExit,
  };
}
