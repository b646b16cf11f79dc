import { lstat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { logPassFailure } from '../core/logger.ts';
import { actorName, systemPrincipal, type Principal } from '../core/policy.ts';
import type { ClaimedJob, JobOutcome } from '../jobs/queue.ts';
import type { ControlDb } from '../store/db.ts';
import { freePort } from '../system/ports.ts';
import { chmodDirectories, treeBytes } from '../system/safe-fs.ts';
import type { TenantService } from '../tenants/service.ts';
import {
  claimPublishedPort,
  setFilesBytes,
  setRuntimePhase,
  setRuntimeSettings,
} from '../tenants/stage-store.ts';
import { DeployJob } from './deploy-job.ts';
import { activeRelease, deployOwnsStage } from './deployments.ts';
import { webPorts, type RuntimeDriver } from './driver.ts';
import type { EndpointStage, StageEndpoints } from './endpoints.ts';
import { StageProxyEndpoints } from './stage-proxy-endpoints.ts';
import { readStage, readStages, runtimeStage, stageEnvironment, type StageRow } from './stage-rows.ts';

export interface StageRuntimeOptions {
  readonly db: ControlDb;
  /** Where the stages' instances run: the process driver (supervisor and sandbox) on this machine. */
  readonly driver: RuntimeDriver;
  /** Where the stages' traffic goes; default: a Node proxy per stage on its published port, owned by the runtime. */
  readonly endpoints?: StageEndpoints;
  readonly tenants: TenantService;
  readonly audit: AuditService;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Directory of the Node.js that runs Steward: apps find `node` there. */
  readonly nodeBinDir: string;
  /** Address the stages' published endpoints listen on. */
  readonly host?: string;
  readonly tickMs?: number;
  readonly migrateTimeoutMs?: number;
}

/**
 * Runs each stage's active release: keeps its instances running through
 * restarts of Steward and its endpoint pointed at them, scales idle stages
 * to zero and wakes them, and enforces files quotas. Deploys are the deploy
 * job's (deploy-job.ts); what runs is shown by the read model (read-model.ts).
 * Instances run through a RuntimeDriver, traffic goes through StageEndpoints.
 */
export class StageRuntime {
  readonly #o: StageRuntimeOptions;
  readonly #driver: RuntimeDriver;
  readonly #endpoints: StageEndpoints;
  /** The default endpoints live in Steward's process: the runtime closes them when it stops. */
  readonly #ownEndpoints: StageProxyEndpoints | undefined;
  readonly #deploys: DeployJob;
  /** Stages whose endpoint this runtime set: those to remove once their stage is gone. */
  readonly #endpointStages = new Set<string>();
  readonly #waking = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: StageRuntimeOptions) {
    this.#o = options;
    this.#driver = options.driver;
    this.#ownEndpoints = options.endpoints
      ? undefined
      : new StageProxyEndpoints({ host: options.host ?? '127.0.0.1', logger: options.logger });
    this.#endpoints = options.endpoints ?? (this.#ownEndpoints as StageEndpoints);
    this.#endpoints.onWake((stageId) => void this.#wake(stageId));
    this.#deploys = new DeployJob({
      db: options.db,
      driver: options.driver,
      endpoints: this.#endpoints,
      tenants: options.tenants,
      audit: options.audit,
      logger: options.logger,
      clock: options.clock,
      nodeBinDir: options.nodeBinDir,
      endpointStage: (stage) => this.#endpointStage(stage),
      ...(options.migrateTimeoutMs !== undefined ? { migrateTimeoutMs: options.migrateTimeoutMs } : {}),
    });
  }

  start(): Promise<void> {
    this.#starting ??= (async () => {
      await this.#driver.start();
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

  /** Stops every stage's instances, and the endpoints the runtime owns (Steward is shutting down). */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      if (this.#timer) clearInterval(this.#timer);
      await this.#ticking;
      await this.#ownEndpoints?.close();
      await this.#driver.shutdown({ stopInstances: true });
    })();
    return this.#stopping;
  }

  /** The one periodic pass: every stage's instances and endpoint, scale to zero, quotas. */
  tick(): Promise<void> {
    this.#ticking ??= (async () => {
      try {
        const stages = await readStages(this.#o.db);
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
        // Stages that are gone: nothing of theirs may keep running or keep an endpoint.
        for (const stageId of this.#endpointStages) {
          if (!known.has(stageId)) await this.#removeEndpoint(stageId);
        }
        await this.#driver.keepStages(stages.filter((s) => s.desired === 'present').map(runtimeStage));
      } finally {
        this.#ticking = undefined;
      }
    })();
    return this.#ticking;
  }

  /** Level-triggered: the active release's instances run and the endpoint points at them. */
  async reconcileStage(stageId: string): Promise<void> {
    const stage = await readStage(this.#o.db, stageId);
    if (!stage) return;
    if (stage.desired === 'absent') {
      await this.#driver.stop(runtimeStage(stage), () => true);
      await this.#removeEndpoint(stage.id);
      return;
    }
    if (await deployOwnsStage(this.#o.db, stage.id)) return; // the deploy job owns the stage until it finishes
    const active = await activeRelease(this.#o.db, stage.id);
    if (!active) return;
    // A wake owns the stage until it is healthy: neither stop what it starts nor
    // hand the endpoint an instance that does not listen yet.
    if (this.#waking.has(stage.id)) return;
    const endpoint = await this.#endpointStage(stage);
    if (stage.runtime_phase === 'scaled-to-zero') {
      await this.#endpoints.sleep(endpoint);
      await this.#driver.stop(runtimeStage(stage), () => true);
      return;
    }
    const environment = await stageEnvironment(this.#o.tenants, this.#o.nodeBinDir, stage, active);
    const instances = await this.#driver.ensure(runtimeStage(stage), active, environment);
    const ports = webPorts(instances);
    const old = this.#endpoints.serving(stage.id).filter((p) => !ports.includes(p));
    await this.#endpoints.serve(endpoint, ports);
    if (old.length > 0) await this.#endpoints.retire(endpoint, old, 10_000);
    await this.#driver.stop(runtimeStage(stage), (i) => i.release !== active.version);
    const crashing = instances.find((i) => i.phase === 'crashloop');
    await setRuntimePhase(
      this.#o.db,
      stage.id,
      crashing ? 'crashloop' : 'running',
      crashing
        ? `${crashing.process}.${crashing.instance} keeps exiting: ${crashing.lastExit?.reason ?? 'unknown reason'}`
        : `release ${active.version} is running`,
    );
  }

  /** The deploy job's handler: one step per pass (see deploy-job.ts). */
  readonly handleDeploy = (job: ClaimedJob): Promise<JobOutcome> => this.#deploys.handle(job);

  /** Scale to zero (seconds idle before the instances stop; null: never) and the files quota (null: none). */
  async configure(
    tenant: string,
    stage: string,
    settings: { scaleToZeroSeconds?: number | null | undefined; filesQuotaBytes?: number | null | undefined },
    actor: Principal,
  ): Promise<void> {
    const stageId = await this.#o.tenants.stageId(tenant, stage);
    await this.#o.db.transaction().execute(async (tx) => {
      await setRuntimeSettings(tx, stageId, settings);
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
    const stage = await readStage(this.#o.db, stageId);
    const release = stage ? await activeRelease(this.#o.db, stage.id) : undefined;
    const command = release?.definition.verify?.command;
    if (!stage || !release || !command) return undefined;
    const environment = await stageEnvironment(this.#o.tenants, this.#o.nodeBinDir, stage, release);
    const result = await this.#driver.runOnce(
      runtimeStage(stage),
      release,
      command,
      { ...environment, env: { ...environment.env, DATABASE_URL: databaseUrl, STEWARD_RESTORE_TEST: '1' } },
      // The restored copy listens on a port of its own: the stage may reach it while verify runs.
      { timeoutMs, reach: [urlPort(databaseUrl)] },
    );
    return { command, release: release.version, code: result.code, output: result.output };
  }

  /** The user a stage's instances run as; undefined when they run as Steward's own. */
  stageUid(stageId: string): number | undefined {
    return this.#driver.stageUid(stageId);
  }

  /**
   * Stops a stage's instances and starts them again at once (after its
   * database was swapped under them by an in-place restore): no instance keeps
   * state from the old database.
   */
  async restartStage(stageId: string): Promise<void> {
    const stage = await readStage(this.#o.db, stageId);
    if (!stage) return;
    await this.#driver.stop(runtimeStage(stage), () => true);
    await this.reconcileStage(stageId);
  }

  /** The stage as its endpoint knows it: its published port, chosen on first use. */
  async #endpointStage(stage: StageRow): Promise<EndpointStage> {
    const port = stage.published_port ?? (await claimPublishedPort(this.#o.db, stage.id, await freePort(0)));
    this.#endpointStages.add(stage.id);
    return { id: stage.id, tenant: stage.tenant, name: stage.name, publishedPort: port };
  }

  async #removeEndpoint(stageId: string): Promise<void> {
    await this.#endpoints.remove(stageId);
    this.#endpointStages.delete(stageId);
  }

  /** The first request to a stage scaled to zero starts it; the endpoint holds requests until it is healthy. */
  #wake(stageId: string): Promise<void> {
    const existing = this.#waking.get(stageId);
    if (existing) return existing;
    const waking = (async () => {
      try {
        const stage = await readStage(this.#o.db, stageId);
        const active = stage ? await activeRelease(this.#o.db, stage.id) : undefined;
        if (!stage || !active) return;
        await setRuntimePhase(this.#o.db, stage.id, 'starting', 'a request arrived: starting from zero');
        const environment = await stageEnvironment(this.#o.tenants, this.#o.nodeBinDir, stage, active);
        const instances = await this.#driver.ensure(runtimeStage(stage), active, environment);
        const timeout = (active.definition.health?.startTimeoutSeconds ?? 30) * 1000;
        for (const instance of instances) await this.#driver.waitReady(instance, timeout, { eager: true });
        await this.#endpoints.serve(await this.#endpointStage(stage), webPorts(instances));
        await setRuntimePhase(this.#o.db, stage.id, 'running', `release ${active.version} is running`);
      } catch (error) {
        this.#o.logger.warn({ stage: stageId, err: (error as Error).message }, 'waking the stage failed');
      } finally {
        this.#waking.delete(stageId);
      }
    })();
    this.#waking.set(stageId, waking);
    return waking;
  }

  async #scaleToZero(stage: StageRow): Promise<void> {
    const after = stage.scale_to_zero_seconds;
    if (!after || stage.runtime_phase !== 'running' || this.#waking.has(stage.id)) return;
    const idle = await this.#endpoints.idleMs(stage.id, this.#o.clock.now().getTime());
    if (idle === undefined || idle < after * 1000) return;
    await setRuntimePhase(
      this.#o.db,
      stage.id,
      'scaled-to-zero',
      `idle for ${after} s: stopped until the next request`,
    );
    const endpoint = await this.#endpointStage(stage);
    const ports = [...this.#endpoints.serving(stage.id)];
    await this.#endpoints.sleep(endpoint);
    await this.#endpoints.retire(endpoint, ports, 10_000);
    if (this.#waking.has(stage.id)) return; // a request came in meanwhile: the wake keeps the instances
    await this.#driver.stop(runtimeStage(stage), () => true);
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
    await setFilesBytes(this.#o.db, stage.id, bytes);
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
}

function urlPort(url: string): number {
  const { port, protocol } = new URL(url);
  return port ? Number(port) : protocol.startsWith('postgres') ? 5432 : 0;
}
