import { sql } from 'kysely';
import type { AuditService } from '../audit/service.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import { enqueue } from '../jobs/queue.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { AppDefinition } from './app-definition.ts';

export const deployJobKind = 'deploy';
export const runtimeJobKind = 'reconcile-runtime';

export const deploymentStatuses = [
  'pending',
  'migrating',
  'starting',
  'active',
  'superseded',
  'failed',
  'rolled-back',
] as const;
export type DeploymentStatus = (typeof deploymentStatuses)[number];
export const inFlightStatuses: readonly DeploymentStatus[] = ['pending', 'migrating', 'starting'];

export interface DeploymentView {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string;
  readonly app: string;
  readonly version: string;
  readonly status: DeploymentStatus;
  readonly reason: string;
  readonly actor: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

export interface DeployOptions {
  readonly app?: string | undefined;
  /** Recorded as the audit action: deploy, promote or rollback. */
  readonly action?: 'deploy' | 'promote' | 'rollback';
}

/**
 * Deployments: which release a stage should run. Deploy, promote and
 * rollback all write a pending deployment, its job and the audit event in one
 * transaction; the stage runtime carries it out (migrate, start, wait for
 * health, hand over, drain the old processes).
 */
/** The release a stage's active deployment runs. */
export interface ActiveRelease {
  readonly app: string;
  readonly version: string;
  readonly path: string;
  readonly definition: AppDefinition;
}

/** The release of a stage's newest active deployment, if it has one: the runtime, restore tests and checks ask here. */
export async function activeRelease(db: Queryable, stageId: string): Promise<ActiveRelease | undefined> {
  const row = await db
    .selectFrom('deployments')
    .innerJoin('releases', 'releases.id', 'deployments.release_id')
    .select(['releases.app', 'releases.version', 'releases.path', 'releases.definition'])
    .where('deployments.stage_id', '=', stageId)
    .where('deployments.status', '=', 'active')
    .orderBy('deployments.id', 'desc')
    .executeTakeFirst();
  return row ? { ...row, definition: row.definition as AppDefinition } : undefined;
}

/**
 * A deployment of the stage is in flight, or its deploy job is still queued
 * or running (retiring the old release after the new one went active): the
 * deploy job decides what serves until it is done.
 */
export async function deployOwnsStage(db: Queryable, stageId: string): Promise<boolean> {
  const row = await db
    .selectFrom('deployments')
    .select('deployments.id')
    .where('deployments.stage_id', '=', stageId)
    .where((eb) =>
      eb.or([
        eb('deployments.status', 'in', [...inFlightStatuses]),
        eb.exists(
          eb
            .selectFrom('jobs')
            .select('jobs.id')
            .where('jobs.kind', '=', deployJobKind)
            .where('jobs.key', '=', sql<string>`deployments.id::text`),
        ),
      ]),
    )
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The deploy job's writes to a deployment (the service below inserts them):
 * every write to the deployments table is in this module.
 */
export async function recordDeploymentPhase(
  db: Queryable,
  id: string,
  status: DeploymentStatus,
  reason: string,
): Promise<void> {
  await db
    .updateTable('deployments')
    .set({ status, reason: reason.slice(0, 2000) })
    .where('id', '=', id)
    .execute();
}

/** The deployment is the stage's active one; the one active before is superseded. */
export async function activateDeployment(
  tx: Queryable,
  stageId: string,
  id: string,
  now: Date,
): Promise<void> {
  await tx
    .updateTable('deployments')
    .set({ status: 'superseded', finished_at: now })
    .where('stage_id', '=', stageId)
    .where('status', '=', 'active')
    .execute();
  await tx
    .updateTable('deployments')
    .set({ status: 'active', reason: 'healthy and serving', finished_at: now })
    .where('id', '=', id)
    .execute();
}

export async function failDeployment(db: Queryable, id: string, reason: string, now: Date): Promise<void> {
  await db
    .updateTable('deployments')
    .set({ status: 'failed', reason: reason.slice(0, 2000), finished_at: now })
    .where('id', '=', id)
    .execute();
}

/** A release being removed takes its finished deployments along; returns how many. */
export async function deleteDeploymentsOf(tx: Queryable, releaseId: string): Promise<number> {
  const deleted = await tx.deleteFrom('deployments').where('release_id', '=', releaseId).executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

export class DeploymentService {
  readonly #db: ControlDb;
  readonly #audit: AuditService;

  constructor(db: ControlDb, audit: AuditService) {
    this.#db = db;
    this.#audit = audit;
  }

  async deploy(
    tenant: string,
    stage: string,
    version: string,
    actor: Principal,
    options: DeployOptions = {},
  ): Promise<DeploymentView> {
    const id = await this.#db.transaction().execute(async (tx) => {
      const target = await this.#stage(tx, tenant, stage);
      const releases = await tx
        .selectFrom('releases')
        .select(['id', 'app', 'version'])
        .where('version', '=', version)
        .$if(options.app !== undefined, (q) => q.where('app', '=', options.app ?? ''))
        .execute();
      if (releases.length === 0) {
        throw new NotFoundError(
          `release ${showValue(version)}${options.app ? ` of app ${options.app}` : ''} does not exist; "steward release list" shows the releases`,
          { field: 'version' },
        );
      }
      if (releases.length > 1) {
        throw new InputError(
          `version ${showValue(version)} exists for several apps (${releases.map((r) => r.app).join(', ')}); name the app with --app`,
          { field: 'app' },
        );
      }
      const release = releases[0]!;
      // Deploying what already runs changes nothing: the same processes keep serving.
      const running = await tx
        .selectFrom('deployments')
        .select('id')
        .where('stage_id', '=', target.id)
        .where('status', '=', 'active')
        .where('release_id', '=', release.id)
        .executeTakeFirst();
      if (running) return running.id;
      const inFlight = await tx
        .selectFrom('deployments')
        .select(['id', 'status'])
        .where('stage_id', '=', target.id)
        .where('status', 'in', [...inFlightStatuses])
        .executeTakeFirst();
      if (inFlight) {
        throw new ConflictError(
          `deployment ${inFlight.id} to ${tenant}/${stage} is still ${inFlight.status}; wait for it, then deploy again`,
        );
      }
      const row = await tx
        .insertInto('deployments')
        .values({ stage_id: target.id, release_id: release.id, status: 'pending', actor: actorName(actor) })
        .returning('id')
        .executeTakeFirstOrThrow();
      await enqueue(tx, deployJobKind, row.id);
      await this.#audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: `stage.${options.action ?? 'deploy'}`,
        target: `tenant/${tenant}/stage/${stage}`,
        tenant,
        details: { app: release.app, version: release.version, deployment: row.id },
      });
      return row.id;
    });
    return this.get(id);
  }

  /** Deploys the release that runs in one stage to another. */
  async promote(tenant: string, from: string, to: string, actor: Principal): Promise<DeploymentView> {
    const active = await this.active(tenant, from);
    if (!active) {
      throw new ConflictError(`stage ${from} of ${tenant} runs no release yet; deploy one there first`, {
        field: 'from',
      });
    }
    return this.deploy(tenant, to, active.version, actor, { app: active.app, action: 'promote' });
  }

  /**
   * Returns a stage to the release it ran before the current one, or with
   * `to`, to an earlier release it ran: a deploy of that release.
   */
  async rollback(tenant: string, stage: string, actor: Principal, to?: string): Promise<DeploymentView> {
    const history = await this.list(tenant, stage);
    const current = history.find((d) => d.status === 'active');
    if (!current) throw new ConflictError(`stage ${stage} of ${tenant} runs no release to roll back from`);
    const earlier = history.filter((d) => d.status === 'superseded' && Number(d.id) < Number(current.id));
    if (to !== undefined) {
      if (to === current.version) {
        throw new ConflictError(`stage ${stage} of ${tenant} runs ${showValue(to)} already`, { field: 'to' });
      }
      const target = earlier.find((d) => d.version === to);
      if (!target) {
        const ran = [...new Set(earlier.map((d) => d.version))];
        throw new InputError(
          `--to ${showValue(to)}: stage ${stage} of ${tenant} never ran that release; it ran ${ran.length > 0 ? ran.join(', ') : 'no earlier release'}`,
          { field: 'to' },
        );
      }
      return this.deploy(tenant, stage, target.version, actor, { app: target.app, action: 'rollback' });
    }
    const previous = earlier.find((d) => d.version !== current.version);
    if (!previous) {
      throw new ConflictError(`stage ${stage} of ${tenant} has no earlier release to roll back to`);
    }
    return this.deploy(tenant, stage, previous.version, actor, { app: previous.app, action: 'rollback' });
  }

  async get(id: string): Promise<DeploymentView> {
    const [view] = await this.#query().where('deployments.id', '=', id).execute();
    if (!view) throw new NotFoundError(`deployment ${showValue(id)} does not exist`, { field: 'id' });
    return toView(view);
  }

  /** Newest first. */
  async list(tenant: string, stage?: string): Promise<DeploymentView[]> {
    const rows = await this.#of(tenant, stage).orderBy('deployments.id', 'desc').limit(200).execute();
    return rows.map(toView);
  }

  /** One page of a tenant's (or a stage's) deployments, by id (keyset). */
  async listPage(
    filter: { readonly tenant: string; readonly stage?: string | undefined },
    page: PageRequest<'id'>,
  ): Promise<Page<DeploymentView>> {
    const rows = await keysetPage(
      this.#of(filter.tenant, filter.stage),
      { sort: 'deployments.id', id: 'deployments.id' },
      page,
    );
    return { ...rows, items: rows.items.map(toView) };
  }

  #of(tenant: string, stage: string | undefined) {
    return this.#query()
      .where('tenants.slug', '=', tenant)
      .$if(stage !== undefined, (q) => q.where('stages.name', '=', stage ?? ''));
  }

  async active(tenant: string, stage: string): Promise<DeploymentView | undefined> {
    const [row] = await this.#query()
      .where('tenants.slug', '=', tenant)
      .where('stages.name', '=', stage)
      .where('deployments.status', '=', 'active')
      .orderBy('deployments.id', 'desc')
      .limit(1)
      .execute();
    return row ? toView(row) : undefined;
  }

  #query() {
    return this.#db
      .selectFrom('deployments')
      .innerJoin('stages', 'stages.id', 'deployments.stage_id')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .innerJoin('releases', 'releases.id', 'deployments.release_id')
      .select([
        'deployments.id',
        'tenants.slug as tenant',
        'stages.name as stage',
        'releases.app',
        'releases.version',
        'deployments.status',
        'deployments.reason',
        'deployments.actor',
        'deployments.created_at',
        'deployments.finished_at',
      ]);
  }

  async #stage(tx: Queryable, tenant: string, stage: string): Promise<{ id: string }> {
    const row = await tx
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'stages.desired', 'stages.phase', 'tenants.desired as tenant_desired'])
      .where('tenants.slug', '=', tenant)
      .where('stages.name', '=', stage)
      .forUpdate()
      .executeTakeFirst();
    if (!row) {
      throw new NotFoundError(`tenant ${showValue(tenant)} has no stage ${showValue(stage)}`, {
        field: 'stage',
      });
    }
    if (row.desired === 'absent' || row.tenant_desired === 'absent') {
      throw new ConflictError(`stage ${stage} of ${tenant} is being removed`);
    }
    return row;
  }
}

function toView(row: {
  id: string;
  tenant: string;
  stage: string;
  app: string;
  version: string;
  status: string;
  reason: string;
  actor: string;
  created_at: Date;
  finished_at: Date | null;
}): DeploymentView {
  return {
    id: row.id,
    tenant: row.tenant,
    stage: row.stage,
    app: row.app,
    version: row.version,
    status: row.status as DeploymentStatus,
    reason: row.reason,
    actor: row.actor,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}
