import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { actorName, systemPrincipal } from '../core/policy.ts';
import type { ClaimedJob, JobOutcome } from '../jobs/queue.ts';
import type { ControlDb } from '../store/db.ts';
import { setRuntimePhase } from '../tenants/stage-store.ts';
import type { TenantService } from '../tenants/service.ts';
import type { AppDefinition } from './app-definition.ts';
import { nextDeployStep, type DeployPlan, type ObservedDeploy } from './deploy-plan.ts';
import {
  activateDeployment,
  activeRelease,
  failDeployment,
  recordDeploymentPhase,
  type ActiveRelease,
  type DeploymentStatus,
} from './deployments.ts';
import { webPorts, type RuntimeDriver } from './driver.ts';
import type { EndpointStage, StageEndpoints } from './endpoints.ts';
import { readStage, runtimeStage, stageEnvironment, type StageRow } from './stage-rows.ts';

export interface DeployJobOptions {
  readonly db: ControlDb;
  readonly driver: RuntimeDriver;
  readonly endpoints: StageEndpoints;
  readonly tenants: TenantService;
  readonly audit: AuditService;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly nodeBinDir: string;
  /** The stage as its endpoint knows it (its published port, given one if it has none yet). */
  readonly endpointStage: (stage: StageRow) => Promise<EndpointStage>;
  readonly migrateTimeoutMs?: number;
  /** How long requests in flight to the old release may take to finish. */
  readonly retireMs?: number;
}

/** What one run of the job remembers between its passes; a crash forgets it, and that is safe. */
interface PassMemory {
  /** Old ports retired in this run: their instances may be stopped. */
  readonly retired: Set<number>;
  /** Why the last step failed, for the planner to see. */
  failure: string | undefined;
}

interface Deployment {
  readonly id: string;
  readonly stageId: string;
  readonly status: DeploymentStatus;
  readonly release: ActiveRelease;
}

/** Passes per job run before it yields to other jobs; a deploy needs about seven. */
const passesPerRun = 16;

/**
 * The deploy job: a deployment of a release to a stage, one step per pass.
 * Each pass observes the deployment row, the stage's instances and its
 * endpoint, asks nextDeployStep, and takes that step; the recorded phase
 * (the row's status) says only what cannot be observed (whether the
 * migration ran). A kill -9 anywhere leaves the job queued: the next Steward
 * runs it again and the planner picks up from what it finds.
 */
export class DeployJob {
  readonly #o: DeployJobOptions;

  constructor(options: DeployJobOptions) {
    this.#o = options;
  }

  readonly handle = async (job: ClaimedJob): Promise<JobOutcome> => {
    const memory: PassMemory = { retired: new Set(), failure: undefined };
    for (let pass = 0; pass < passesPerRun; pass++) {
      const plan = await this.pass(job.key, memory);
      if (!plan || plan.step === 'done' || plan.step === 'fail') return { kind: 'done' };
    }
    return { kind: 'requeue', afterMs: 0 };
  };

