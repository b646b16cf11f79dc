import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../core/clock.ts';
import type { JobObserver } from '../jobs/runner.ts';
import type { CheckObserver, CheckState } from '../monitoring/index.ts';
import type { DeliveryObserver } from '../notifications/index.ts';
import type { SupervisorEvent } from '../runtime/supervisor.ts';
import type { Queryable } from '../store/db.ts';
import { readBacklog, readCheckStates, type Backlog } from './backlog.ts';

/**
 * Steward's own Prometheus metrics (issue 10 part 8), in a registry of their
 * own that the gateway's metrics join. Counters and histograms are fed by the
 * runners as they work (they take this object as their observer); gauges of
 * what the control DB holds are read at scrape time, in two queries whatever
 * the number of stages.
 *
 * Labels are closed sets or names operators and Steward chose (job kinds,
 * check kinds, channel names, tenant and stage slugs), never client input.
 */
export const watchedLoops = ['checks', 'jobs', 'notifications'] as const;
export type WatchedLoop = (typeof watchedLoops)[number];

/** steward_check_state's value per state: worse is higher, so max() over a stage is its worst check. */
export const checkStateValues: Readonly<Record<CheckState, number>> = {
  unknown: -1,
  up: 0,
  degraded: 1,
  down: 2,
};

const jobBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const probeBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const latenessBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300];

export interface StewardMetricsOptions {
  readonly clock: Clock;
  /** The control DB, for the scrape-time gauges; without one only what this process counted is served. */
  readonly db?: Queryable;
}

export class StewardMetrics {
  readonly registry = new Registry();
  readonly contentType: string;
  readonly #o: StewardMetricsOptions;
  /** When this process began counting (epoch ms). */
  readonly startedAt: number;
  readonly #lastProgress = new Map<WatchedLoop, number>();
  #refreshing: Promise<void> | undefined;

  readonly #jobDuration: Histogram<'kind' | 'outcome'>;
  readonly #jobs: Gauge<'kind' | 'state'>;
  readonly #jobOldest: Gauge<'kind'>;
  readonly #probeDuration: Histogram<'kind'>;
  readonly #probeLateness: Histogram<'kind'>;
  readonly #checksDue: Gauge;
  readonly #checksOverdue: Gauge;
  readonly #checkState: Gauge<'tenant' | 'stage' | 'check' | 'kind'>;
  readonly #stageChecks: Gauge<'tenant' | 'stage' | 'state'>;
  readonly #outbox: Gauge<'state'>;
  readonly #outboxOldest: Gauge;
  readonly #attempts: Counter<'channel' | 'outcome'>;
  readonly #restarts: Counter<'tenant' | 'stage'>;
  readonly #alerts: Gauge<'severity' | 'status' | 'muted'>;
  readonly #loopProgress: Gauge<'loop'>;
  readonly #dbUp: Gauge;
  readonly #leaseHeld: Gauge<'lease'>;

