import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { ControlDb } from '../store/db.ts';
import type { TenantService } from '../tenants/service.ts';
import { lostCommits } from './measure.ts';
import {
  defaultDrillLimits,
  nextDrillStep,
  phaseOf,
  type DrillLimits,
  type DrillObservation,
  type StageDrillKind,
} from './plan.ts';
import { DrillStore, type DrillView } from './store.ts';
import type { HaCluster, HaClusters } from './cluster.ts';
import { WriteLoad, type WriteLoadReport } from './write-load.ts';

export interface DrillServiceOptions {
  readonly db: ControlDb;
  readonly tenants: TenantService;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The ha tier's clusters; undefined where this installation has no ha tier. */
  readonly targets: HaClusters | undefined;
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
    if (view.tier !== 'ha' || !this.#o.targets) {
      throw new ConflictError(
        `tenant ${tenant} is on the ${view.tier} tier: failover drills need the ha tier (a Patroni cluster per stage)${this.#o.targets ? '' : ', which this installation does not run'}`,
        { field: 'tenant' },
      );
    }
    const database = (await this.#o.tenants.stageConnection(stageId)).database;
    const target = await this.#o.targets.forStage(database);
    const startedAt = this.#o.clock.now();
    const id = await this.store.start(
      {
        kind,
        stageId,
        tenant,
        stage,
        cluster: target.scope,
        synchronous: target.synchronous,
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
          details: { kind, cluster: target.scope, synchronous: target.synchronous },
        }),
    );
    const run = this.#run(id, kind, target, { tenant, stage, actor: actorName(actor) })
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

  async list(tenant?: string): Promise<DrillView[]> {
    if (tenant !== undefined) await this.#o.tenants.show(tenant);
    return this.store.list(tenant !== undefined ? { tenant } : {});
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
    target: HaCluster,
    who: { tenant: string; stage: string; actor: string },
  ): Promise<void> {
    const limits = this.#o.limits ?? defaultDrillLimits;
    const log = this.#o.logger.child({ drill: id, tenant: who.tenant, stage: who.stage });
    const started = performance.now();
    let load: WriteLoad | undefined;
    let report: WriteLoadReport | undefined;
    let prepared = false;
    let fault: { oldPrimary: string; at: number; wall: Date } | null = null;
    let restartedAt: number | null = null;
    let lost: ReturnType<typeof lostCommits> | null = null;
    let killed: string | null = null;
    let phase = 'starting';
    let outcome: { outcome: 'passed' | 'failed' | 'interrupted'; reason: string };
    let seen: DrillObservation['cluster'] = null;
    try {
      for (;;) {
        if (this.#stopping) {
          outcome = { outcome: 'interrupted', reason: 'Steward stopped during the drill' };
          break;
        }
        seen = await target.observe().catch(() => null);
        const now = performance.now();
        const step = nextDrillStep(
          {
            kind,
            synchronous: target.synchronous,
            elapsedMs: now - started,
            cluster: seen,
            prepared,
            load: load
              ? {
                  acknowledged: load.acknowledgedCount,
                  resumeMs: fault ? load.resumeMs(fault.at) : null,
                  stopped: load.stopped,
                }
              : null,
            fault: fault ? { oldPrimary: fault.oldPrimary, msSince: now - fault.at } : null,
            restartedMsAgo: restartedAt === null ? null : now - restartedAt,
            lost: lost?.lost ?? null,
          },
          limits,
        );
        const next = phaseOf(step);
        if (next !== phase) {
          phase = next;
          log.info({ phase }, 'drill step');
          await this.store.phase(id, phase, step.kind === 'inject' ? this.#o.clock.now() : undefined);
        }
        if (step.kind === 'finish') {
          outcome = { outcome: step.outcome, reason: step.reason };
          break;
        }
        switch (step.kind) {
          case 'wait':
            await new Promise((r) => setTimeout(r, step.ms));
            break;
          case 'prepare': {
            const connection = await target.prepare();
            load = new WriteLoad({ connection });
            prepared = true;
            break;
          }
          case 'start-load':
            if (!load) throw new Error('the write load was not prepared');
            await load.start();
            break;
          case 'inject':
            fault = { oldPrimary: step.member, at: performance.now(), wall: this.#o.clock.now() };
            if (kind === 'kill') {
              killed = step.member;
              await target.kill(step.member);
            } else {
              await target.switchover(step.member);
            }
            break;
          case 'stop-load':
            report = await load?.stop();
            break;
          case 'count-lost':
            if (!load || !report) throw new Error('the write load was not stopped');
            lost = lostCommits(report.acknowledged, await load.found());
            break;
          case 'restart-member':
            restartedAt = performance.now();
            await target.start(step.member);
            killed = null;
            break;
        }
      }
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'drill step failed');
      outcome = { outcome: 'failed', reason: `${phase}: ${(error as Error).message}` };
    } finally {
      // Whatever happened: the load stops and a killed member comes back.
      if (load && !load.stopped) report = await load.stop().catch(() => report);
      if (killed) await target.start(killed).catch(() => undefined);
    }
    const ended = performance.now();
    const resumeMs = fault && load ? load.resumeMs(fault.at) : null;
    const newPrimary = seen?.leader ?? null;
    await this.store.finish(
      id,
      {
        outcome: outcome.outcome,
        reason: outcome.reason,
        endedAt: this.#o.clock.now(),
        phase,
        faultAt: fault?.wall ?? null,
        writesResumeSeconds: resumeMs === null ? null : round(resumeMs / 1000),
        acknowledgedWrites: report?.acknowledgedCount ?? null,
        lostCommits: lost?.lost ?? null,
        oldPrimary: fault?.oldPrimary ?? null,
        newPrimary: newPrimary === fault?.oldPrimary ? null : newPrimary,
        rejoinSeconds:
          outcome.outcome === 'passed' && fault ? round((ended - (restartedAt ?? fault.at)) / 1000) : null,
        details: {
          attemptedWrites: report?.attempted ?? null,
          failedWrites: report?.failed ?? null,
          lostExamples: lost?.examples ?? [],
          committedUnacknowledged: lost?.committedUnacknowledged ?? null,
          outages: (report?.outages ?? []).map((o) => ({
            fromMs: Math.round(o.lastAckAt - (report?.startedAt ?? 0)),
            toMs: o.resumedAt === null ? null : Math.round(o.resumedAt - (report?.startedAt ?? 0)),
          })),
          faultAtMs: fault && report ? Math.round(fault.at - report.startedAt) : null,
          errors: report?.errors ?? [],
          durationSeconds: round((ended - started) / 1000),
        },
      },
      (tx) =>
        this.#o.audit.record(tx, {
          actor: who.actor,
          action: 'drill.finish',
          target: `tenant/${who.tenant}/stage/${who.stage}/drill/${id}`,
          tenant: who.tenant,
          outcome: outcome.outcome === 'passed' ? 'success' : 'failure',
          details: {
            kind,
            outcome: outcome.outcome,
            reason: outcome.reason,
            writesResumeSeconds: resumeMs === null ? null : round(resumeMs / 1000),
            lostCommits: lost?.lost ?? null,
          },
        }),
    );
    log.info({ outcome: outcome.outcome, reason: outcome.reason }, 'drill ended');
  }
}

const round = (n: number): number => Math.round(n * 100) / 100;
