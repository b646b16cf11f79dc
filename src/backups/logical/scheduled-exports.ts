import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.ts';
import { isStewardError } from '../../core/errors.ts';
import { systemPrincipal } from '../../core/policy.ts';
import { enqueue } from '../../jobs/queue.ts';
import type { JobHandler } from '../../jobs/runner.ts';
import type { ControlDb } from '../../store/db.ts';
import { intervalOf, type BackupPolicy } from '../policy.ts';
import { dueExport } from './schedule.ts';
import type { ExportService, ExportView } from './service.ts';

/** One sweeper job for every tenant's scheduled exports. */
export const exportScheduleJobKind = 'export-schedule';
const scheduleKey = 'all';
const hour = 3_600_000;

/** Where tenants' policies come from (the backup service). */
export interface TenantPolicies {
  tenantPolicies(): Promise<readonly { readonly tenant: string; readonly policy: BackupPolicy }[]>;
}

export interface ExportScheduleOptions {
  readonly db: ControlDb;
  readonly exports: ExportService;
  readonly policies: TenantPolicies;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface ExportSchedulePassResult {
  /** Exports started by this pass. */
  readonly created: readonly ExportView[];
  /** Tenants whose stages were due but not exported, and why (no export key, say). */
  readonly skipped: readonly { readonly tenant: string; readonly reason: string }[];
  /** Exports removed by their tenant's retention. */
  readonly pruned: readonly string[];
  /** When the next export falls due; null when none is scheduled. */
  readonly nextDue: Date | null;
}

/**
 * Logical exports scheduled by the tenants' backup policies and kept by the
 * same retention: each pass exports every ready stage of every tenant whose
 * policy has exports on and whose newest export is old enough (dueExport),
 * then removes the exports each tenant's retention no longer keeps. The job
 * calls the pass and comes back when the next export falls due, at least
 * hourly (for new stages, keys and policies); tests call the pass directly.
 */
export class ExportSchedule {
  readonly #o: ExportScheduleOptions;
  /** Passes in this process run one after another; the job queue runs one sweeper at a time across processes. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: ExportScheduleOptions) {
    this.#o = options;
  }

  /** Queues the sweeper job; safe on every start. */
  async start(): Promise<void> {
    await this.#o.db.transaction().execute((tx) => enqueue(tx, exportScheduleJobKind, scheduleKey));
  }

  scheduledPass(): Promise<ExportSchedulePassResult> {
    const pass = this.#tail.then(() => this.#pass());
    this.#tail = pass.catch(() => undefined);
    return pass;
  }

  async #pass(): Promise<ExportSchedulePassResult> {
    const now = this.#o.clock.now();
    const log = this.#o.logger.child({ pass: 'export-schedule' });
    const policies = await this.#o.policies.tenantPolicies();
    const scheduled = policies.filter((p) => p.policy.exports !== null);
    const stages =
      scheduled.length === 0
        ? []
        : await this.#o.db
            .selectFrom('stages')
            .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
            .select(['stages.id', 'stages.name', 'tenants.slug'])
            .where(
              'tenants.slug',
              'in',
              scheduled.map((p) => p.tenant),
            )
            .where('tenants.desired', '=', 'present')
            .where('stages.desired', '=', 'present')
            .where('stages.phase', '=', 'ready')
            .where('stages.paused', '=', false)
            .orderBy('tenants.slug')
            .orderBy('stages.name')
            .execute();
    const last = await this.#o.exports.lastExported(stages.map((s) => s.id));
    const created: ExportView[] = [];
    const skipped: { tenant: string; reason: string }[] = [];
    let nextDue: Date | null = null;
    const later = (at: Date): void => {
      if (nextDue === null || at < nextDue) nextDue = at;
    };
    for (const { tenant, policy } of scheduled) {
      const every = policy.exports;
      const mine = stages.filter((s) => s.slug === tenant);
      if (every === null || mine.length === 0) continue;
      const due = [];
      for (const stage of mine) {
        const decision = dueExport(every, last.get(stage.id) ?? null, now);
        if (decision.kind === 'wait') later(decision.until);
        else due.push(stage);
      }
      if (due.length === 0) continue;
      if ((await this.#o.exports.key(tenant)).kind === null) {
        const reason = `tenant ${tenant} has no export key, so its ${every} exports are not made; set one with "steward export key set ${tenant} --recipient age1…" (or --generate)`;
        skipped.push({ tenant, reason });
        log.info({ tenant, reason }, 'scheduled exports skipped');
        continue;
      }
      for (const stage of due) {
        try {
          created.push(
            await this.#o.exports.create(tenant, stage.name, systemPrincipal, { scheduled: every }),
          );
          later(new Date(now.getTime() + intervalOf(every)));
        } catch (error) {
          // The stage changed since it was read (removed, no longer ready): the next pass sees it again.
          if (!isStewardError(error)) throw error;
          log.warn({ tenant, stage: stage.name, err: error.message }, 'scheduled export not started');
        }
      }
    }
    const pruned: string[] = [];
    for (const { tenant, policy } of policies) {
      pruned.push(...(await this.#o.exports.prune(policy.retainDays, { tenant, actor: systemPrincipal })));
    }
    if (created.length > 0 || pruned.length > 0) {
      log.info({ created: created.length, pruned: pruned.length }, 'scheduled exports');
    }
    return { created, skipped, pruned, nextDue };
  }

  /** The sweeper job: a pass, then again when the next export falls due, at least hourly. */
  readonly handle: JobHandler = async () => {
    const pass = await this.scheduledPass();
    const next = pass.nextDue ? pass.nextDue.getTime() - this.#o.clock.now().getTime() : hour;
    return { kind: 'requeue', afterMs: Math.max(60_000, Math.min(hour, next)) };
  };
}