  constructor(options: StewardMetricsOptions) {
    this.#o = options;
    this.startedAt = options.clock.now().getTime();
    this.contentType = this.registry.contentType;
    const registers = [this.registry];
    this.#jobDuration = new Histogram({
      name: 'steward_job_duration_seconds',
      help: 'Time a job (a reconcile, a backup, a deploy…) ran, by job kind and outcome (done, retry, requeue).',
      labelNames: ['kind', 'outcome'],
      buckets: jobBuckets,
      registers,
    });
    this.#jobs = new Gauge({
      name: 'steward_jobs',
      help: 'Jobs in the queue by kind and state: running (a worker holds it), waiting (due, not started), scheduled (due later).',
      labelNames: ['kind', 'state'],
      registers,
    });
    this.#jobOldest = new Gauge({
      name: 'steward_job_oldest_waiting_seconds',
      help: 'How long the longest-waiting due job of each kind has waited for a worker.',
      labelNames: ['kind'],
      registers,
    });
    this.#probeDuration = new Histogram({
      name: 'steward_check_probe_duration_seconds',
      help: 'How long one probe of a check took, by check kind.',
      labelNames: ['kind'],
      buckets: probeBuckets,
      registers,
    });
    this.#probeLateness = new Histogram({
      name: 'steward_check_probe_lateness_seconds',
      help: 'How late a probe started after its check was due, by check kind.',
      labelNames: ['kind'],
      buckets: latenessBuckets,
      registers,
    });
    this.#checksDue = new Gauge({
      name: 'steward_checks_due',
      help: 'Enabled checks that are due (or overdue) and not yet probed.',
      registers,
    });
    this.#checksOverdue = new Gauge({
      name: 'steward_checks_overdue_seconds',
      help: 'How long ago the most overdue check was due (0 when none is).',
      registers,
    });
    this.#checkState = new Gauge({
      name: 'steward_check_state',
      help: "Each check's state: 0 up, 1 degraded, 2 down, -1 unknown (Steward could not probe).",
      labelNames: ['tenant', 'stage', 'check', 'kind'],
      registers,
    });
    this.#stageChecks = new Gauge({
      name: 'steward_stage_checks',
      help: "A stage's checks by state (up, degraded, down, unknown).",
      labelNames: ['tenant', 'stage', 'state'],
      registers,
    });
    this.#outbox = new Gauge({
      name: 'steward_notifications',
      help: 'Pending notifications in the outbox: pending (all not yet delivered or failed), due (waiting for an attempt now).',
      labelNames: ['state'],
      registers,
    });
    this.#outboxOldest = new Gauge({
      name: 'steward_notification_oldest_pending_seconds',
      help: 'Age of the oldest pending notification (0 when none is).',
      registers,
    });
    this.#attempts = new Counter({
      name: 'steward_notification_attempts_total',
      help: 'Delivery attempts by channel and how each ended for its notification: delivered, retried (or failed over), failed.',
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.#restarts = new Counter({
      name: 'steward_stage_process_restarts_total',
      help: "Restarts of a stage's processes by the supervisor (after an exit, a failed health probe or an OOM kill).",
      labelNames: ['tenant', 'stage'],
      registers,
    });
    this.#alerts = new Gauge({
      name: 'steward_alerts',
      help: 'Open alerts (pending, firing, acknowledged) by severity and status; muted: a silence, a maintenance window or an inhibiting alert keeps people from being told.',
      labelNames: ['severity', 'status', 'muted'],
      registers,
    });
    this.#loopProgress = new Gauge({
      name: 'steward_loop_last_progress_timestamp_seconds',
      help: "When each of Steward's loops (checks, jobs, notifications) last made progress (a pass, a probe, a job, a delivery attempt); the watchdog alerts on a stall.",
      labelNames: ['loop'],
      registers,
    });
    this.#dbUp = new Gauge({
      name: 'steward_control_database_up',
      help: 'Whether the scrape could read the control database (1) or not (0; its gauges are then absent).',
      registers,
    });
    this.#leaseHeld = new Gauge({
      name: 'steward_lease_held',
      help: "Whether this node holds a lease (1) and runs its singleton work (the operations loop: checks, alerts, on-call…); over all nodes exactly one should, at most a lease's ttl without one.",
      labelNames: ['lease'],
      registers,
    });
  }

  /** The elector's: this node began (true) or ended (false) a term of `lease`. */
  leaseHeld(lease: string, held: boolean): void {
    this.#leaseHeld.set({ lease }, held ? 1 : 0);
  }

  // The runners' observers (each says which loop it is): they only count, and never throw.

  readonly jobs: JobObserver = {
    jobFinished: (kind, outcome, seconds) => {
      if (Number.isFinite(seconds)) this.#jobDuration.observe({ kind, outcome }, seconds);
      this.#progressed('jobs');
    },
    idle: () => this.#progressed('jobs'),
  };

  readonly checks: CheckObserver = {
    probed: (kind, latencySeconds, latenessSeconds) => {
      // prom-client throws on NaN; an observer must not.
      if (Number.isFinite(latencySeconds)) this.#probeDuration.observe({ kind }, latencySeconds);
      if (Number.isFinite(latenessSeconds)) this.#probeLateness.observe({ kind }, latenessSeconds);
      this.#progressed('checks');
    },
    passed: () => this.#progressed('checks'),
  };

  readonly notifications: DeliveryObserver = {
    attempted: (channel, outcome) => {
      this.#attempts.inc({ channel, outcome });
      this.#progressed('notifications');
    },
    passed: () => this.#progressed('notifications'),
  };

  /** The supervisor's events: a restart is counted under the stage its process key names (tenant/stage/…). */
  processEvent(event: SupervisorEvent): void {
    if (event.kind !== 'restarting') return;
    const [tenant, stage] = event.key.split('/');
    if (tenant && stage) this.#restarts.inc({ tenant, stage });
  }

  #progressed(loop: WatchedLoop): void {
    const now = this.#o.clock.now().getTime();
    this.#lastProgress.set(loop, now);
    this.#loopProgress.set({ loop }, now / 1000);
  }

  /** When a loop last made progress, or (never yet) when this process began counting: epoch ms. */
  lastProgress(loop: WatchedLoop): number {
    return this.#lastProgress.get(loop) ?? this.startedAt;
  }

  /** The exposition text; concurrent scrapes share one read of the control DB. */
  async render(): Promise<string> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    await this.#refreshing;
    return this.registry.metrics();
  }

  async #refresh(): Promise<void> {
    const { db, clock } = this.#o;
    if (!db) return;
    let backlog: Backlog;
    let states: Awaited<ReturnType<typeof readCheckStates>>;
    try {
      [backlog, states] = await Promise.all([readBacklog(db, clock.now()), readCheckStates(db)]);
    } catch {
      // The exposition still serves the process's own counters (the gateway's among them).
      this.#resetDatabaseGauges();
      this.#dbUp.set(0);
      return;
    }
    // Rebuilt whole: a removed stage's or job kind's series go with it.
    this.#resetDatabaseGauges();
    this.#dbUp.set(1);
    for (const kind of backlog.jobs) {
      this.#jobs.set({ kind: kind.kind, state: 'running' }, kind.running);
      this.#jobs.set({ kind: kind.kind, state: 'waiting' }, kind.waiting);
      this.#jobs.set({ kind: kind.kind, state: 'scheduled' }, kind.scheduled);
      this.#jobOldest.set({ kind: kind.kind }, kind.oldestWaitingSeconds ?? 0);
    }
    this.#checksDue.set(backlog.checks.due);
    this.#checksOverdue.set(backlog.checks.mostOverdueSeconds);
    this.#outbox.set({ state: 'pending' }, backlog.outbox.pending);
    this.#outbox.set({ state: 'due' }, backlog.outbox.due);
    this.#outboxOldest.set(backlog.outbox.oldestPendingSeconds ?? 0);
    for (const a of backlog.alerts)
      this.#alerts.set({ severity: a.severity, status: a.status, muted: String(a.muted) }, a.count);
    const perStage = new Map<string, { tenant: string; stage: string; counts: Map<CheckState, number> }>();
    for (const check of states) {
      this.#checkState.set(
        {
          tenant: check.tenant,
          stage: check.stage,
          check: check.builtin ?? `http-${check.checkId}`,
          kind: check.kind,
        },
        checkStateValues[check.state],
      );
      const key = `${check.tenant}/${check.stage}`;
      let entry = perStage.get(key);
      if (!entry) {
        entry = {
          tenant: check.tenant,
          stage: check.stage,
          counts: new Map<CheckState, number>([
            ['up', 0],
            ['degraded', 0],
            ['down', 0],
            ['unknown', 0],
          ]),
        };
        perStage.set(key, entry);
      }
      entry.counts.set(check.state, (entry.counts.get(check.state) ?? 0) + 1);
    }
    for (const { tenant, stage, counts } of perStage.values())
      for (const [state, n] of counts) this.#stageChecks.set({ tenant, stage, state }, n);
  }

  #resetDatabaseGauges(): void {
    for (const gauge of [
      this.#jobs,
      this.#jobOldest,
      this.#checksDue,
      this.#checksOverdue,
      this.#checkState,
      this.#stageChecks,
      this.#outbox,
      this.#outboxOldest,
      this.#alerts,
    ])
      gauge.reset();
  }
}
