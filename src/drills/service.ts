import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { ControlDb } from '../store/db.ts';
import type { Page, PageRequest } from '../store/keyset.ts';
import type { TenantService } from '../tenants/service.ts';
import type { DrillLimits, StageDrillKind } from './plan.ts';
import { DrillStore, type DrillView } from './store.ts';
import type { HaCluster, HaClusters } from './cluster.ts';
import { runDrill } from './runner.ts';

export interface DrillServiceOptions {
  readonly db: ControlDb;
  readonly tenants: TenantService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The ha tier's clusters; undefined where this installation has no ha tier. */
  readonly clusters: HaClusters | undefined;
  readonly limits?: DrillLimits;
}

/**
 * Failover drills of a stage's Patroni cluster (issue 14 part 4): under a
 * write load, kill the primary (or ask for a switchover), measure how long
 * until writes resume and how many acknowledged commits were lost, wait for
 * the old primary to rejoin, and keep the result as evidence. A drill runs in
 * the background of the request that starts it; `show` follows it.
 */
export class DrillService {
  readonly #o: DrillServiceOptions;
  readonly store: DrillStore;
  readonly #running = new Map<string, Promise<void>>();
  #stopping = false;

  constructor(options: DrillServiceOptions) {
    this.#o = options;
    this.store = new DrillStore(options.db);
  }

  /** Starts a drill and returns it running; refuses a stage not on the ha tier. */
  async failover(tenant: string, stage: string, kind: StageDrillKind, actor: Principal): Promise<DrillView> {
    if (this.#stopping) throw new ConflictError('Steward is stopping: no new drill starts');
    const stageId = await this.#o.tenants.stageId(tenant, stage);
    const view = await this.#o.tenants.show(tenant);
    if (view.tier !== 'ha' || !this.#o.clusters) {
      throw new ConflictError(
        `tenant ${tenant} is on the ${view.tier} tier: failover drills need the ha tier (a Patroni cluster per stage)${this.#o.clusters ? '' : ', which this installation does not run'}`,
        { field: 'tenant' },
      );
    }
    const database = (await this.#o.tenants.stageConnection(stageId)).database;
    const cluster = await this.#o.clusters.forStage(database);
    const startedAt = this.#o.clock.now();
    const id = await this.store.start(
      {
        kind,
        stageId,
        tenant,
        stage,
        cluster: cluster.scope,
        synchronous: cluster.synchronous,
        requestedBy: actorName(actor),
        startedAt,
        phase: 'starting',
      },
      (tx, drillId) =>
        this.#o.audit.record(tx, {
          actor: actorName(actor),
          address: actor.address,
          action: 'drill.start',
          target: `tenant/${tenant}/stage/${stage}/drill/${drillId}`,
          tenant,
          details: { kind, cluster: cluster.scope, synchronous: cluster.synchronous },
        }),
    );
    const run = this.#run(id, kind, cluster, { tenant, stage, actor: actorName(actor) })
      .catch((error: unknown) => {
        this.#o.logger.error({ drill: id, err: (error as Error).message }, 'drill failed to record');
      })
      .finally(() => this.#running.delete(id));
    this.#running.set(id, run);
    return this.show(id);
  }

  async show(id: string): Promise<DrillView> {
    const found = await this.store.get(id);
    if (!found) {
      throw new NotFoundError(`there is no drill ${showValue(id)}; "steward drill list" lists them`, {
        field: 'id',
      });
    }
    return found;
  }

  /** One page of drills, newest first by default; of one tenant (which must exist), or all. */
  async listPage(tenant: string | undefined, page: PageRequest<'started'>): Promise<Page<DrillView>> {
    if (tenant !== undefined) await this.#o.tenants.show(tenant);
    return this.store.page({ tenant }, page);
  }

  /** Resolves when the drill ends (tests, the CLI's server side). */
  async settled(id: string): Promise<DrillView> {
    await this.#running.get(id);
    return this.show(id);
  }

  /** Stops every drill in flight: each ends interrupted, its load stopped, its killed member started again. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#running.values());
  }

  async #run(
    id: string,
    kind: StageDrillKind,
    cluster: HaCluster,
    who: { tenant: string; stage: string; actor: string },
  ): Promise<void> {
    const logger = this.#o.logger.child({ drill: id, tenant: who.tenant, stage: who.stage });
    const run = await runDrill(cluster, kind, {
      ...(this.#o.limits ? { limits: this.#o.limits } : {}),
      logger,
      now: () => this.#o.clock.now(),
      shouldStop: () => this.#stopping,
      onPhase: (phase, faultAt) => this.store.phase(id, phase, faultAt),
    });
    await this.store.finish(id, { ...run, endedAt: this.#o.clock.now() }, (tx) =>
      this.#o.audit.record(tx, {
        actor: who.actor,
        action: 'drill.finish',
        target: `tenant/${who.tenant}/stage/${who.stage}/drill/${id}`,
        tenant: who.tenant,
        outcome: run.outcome === 'passed' ? 'success' : 'failure',
        details: {
          kind,
          outcome: run.outcome,
          reason: run.reason,
          writesResumeSeconds: run.writesResumeSeconds ?? null,
          lostCommits: run.lostCommits ?? null,
        },
      }),
    );
    logger.info({ outcome: run.outcome, reason: run.reason }, 'drill ended');
  }
}
