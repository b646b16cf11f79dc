import { chmod, chown, lstat, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { NotFoundError, showValue } from '../core/errors.ts';
import { actorName, systemPrincipal, type Principal } from '../core/policy.ts';
import type { ClaimedJob, JobOutcome } from '../jobs/queue.ts';
import { run } from '../system/exec.ts';
import { freePort } from '../system/ports.ts';
import { chmodDirectories, treeBytes } from '../system/safe-fs.ts';
import type { ControlDb } from '../store/db.ts';
import type { TenantService } from '../tenants/service.ts';
import type { AppDefinition } from './app-definition.ts';
import { activeRelease, inFlightStatuses, type ActiveRelease } from './deployments.ts';
import { tailLines } from './log-files.ts';
import { keepSince } from './log-lines.ts';
import { probeHttp } from './probe.ts';
import { StageProxy } from './stage-proxy.ts';
import type { StageSandbox } from './sandbox/index.ts';
import type { ProcessSpec, ProcessStatus, Supervisor } from './supervisor.ts';
import { logPassFailure } from '../core/logger.ts';

export interface StageRuntimeOptions {
  readonly db: ControlDb;
  readonly supervisor: Supervisor;
  readonly tenants: TenantService;
  readonly audit: AuditService;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly dataDir: string;
  /** Directory of the Node.js that runs Steward: apps find `node` there. */
  readonly nodeBinDir: string;
  /** The stage sandbox: each stage's uid, mounts and network rules; undefined runs stages as Steward's own user, unsandboxed. */
  readonly sandbox: StageSandbox | undefined;
  /** Address the stages' published endpoints listen on. */
  readonly host?: string;
  readonly tickMs?: number;
  readonly migrateTimeoutMs?: number;
}

interface StageRow {
  readonly id: string;
  readonly name: string;
  readonly tenant: string;
  readonly desired: string;
  readonly files_dir: string;
  readonly published_port: number | null;
  readonly scale_to_zero_seconds: number | null;
  readonly files_quota_bytes: string | null;
  readonly runtime_phase: string;
}

type ReleaseRow = ActiveRelease;

export interface StageProcessView {
  readonly tenant: string;
  readonly stage: string;
  readonly process: string;
  readonly instance: number;
  readonly release: string;
  readonly pid: number | null;
  readonly phase: string;
  readonly healthy: boolean | null;
  readonly restarts: number;
  readonly startedAt: string | null;
  readonly uptimeSeconds: number | null;
  readonly port: number | null;
  readonly lastExit: ProcessStatus['lastExit'];
}

export interface StagePsView {
  readonly tenant: string;
  readonly stage: string;
  readonly phase: string;
  readonly reason: string;
  readonly release: string | null;
  readonly url: string | null;
  readonly filesBytes: number | null;
  readonly filesQuotaBytes: number | null;
  readonly processes: readonly StageProcessView[];
}

export interface LogLine {
  readonly process: string;
  readonly instance: number;
  readonly line: string;
}

const stageColumns = [
  'stages.id',
  'stages.name',
  'tenants.slug as tenant',
  'stages.desired',
  'stages.files_dir',
  'stages.published_port',
  'stages.scale_to_zero_seconds',
  'stages.files_quota_bytes',
  'stages.runtime_phase',
] as const;

/**
 * Runs each stage's release: carries out deployments (migrate, start, wait
 * for health, hand over, drain), keeps the active release's processes
 * running through restarts of Steward, publishes each stage on a port of its
 * own, scales idle stages to zero and enforces files quotas.
 */
export class StageRuntime {
  readonly #o: StageRuntimeOptions;
  readonly #proxies = new Map<string, StageProxy>();
  readonly #waking = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: StageRuntimeOptions) {
    this.#o = options;
  }

  start(): Promise<void> {
    this.#starting ??= (async () => {
      await this.#o.supervisor.adopt();
      await this.#o.supervisor.start();
      await this.tick();
      // A pass that cannot read the stages (the control database is gone) fails whole; the next one retries.
      this.#timer = setInterval(
        () =>
          void this.tick().catch((error: unknown) =>
            logPassFailure(this.#o.logger, error, 'runtime pass failed'),
          ),
        this.#o.tickMs ?? 5000,
      );
      this.#timer.unref();
    })();
    return this.#starting;
  }

  /** Stops every stage's processes and endpoint (Steward is shutting down). */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      if (this.#timer) clearInterval(this.#timer);
      await this.#ticking;
      for (const proxy of this.#proxies.values()) await proxy.close();
      this.#proxies.clear();
      await this.#o.supervisor.shutdown({ stopChildren: true });
    })();
    return this.#stopping;
  }

  /** The one periodic pass: every stage's processes and endpoint, scale to zero, quotas. */
  tick(): Promise<void> {
    this.#ticking ??= (async () => {
      try {
        const stages = await this.#stages();
        const known = new Set(stages.map((s) => s.id));
        for (const stage of stages) {
          try {
            await this.reconcileStage(stage.id);
            await this.#scaleToZero(stage);
            await this.#enforceQuota(stage);
          } catch (error) {
            logPassFailure(this.#o.logger, error, 'runtime pass failed', {
              tenant: stage.tenant,
              stage: stage.name,
            });
          }
        }
        // Stages that are gone: nothing of theirs may keep running.
        for (const [stageId, proxy] of this.#proxies) {
          if (!known.has(stageId)) {
            await proxy.close();
            this.#proxies.delete(stageId);
          }
        }
        const present = stages.filter((s) => s.desired === 'present');
        await this.#o.sandbox?.keepStages(new Set(present.map((s) => this.stageUid(s.id) ?? 0)));
        const live = new Set(present.map((s) => `${s.tenant}/${s.name}/`));
        for (const status of this.#o.supervisor.status()) {
          const prefix = `${status.spec.tenant}/${status.spec.stage}/`;
          if (!live.has(prefix)) await this.#o.supervisor.stop(status.key, { graceMs: 5000 });
        }
      } finally {
        this.#ticking = undefined;
      }
    })();
    return this.#ticking;
  }

  /** Level-triggered: the active release's processes run and the endpoint points at them. */
  async reconcileStage(stageId: string): Promise<void> {
    const stage = await this.#stage(stageId);
    if (!stage) return;
    if (stage.desired === 'absent') {
      await this.#stopStage(stage, () => true);
      return;
    }
    const inFlight = await this.#o.db
      .selectFrom('deployments')
      .select('id')
      .where('stage_id', '=', stage.id)
      .where('status', 'in', [...inFlightStatuses])
      .executeTakeFirst();
    if (inFlight) return; // the deploy job owns the stage until it finishes
    const active = await this.#activeRelease(stage.id);
    if (!active) return;
    const proxy = await this.#proxy(stage);
    // A wake owns the stage until it is healthy: neither stop what it starts nor
    // hand the proxy a web process that does not listen yet.
    if (this.#waking.has(stage.id)) return;
    if (stage.runtime_phase === 'scaled-to-zero') {
      proxy.setBackends([]);
      await this.#stopStage(stage, () => true);
      return;
    }
    const statuses = await this.#ensureRelease(stage, active);
    proxy.setBackends(webPorts(statuses));
    await this.#stopStage(stage, (s) => s.spec.release !== active.version);
    const crashing = statuses.find((s) => s.phase === 'crashloop');
    await this.#setPhase(
      stage.id,
      crashing ? 'crashloop' : 'running',
      crashing
        ? `${crashing.spec.process}.${crashing.spec.instance} keeps exiting: ${crashing.lastExit?.reason ?? 'unknown reason'}`
        : `release ${active.version} is running`,
    );
  }

  /** The deploy job: migrate, start the new release, wait for health, hand over, drain and stop the old one. */
  readonly handleDeploy = async (job: ClaimedJob): Promise<JobOutcome> => {
    const deployment = await this.#o.db
      .selectFrom('deployments')
      .innerJoin('releases', 'releases.id', 'deployments.release_id')
      .select([
        'deployments.id',
        'deployments.stage_id',
        'deployments.status',
        'releases.app',
        'releases.version',
        'releases.path',
        'releases.definition',
      ])
      .where('deployments.id', '=', job.key)
      .executeTakeFirst();
    if (!deployment || !inFlightStatuses.includes(deployment.status as (typeof inFlightStatuses)[number])) {
      return { kind: 'done' };
    }
    const stage = await this.#stage(deployment.stage_id);
    const release: ReleaseRow = {
      app: deployment.app,
      version: deployment.version,
      path: deployment.path,
      definition: deployment.definition as AppDefinition,
    };
    if (!stage || stage.desired === 'absent') {
      await this.#finish(deployment.id, 'failed', 'the stage was removed');
      return { kind: 'done' };
    }
    const log = this.#o.logger.child({ tenant: stage.tenant, stage: stage.name, deployment: deployment.id });
    const active = await this.#activeRelease(stage.id);
    const fail = async (reason: string): Promise<JobOutcome> => {
      log.warn({ reason }, 'deployment failed');
      await this.#stopStage(
        stage,
        (s) => s.spec.release === release.version && release.version !== (active?.version ?? ''),
      );
      await this.#finish(deployment.id, 'failed', reason);
      await this.#o.audit.recordAlone({
        actor: actorName(systemPrincipal),
        action: 'stage.deploy.failed',
        target: `tenant/${stage.tenant}/stage/${stage.name}`,
        tenant: stage.tenant,
        outcome: 'failure',
        details: { deployment: deployment.id, version: release.version, reason },
      });
      await this.#setPhase(
        stage.id,
        active ? 'running' : 'failed',
        `deployment of ${release.version} failed: ${reason}`,
      );
      return { kind: 'done' };
    };
    await this.#setPhase(stage.id, 'deploying', `deploying ${release.version}`);

    await this.#status(deployment.id, 'migrating');
    if (release.definition.migrate) {
      const migrated = await this.#migrate(stage, release);
      if (!migrated.ok) return fail(`the migration failed: ${migrated.reason}`);
    }

    await this.#status(deployment.id, 'starting');
    let statuses: ProcessStatus[];
    try {
      statuses = await this.#ensureRelease(stage, release);
      for (const status of statuses) {
        const timeout = (release.definition.health?.startTimeoutSeconds ?? 30) * 1000;
        await this.#o.supervisor.waitHealthy(
          status.key,
          status.spec.port ? timeout : Math.min(timeout, 10_000),
        );
      }
    } catch (error) {
      return fail(`the new processes did not become healthy: ${(error as Error).message}`);
    }

    // Hand over: new requests go to the new release; requests in flight finish where they are.
    const proxy = await this.#proxy(stage);
    const oldPorts = proxy.backendPorts.filter((p) => !webPorts(statuses).includes(p));
    proxy.setBackends(webPorts(statuses));
    await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('deployments')
        .set({ status: 'superseded', finished_at: this.#o.clock.now() })
        .where('stage_id', '=', stage.id)
        .where('status', '=', 'active')
        .execute();
      await tx
        .updateTable('deployments')
        .set({ status: 'active', reason: 'healthy and serving', finished_at: this.#o.clock.now() })
        .where('id', '=', deployment.id)
        .execute();
      await tx
        .updateTable('stages')
        .set({ runtime_phase: 'running', runtime_reason: `release ${release.version} is running` })
        .where('id', '=', stage.id)
        .execute();
    });
    await proxy.drain(oldPorts, 30_000);
    await this.#stopStage(stage, (s) => s.spec.release !== release.version);
    log.info({ version: release.version }, 'deployment active');
    return { kind: 'done' };
  };

  /** Processes of every stage of a tenant (or one stage), with the stage's phase and endpoint. */
  async ps(tenant: string, stageName?: string): Promise<StagePsView[]> {
    const stages = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select([...stageColumns, 'stages.runtime_reason', 'stages.files_bytes'])
      .where('tenants.slug', '=', tenant)
      .$if(stageName !== undefined, (q) => q.where('stages.name', '=', stageName ?? ''))
      .orderBy('stages.id')
      .execute();
    if (stages.length === 0) {
      await this.#o.tenants.show(tenant);
      throw new NotFoundError(`tenant ${tenant} has no stage ${showValue(stageName)}`, { field: 'stage' });
    }
    const now = this.#o.clock.now().getTime();
    const host = this.#o.host ?? '127.0.0.1';
    const views: StagePsView[] = [];
    for (const stage of stages) {
      const active = await this.#activeRelease(stage.id);
      const processes = this.#o.supervisor
        .status()
        .filter((s) => s.spec.tenant === tenant && s.spec.stage === stage.name)
        .sort((a, b) => a.key.localeCompare(b.key))
        .map((s) => ({
          tenant,
          stage: stage.name,
          process: s.spec.process,
          instance: s.spec.instance,
          release: s.spec.release,
          pid: s.pid,
          phase: s.phase,
          healthy: s.healthy,
          restarts: s.restarts,
          startedAt: s.startedAt,
          uptimeSeconds: s.startedAt ? Math.max(0, Math.round((now - Date.parse(s.startedAt)) / 1000)) : null,
          port: s.spec.port ?? null,
          lastExit: s.lastExit,
        }));
      views.push({
        tenant,
        stage: stage.name,
        phase: stage.runtime_phase,
        reason: stage.runtime_reason,
        release: active?.version ?? null,
        url: stage.published_port ? `http://${host}:${stage.published_port}` : null,
        filesBytes: stage.files_bytes === null ? null : Number(stage.files_bytes),
        filesQuotaBytes: stage.files_quota_bytes === null ? null : Number(stage.files_quota_bytes),
        processes,
      });
    }
    return views;
  }

  /**
   * The last lines of a stage's process logs. With `since` (epoch ms), only
   * lines whose own timestamp (see logLineTime) is at or after it.
   */
  async logs(
    tenant: string,
    stage: string,
    options: { process?: string; lines?: number; since?: number } = {},
  ): Promise<LogLine[]> {
    await this.ps(tenant, stage);
    const count = options.lines ?? 100;
    const lines: LogLine[] = [];
    for (const file of await this.#logFiles(tenant, stage, options.process)) {
      // With since, look further back: the last `count` lines are counted after the filter.
      const tail = await tailLines(file.path, options.since === undefined ? count : 10_000, 1024 * 1024);
      for (const line of tail.filter((l) => keepSince(l, options.since)).slice(-count)) {
        lines.push({ process: file.process, instance: file.instance, line });
      }
    }
    return lines;
  }

  /** Where a stage's logs are, for following them. */
  async logFiles(
    tenant: string,
    stage: string,
    process?: string,
  ): Promise<{ process: string; instance: number; path: string }[]> {
    await this.ps(tenant, stage);
    return this.#logFiles(tenant, stage, process);
  }

  async #logFiles(tenant: string, stage: string, process?: string) {
    const dir = join(this.#o.dataDir, 'logs', tenant, stage);
    const names = await readdir(dir).catch(() => [] as string[]);
    return names
      .map((name) => /^([a-z][a-z0-9-]*)-(\d+)\.log$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null && (process === undefined || m[1] === process))
      .map((m) => ({ process: m[1] ?? '', instance: Number(m[2]), path: join(dir, m[0]) }));
  }

  /** Scale to zero (seconds idle before the processes stop; null: never) and the files quota (null: none). */
  async configure(
    tenant: string,
    stage: string,
    settings: { scaleToZeroSeconds?: number | null | undefined; filesQuotaBytes?: number | null | undefined },
    actor: Principal,
  ): Promise<void> {
    const row = { id: await this.#o.tenants.stageId(tenant, stage) };
    await this.#o.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('stages')
        .set({
          ...(settings.scaleToZeroSeconds !== undefined
            ? { scale_to_zero_seconds: settings.scaleToZeroSeconds }
            : {}),
          ...(settings.filesQuotaBytes !== undefined ? { files_quota_bytes: settings.filesQuotaBytes } : {}),
        })
        .where('id', '=', row.id)
        .execute();
      await this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'stage.runtime.configure',
        target: `tenant/${tenant}/stage/${stage}`,
        tenant,
        details: { ...settings },
      });
    });
  }

  async #ensureRelease(stage: StageRow, release: ReleaseRow): Promise<ProcessStatus[]> {
    const uid = this.stageUid(stage.id);
    await this.#prepareFiles(stage, uid);
    const env = await this.#environment(stage, release);
    const wrapper = this.#o.sandbox?.forStage(uid, {
      releasePath: release.path,
      filesDir: stage.files_dir,
      oneShot: false,
    });
    const statuses: ProcessStatus[] = [];
    const definition = release.definition;
    for (const [name, process] of Object.entries(definition.processes)) {
      const instances = process.instances ?? 1;
      for (let instance = 0; instance < instances; instance++) {
        const key = `${stage.tenant}/${stage.name}/${name}/${release.version}/${instance}`;
        const existing = this.#o.supervisor.get(key);
        const port = process.port ? (existing?.spec.port ?? (await freePort(0))) : undefined;
        const health = definition.health;
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
          env: { ...env, ...(port ? { PORT: String(port) } : {}), STEWARD_PROCESS: name },
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
          logFile: join(this.#o.dataDir, 'logs', stage.tenant, stage.name, `${name}-${instance}.log`),
        };
        statuses.push(await this.#o.supervisor.ensure(spec));
      }
    }
    return statuses;
  }

  async #environment(stage: StageRow, release: ReleaseRow): Promise<Record<string, string>> {
    const connection = await this.#o.tenants.stageConnection(stage.id);
    // Before anything of the stage runs: its uid may reach its own database, and nothing else local.
    const uid = this.stageUid(stage.id);
    if (uid !== undefined) await this.#o.sandbox?.allowDatabase(uid, [connection.port]);
    const definition = release.definition;
    return {
      PATH: `${this.#o.nodeBinDir}:/usr/local/bin:/usr/bin:/bin`,
      HOME: stage.files_dir,
      LANG: 'C.UTF-8',
      NODE_ENV: stage.name === 'prod' ? 'production' : 'development',
      ...(definition.env?.common ?? {}),
      ...(definition.env?.stages?.[stage.name] ?? {}),
      DATABASE_URL: connection.databaseUrl,
      STEWARD_TENANT: stage.tenant,
      STEWARD_STAGE: stage.name,
      STEWARD_FILES_DIR: stage.files_dir,
      STEWARD_RELEASE: release.version,
      STEWARD_APP: release.app,
    };
  }

  async #migrate(
    stage: StageRow,
    release: ReleaseRow,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const command = release.definition.migrate?.command;
    if (!command) return { ok: true };
    const uid = this.stageUid(stage.id);
    await this.#prepareFiles(stage, uid);
    const { argv, fd3 } = this.#oneShot(stage, release, uid, command);
    const [file, ...args] = argv;
    const result = await run(file ?? '/bin/sh', args, {
      cwd: release.path,
      env: await this.#environment(stage, release),
      ...(uid !== undefined ? { user: { name: `stage-${stage.id}`, uid, gid: uid } } : {}),
      timeoutMs: this.#o.migrateTimeoutMs ?? 600_000,
      ...(fd3 !== undefined ? { fd3 } : {}),
    });
    if (result.code === 0) return { ok: true };
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-10).join('\n');
    return { ok: false, reason: `exit ${result.code}: ${tail}` };
  }

  /**
   * Runs the active release's `verify` command (after a restore test) as the
   * stage's own user, like `migrate`, with DATABASE_URL pointing at the
   * restored copy instead of the stage's database. Undefined when the stage
   * runs no release or its release defines no verify command.
   */
  async runVerify(
    stageId: string,
    databaseUrl: string,
    timeoutMs = 300_000,
  ): Promise<{ command: string; release: string; code: number; output: string } | undefined> {
    const stage = await this.#stage(stageId);
    const release = stage ? await this.#activeRelease(stage.id) : undefined;
    const command = release?.definition.verify?.command;
    if (!stage || !release || !command) return undefined;
    const uid = this.stageUid(stage.id);
    await this.#prepareFiles(stage, uid);
    const env = await this.#environment(stage, release);
    const { argv, fd3 } = this.#oneShot(stage, release, uid, command);
    const [file, ...args] = argv;
    // The restored copy listens on a port of its own: the stage's uid may reach it while verify runs.
    const revoke = uid !== undefined ? await this.#o.sandbox?.grant(uid, urlPort(databaseUrl)) : undefined;
    const result = await run(file ?? '/bin/sh', args, {
      cwd: release.path,
      env: { ...env, DATABASE_URL: databaseUrl, STEWARD_RESTORE_TEST: '1' },
      ...(uid !== undefined ? { user: { name: `stage-${stage.id}`, uid, gid: uid } } : {}),
      timeoutMs,
      ...(fd3 !== undefined ? { fd3 } : {}),
    }).finally(() => revoke?.());
    return {
      command,
      release: release.version,
      code: result.code,
      output: `${result.stdout}\n${result.stderr}`.trim(),
    };
  }

  /** The user a stage's processes run as; undefined when they run as Steward's own. */
  stageUid(stageId: string): number | undefined {
    return this.#o.sandbox?.stageUid(stageId);
  }

  /** argv of a one-shot command of the stage (migrate, verify): in its sandbox when there is one. */
  #oneShot(
    stage: StageRow,
    release: ReleaseRow,
    uid: number | undefined,
    command: string,
  ): { argv: string[]; fd3: string | undefined } {
    const wrapper = this.#o.sandbox?.forStage(uid, {
      releasePath: release.path,
      filesDir: stage.files_dir,
      oneShot: true,
    });
    return { argv: [...(wrapper?.argv ?? []), '/bin/sh', '-c', command], fd3: wrapper?.fd3 };
  }

  /**
   * Stops a stage's processes and starts them again at once (after its
   * database was swapped under them by an in-place restore): no process keeps
   * state from the old database.
   */
  async restartStage(stageId: string): Promise<void> {
    const stage = await this.#stage(stageId);
    if (!stage) return;
    await this.#stopStage(stage, () => true);
    await this.reconcileStage(stageId);
  }

  /** The stage's files directory belongs to the stage's own user, and to nobody else. */
  async #prepareFiles(stage: StageRow, uid: number | undefined): Promise<void> {
    await mkdir(stage.files_dir, { recursive: true, mode: 0o700 });
    await chmod(dirname(stage.files_dir), 0o711);
    if (uid !== undefined) {
      const info = await lstat(stage.files_dir);
      if (info.uid !== uid) await chown(stage.files_dir, uid, uid);
    }
  }

  async #proxy(stage: StageRow): Promise<StageProxy> {
    const existing = this.#proxies.get(stage.id);
    if (existing) return existing;
    let port = stage.published_port;
    if (port === null) {
      port = await freePort(0);
      await this.#o.db
        .updateTable('stages')
        .set({ published_port: port })
        .where('id', '=', stage.id)
        .where('published_port', 'is', null)
        .execute();
      port = (await this.#stage(stage.id))?.published_port ?? port;
    }
    const proxy = new StageProxy({
      host: this.#o.host ?? '127.0.0.1',
      port,
      logger: this.#o.logger.child({ tenant: stage.tenant, stage: stage.name, component: 'proxy' }),
      onWake: () => void this.#wake(stage.id),
    });
    this.#proxies.set(stage.id, proxy);
    try {
      await proxy.listen();
    } catch (error) {
      this.#proxies.delete(stage.id);
      throw error;
    }
    return proxy;
  }

  /** The first request to a stage scaled to zero starts it; requests wait until it is healthy. */
  #wake(stageId: string): Promise<void> {
    const existing = this.#waking.get(stageId);
    if (existing) return existing;
    const waking = (async () => {
      try {
        const stage = await this.#stage(stageId);
        const active = stage ? await this.#activeRelease(stage.id) : undefined;
        if (!stage || !active) return;
        await this.#setPhase(stage.id, 'starting', 'a request arrived: starting from zero');
        const statuses = await this.#ensureRelease({ ...stage, runtime_phase: 'starting' }, active);
        for (const status of statuses) {
          await this.#waitServing(status, (active.definition.health?.startTimeoutSeconds ?? 30) * 1000);
        }
        this.#proxies.get(stage.id)?.setBackends(webPorts(statuses));
        await this.#setPhase(stage.id, 'running', `release ${active.version} is running`);
      } catch (error) {
        this.#o.logger.warn({ stage: stageId, err: (error as Error).message }, 'waking the stage failed');
      } finally {
        this.#waking.delete(stageId);
      }
    })();
    this.#waking.set(stageId, waking);
    return waking;
  }

  /**
   * Waits until a woken process serves. A web process is probed here every
   * 50 ms rather than at the supervisor's health interval (seconds): the
   * first request is waiting for it.
   */
  async #waitServing(status: ProcessStatus, timeoutMs: number): Promise<void> {
    const { health, port } = status.spec;
    if (!health || port === undefined) return this.#o.supervisor.waitHealthy(status.key, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = this.#o.supervisor.get(status.key);
      if (!current) throw new Error(`process ${status.key} is no longer supervised`);
      if (current.healthy === true || (await probeHttp(port, health.path, health.timeoutMs)).ok) return;
      if (Date.now() > deadline)
        throw new Error(`process ${status.key} was not healthy within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async #scaleToZero(stage: StageRow): Promise<void> {
    const after = stage.scale_to_zero_seconds;
    const proxy = this.#proxies.get(stage.id);
    if (!after || !proxy || stage.runtime_phase !== 'running' || this.#waking.has(stage.id)) return;
    if (proxy.idleMs(this.#o.clock.now().getTime()) < after * 1000) return;
    await this.#setPhase(stage.id, 'scaled-to-zero', `idle for ${after} s: stopped until the next request`);
    const ports = proxy.backendPorts;
    proxy.setBackends([]);
    await proxy.drain(ports, 10_000);
    if (this.#waking.has(stage.id)) return; // a request came in meanwhile: the wake keeps the processes
    await this.#stopStage(stage, () => true);
  }

  /**
   * Files quota: Steward measures each stage's files directory; over its
   * quota the directory becomes read-only for the app (writes fail with
   * EACCES) and an audit event says so; back under it, writable again.
   * The tree is the tenant's: measured and changed relative to open
   * directories (safe-fs), so a directory swapped for a link to /usr is
   * neither counted nor changed.
   */
  async #enforceQuota(stage: StageRow): Promise<void> {
    if (stage.desired !== 'present') return;
    const bytes = await treeBytes(stage.files_dir);
    if (bytes === undefined) return;
    await this.#o.db.updateTable('stages').set({ files_bytes: bytes }).where('id', '=', stage.id).execute();
    const quota = stage.files_quota_bytes === null ? null : Number(stage.files_quota_bytes);
    const info = await lstat(stage.files_dir);
    const readOnly = (info.mode & 0o200) === 0;
    const over = quota !== null && bytes > quota;
    if (over && !readOnly) {
      await chmodDirectories(stage.files_dir, 0o500);
      await this.#o.audit.recordAlone({
        actor: actorName(systemPrincipal),
        action: 'stage.files.over-quota',
        target: `tenant/${stage.tenant}/stage/${stage.name}`,
        tenant: stage.tenant,
        outcome: 'denied',
        details: { bytes, quota },
      });
    } else if (!over && readOnly) {
      await chmodDirectories(stage.files_dir, 0o700);
    }
  }

  async #stopStage(stage: StageRow, which: (status: ProcessStatus) => boolean): Promise<void> {
    const mine = this.#o.supervisor
      .status()
      .filter((s) => s.spec.tenant === stage.tenant && s.spec.stage === stage.name && which(s));
    await Promise.all(mine.map((s) => this.#o.supervisor.stop(s.key, { graceMs: 10_000 })));
  }

  async #stages(): Promise<StageRow[]> {
    return this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(stageColumns)
      .execute();
  }

  async #stage(id: string): Promise<StageRow | undefined> {
    return this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(stageColumns)
      .where('stages.id', '=', id)
      .executeTakeFirst();
  }

  #activeRelease(stageId: string): Promise<ReleaseRow | undefined> {
    return activeRelease(this.#o.db, stageId);
  }

  async #status(id: string, status: string): Promise<void> {
    await this.#o.db.updateTable('deployments').set({ status }).where('id', '=', id).execute();
  }

  async #finish(id: string, status: string, reason: string): Promise<void> {
    await this.#o.db
      .updateTable('deployments')
      .set({ status, reason: reason.slice(0, 2000), finished_at: this.#o.clock.now() })
      .where('id', '=', id)
      .execute();
  }

  async #setPhase(stageId: string, phase: string, reason: string): Promise<void> {
    await this.#o.db
      .updateTable('stages')
      .set({ runtime_phase: phase, runtime_reason: reason.slice(0, 1000) })
      .where('id', '=', stageId)
      .execute();
  }
}

function urlPort(url: string): number {
  const { port, protocol } = new URL(url);
  return port ? Number(port) : protocol.startsWith('postgres') ? 5432 : 0;
}

function webPorts(statuses: readonly ProcessStatus[]): number[] {
  return statuses.map((s) => s.spec.port).filter((p): p is number => p !== undefined);
}
