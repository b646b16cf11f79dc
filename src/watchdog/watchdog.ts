import type { Logger } from 'pino';
import type { AlertsApi } from '../alerts/contract.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { readBacklog, watchedLoops, type StewardMetrics, type WatchedLoop } from '../metrics/index.ts';
import type { Queryable } from '../store/db.ts';
import {
  evaluate,
  watchdogConditions,
  type LoopMeasurement,
  type Measurement,
  type WatchdogCondition,
} from './evaluate.ts';
import { PassTimer } from '../core/pass-timer.ts';

export type WatchdogSettings = Config['watchdog'];

/** How often a loop runs a pass, and the longest one unit of its work may take (a probe's or a delivery's timeout). */
export interface LoopPace {
  readonly tickMs: number;
  readonly longestWorkMs: number;
}

export interface WatchdogOptions {
  readonly db: Queryable;
  /** Where the loops report their progress. */
  readonly metrics: StewardMetrics;
  readonly alerts: AlertsApi;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: WatchdogSettings;
  readonly loops: Readonly<Record<WatchedLoop, LoopPace>>;
}

/** What one pass found and did, for tests and logs. */
export interface WatchdogPassResult {
  readonly measurement: Measurement;
  readonly holding: readonly WatchdogCondition[];
  readonly cleared: readonly WatchdogCondition[];
}

/**
 * Steward watching itself (issue 10 part 9): each pass measures (the
 * backlog in the control DB, each loop's last progress in this process),
 * asks the pure evaluator, raises an alert (source `watchdog`, the
 * condition as its dedup key) for each condition that holds and clears
 * those that ended. pass() is the one pass; the timer only calls it.
 */
export class Watchdog {
  readonly #o: WatchdogOptions;
  #history: Measurement[] = [];
  /** Conditions this process may have left open; undefined until the first pass (a previous process may have). */
  #open: Set<WatchdogCondition> | undefined;
  readonly #loop: PassTimer<WatchdogPassResult>;

  constructor(options: WatchdogOptions) {
    this.#o = options;
    this.#loop = new PassTimer({
      pass: () => this.#pass(),
      everyMs: options.settings.everySeconds * 1000,
      logger: options.logger,
      what: 'watchdog pass',
    });
  }

  start(): void {
    this.#loop.start();
  }

  /** Waits for the pass in flight. Safe twice. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  pass(): Promise<WatchdogPassResult> {
    return this.#loop.run();
  }

  /** What the watchdog sees now. */
  async measure(): Promise<Measurement> {
    const { clock, metrics, settings } = this.#o;
    const now = clock.now();
    const backlog = await readBacklog(this.#o.db, now);
    // Ages count from this process's start: what piled up while Steward was stopped is not this Steward falling behind.
    const upSeconds = Math.max(0, now.getTime() - metrics.startedAt) / 1000;
    const sinceStart = (seconds: number | null): number | null =>
      seconds === null ? null : Math.min(seconds, upSeconds);
    const waiting = backlog.jobs.reduce((n, k) => n + k.waiting, 0);
    const running = backlog.jobs.reduce((n, k) => n + k.running, 0);
    const oldest = backlog.jobs.reduce<number | null>(
      (max, k) => (k.oldestWaitingSeconds === null ? max : Math.max(max ?? 0, k.oldestWaitingSeconds)),
      null,
    );
    const loops = watchedLoops.map((loop): LoopMeasurement => {
      const pace = this.#o.loops[loop];
      return {
        loop,
        idleSeconds: Math.max(0, now.getTime() - metrics.lastProgress(loop)) / 1000,
        stalledAfterSeconds: Math.max(settings.stalledTicks * pace.tickMs, 2 * pace.longestWorkMs) / 1000,
        // The check runner and the dispatcher pass every tick; the job runner only has work when jobs wait.
        hasWork: loop === 'jobs' ? waiting > 0 : true,
      };
    });
    return {
      loops,
      jobs: { waiting, running, oldestWaitingSeconds: sinceStart(oldest) },
      outbox: {
        pending: backlog.outbox.pending,
        oldestPendingSeconds: sinceStart(backlog.outbox.oldestPendingSeconds),
      },
      checks: {
        due: backlog.checks.due,
        mostOverdueSeconds: sinceStart(backlog.checks.mostOverdueSeconds) ?? 0,
      },
    };
  }

  async #pass(): Promise<WatchdogPassResult> {
    const { alerts, logger, settings } = this.#o;
    const measurement = await this.measure();
    this.#history = [...this.#history, measurement].slice(-(settings.growingMeasurements + 1));
    const findings = evaluate(this.#history, settings);
    const open = this.#open ?? new Set(watchdogConditions);
    const cleared: WatchdogCondition[] = [];
    for (const condition of watchdogConditions) {
      const finding = findings.find((f) => f.condition === condition);
      try {
        if (finding) {
          await alerts.raise({
            source: 'watchdog',
            dedupKey: condition,
            severity: finding.severity,
            summary: finding.summary,
            details: finding.details,
          });
          open.add(condition);
        } else if (open.has(condition)) {
          const done = await alerts.clear('watchdog', condition, `the watchdog no longer sees ${condition}`);
          open.delete(condition);
          if (done) cleared.push(condition);
        }
      } catch (error) {
        // The next pass tries again: raise and clear are idempotent.
        logger.error({ condition, err: (error as Error).message }, 'watchdog alert not raised or cleared');
      }
    }
    this.#open = open;
    if (findings.length > 0)
      logger.warn({ conditions: findings.map((f) => f.condition) }, 'watchdog: Steward is behind');
    return { measurement, holding: findings.map((f) => f.condition), cleared };
  }
}