  /** One pass: observe, plan, take the step. Returns the step taken; undefined when there is no such deployment. */
  async pass(
    deploymentId: string,
    memory: PassMemory = { retired: new Set(), failure: undefined },
  ): Promise<DeployPlan | undefined> {
    const deployment = await this.#deployment(deploymentId);
    if (!deployment) return undefined;
    const stage = await readStage(this.#o.db, deployment.stageId);
    const observed = this.#observe(deployment, stage, memory);
    const plan = nextDeployStep(observed, { migrate: deployment.release.definition.migrate !== undefined });
    const log = this.#o.logger.child({
      tenant: stage?.tenant,
      stage: stage?.name,
      deployment: deployment.id,
      step: plan.step,
    });
    log.debug({ reason: plan.reason }, 'deploy step');
    memory.failure = undefined;
    if (plan.step === 'fail') {
      await this.#fail(deployment, stage, observed, plan.reason, log);
      return plan;
    }
    if (plan.step === 'done') {
      if (deployment.status === 'active')
        log.info({ version: deployment.release.version }, 'deployment active');
      return plan;
    }
    if (!stage) return plan; // not reached: without a stage the planner says fail or done
    memory.failure = await this.#act(plan, deployment, stage, memory);
    return plan;
  }

  #observe(deployment: Deployment, stage: StageRow | undefined, memory: PassMemory): ObservedDeploy {
    const version = deployment.release.version;
    const instances = stage ? this.#o.driver.instances({ tenant: stage.tenant, name: stage.name }) : [];
    const mine = instances.filter((i) => i.release === version);
    const others = instances.filter((i) => i.release !== version);
    return {
      status: deployment.status,
      stagePresent: stage !== undefined && stage.desired === 'present',
      instances: {
        wanted: wantedInstances(deployment.release.definition),
        supervised: mine.length,
        ready: mine.filter((i) => i.ready).length,
      },
      newPorts: webPorts(mine),
      serving: stage ? this.#o.endpoints.serving(stage.id) : [],
      oldPorts: webPorts(others).filter((p) => !memory.retired.has(p)),
      oldInstances: others.length,
      failure: memory.failure,
    };
  }

  /** Takes one step; returns why it failed when the failure is the deployment's (not Steward's, which throws). */
  async #act(
    plan: DeployPlan,
    deployment: Deployment,
    stage: StageRow,
    memory: PassMemory,
  ): Promise<string | undefined> {
    const { release } = deployment;
    const endpoint = (): Promise<EndpointStage> => this.#o.endpointStage(stage);
    switch (plan.step) {
      case 'migrate': {
        await this.#record(deployment, stage, 'migrating', plan.reason);
        const command = release.definition.migrate?.command ?? 'true';
        const environment = await stageEnvironment(this.#o.tenants, this.#o.nodeBinDir, stage, release);
        const result = await this.#o.driver.runOnce(runtimeStage(stage), release, command, environment, {
          timeoutMs: this.#o.migrateTimeoutMs ?? 600_000,
        });
        if (result.code !== 0) {
          const tail = result.output.split('\n').slice(-10).join('\n');
          return `the migration failed: exit ${result.code}: ${tail}`;
        }
        await this.#record(deployment, stage, 'starting', 'migrated; starting the new release');
        return undefined;
      }
      case 'start':
        await this.#record(deployment, stage, 'starting', plan.reason);
        try {
          const environment = await stageEnvironment(this.#o.tenants, this.#o.nodeBinDir, stage, release);
          await this.#o.driver.ensure(runtimeStage(stage), release, environment);
        } catch (error) {
          return `the new processes did not start: ${(error as Error).message}`;
        }
        return undefined;
      case 'wait-healthy': {
        const timeout = (release.definition.health?.startTimeoutSeconds ?? 30) * 1000;
        try {
          // Again, though they run: instances adopted after a crash get back their environment
          // (for their next restart) and their stage its way to its database.
          const environment = await stageEnvironment(this.#o.tenants, this.#o.nodeBinDir, stage, release);
          const instances = await this.#o.driver.ensure(runtimeStage(stage), release, environment);
          for (const instance of instances.filter((i) => !i.ready)) {
            await this.#o.driver.waitReady(instance, timeout);
          }
        } catch (error) {
          return `the new processes did not become healthy: ${(error as Error).message}`;
        }
        return undefined;
      }
      case 'serve': {
        // New requests go to the new release; requests in flight finish where they are.
        const mine = this.#o.driver
          .instances({ tenant: stage.tenant, name: stage.name })
          .filter((i) => i.release === release.version);
        await this.#o.endpoints.serve(await endpoint(), webPorts(mine));
        return undefined;
      }
      case 'mark-active':
        await this.#markActive(deployment, stage);
        return undefined;
      case 'retire': {
        const old = this.#o.driver
          .instances({ tenant: stage.tenant, name: stage.name })
          .filter((i) => i.release !== release.version);
        const ports = webPorts(old).filter((p) => !memory.retired.has(p));
        await this.#o.endpoints.retire(await endpoint(), ports, this.#o.retireMs ?? 30_000);
        for (const port of ports) memory.retired.add(port);
        return undefined;
      }
      case 'stop-old':
        await this.#o.driver.stop(runtimeStage(stage), (i) => i.release !== release.version);
        return undefined;
    }
    return undefined;
  }

  async #markActive(deployment: Deployment, stage: StageRow): Promise<void> {
    const now = this.#o.clock.now();
    await this.#o.db.transaction().execute(async (tx) => {
      await activateDeployment(tx, stage.id, deployment.id, now);
      await setRuntimePhase(tx, stage.id, 'running', `release ${deployment.release.version} is running`);
    });
  }

  async #fail(
    deployment: Deployment,
    stage: StageRow | undefined,
    observed: ObservedDeploy,
    reason: string,
    log: Logger,
  ): Promise<void> {
    const version = deployment.release.version;
    log.warn({ reason }, 'deployment failed');
    const active = stage ? await activeRelease(this.#o.db, stage.id) : undefined;
    if (stage) {
      const instances = this.#o.driver.instances({ tenant: stage.tenant, name: stage.name });
      // Handed over already (a crash after serve): the release that still runs gets its traffic back.
      if (active && observed.serving.some((p) => observed.newPorts.includes(p))) {
        const ports = webPorts(instances.filter((i) => i.release === active.version));
        await this.#o.endpoints.serve(await this.#o.endpointStage(stage), ports);
      }
      if (version !== active?.version)
        await this.#o.driver.stop(runtimeStage(stage), (i) => i.release === version);
    }
    await failDeployment(this.#o.db, deployment.id, reason, this.#o.clock.now());
    if (!stage || stage.desired !== 'present') return;
    await this.#o.audit.recordAlone({
      actor: actorName(systemPrincipal),
      action: 'stage.deploy.failed',
      target: `tenant/${stage.tenant}/stage/${stage.name}`,
      tenant: stage.tenant,
      outcome: 'failure',
      details: { deployment: deployment.id, version, reason },
    });
    await setRuntimePhase(
      this.#o.db,
      stage.id,
      active ? 'running' : 'failed',
      `deployment of ${version} failed: ${reason}`,
    );
  }

  /** Records the deployment's phase (and the stage's, on its first step). */
  async #record(
    deployment: Deployment,
    stage: StageRow,
    status: DeploymentStatus,
    reason: string,
  ): Promise<void> {
    if (deployment.status === 'pending') {
      await setRuntimePhase(this.#o.db, stage.id, 'deploying', `deploying ${deployment.release.version}`);
    }
    await recordDeploymentPhase(this.#o.db, deployment.id, status, reason);
  }

  async #deployment(id: string): Promise<Deployment | undefined> {
    const row = await this.#o.db
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
      .where('deployments.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      stageId: row.stage_id,
      status: row.status as DeploymentStatus,
      release: {
        app: row.app,
        version: row.version,
        path: row.path,
        definition: row.definition as AppDefinition,
      },
    };
  }
}

function wantedInstances(definition: AppDefinition): number {
  return Object.values(definition.processes).reduce((sum, p) => sum + (p.instances ?? 1), 0);
}
