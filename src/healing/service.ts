import type { Logger } from 'pino';
import type { AlertView, HealAction, Healer } from '../alerts/contract.ts';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { actorName, systemPrincipal } from '../core/policy.ts';
import type { ControlDb } from '../store/db.ts';
import type { HealDrivers } from './drivers.ts';
import {
  healTarget,
  planHeal,
  skipWorthRecording,
  targetKey,
  type HealLimits,
  type HealTarget,
  type SkipOutcome,
} from './plan.ts';
import { HealAttemptStore, type AttemptFilter, type HealAttemptView } from './store.ts';
import type { Page, PageRequest } from '../store/keyset.ts';

export interface HealingServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly limits: HealLimits;
  readonly drivers: HealDrivers;
  /**
   * Why not to act on a target now, when something else acts on it on
   * purpose (a failover drill killed an ha member): recorded as a skip,
   * which neither counts against the rate limit nor starts a cool-down.
   */
  readonly held?: (action: HealAction, target: HealTarget) => Promise<string | undefined>;
}

/** Config `healing.*` as the planner takes it. */
export function healLimits(settings: {
  readonly enabled: boolean;
  readonly maxAttempts: number;
  readonly windowMinutes: number;
  readonly coolDownSeconds: number;
  readonly attemptTimeoutSeconds: number;
}): HealLimits {
  return {
    enabled: settings.enabled,
    maxAttempts: settings.maxAttempts,
    windowMs: settings.windowMinutes * 60_000,
    coolDownMs: settings.coolDownSeconds * 1000,
    attemptTimeoutMs: settings.attemptTimeoutSeconds * 1000,
  };
}

/**
 * Self-healing (issue 10 part 6): the Healer the alert service calls while a
 * rule with a heal action is pending or firing. Each call decides (planHeal,
 * under a lock per action and target, so two alerts on one stage cannot both
 * act), records the attempt and its audit event in one transaction, then
 * acts in the background: the alert service's pass does not wait for a
 * restart. The outcome is written to the same record when the action ends.
 */
export class HealingService implements Healer {
  readonly #o: HealingServiceOptions;
  readonly #store: HealAttemptStore;
  readonly #inFlight = new Set<Promise<void>>();
  /**
   * Attempts still `running` that started before this process did were cut
   * short: healing runs in the one process that supervises the stages.
   */
  readonly #since: number;
  #stopped = false;

  constructor(options: HealingServiceOptions) {
    this.#o = options;
    this.#store = new HealAttemptStore(options.db);
    this.#since = options.clock.now().getTime();
  }

  /**
   * Ends the attempts a stopped or killed Steward left running: recorded
   * interrupted (and audited), so that the evidence never shows an attempt
   * as still under way. Runs where the alert service runs.
   */
  async start(): Promise<void> {
    await this.interruptBefore(new Date(this.#since));
  }

  /**
   * Ends the attempts still recorded running that began before `before`:
   * with several nodes, the time this node took over the alert pass (the
   * node that ran them is gone).
   */
  async interruptBefore(before: Date): Promise<void> {
    const now = this.#o.clock.now();
    await this.#o.db.transaction().execute(async (tx) => {
      for (const attempt of await this.#store.interruptAll(tx, before, now)) {
        await this.#o.audit.record(tx, {
          actor: actorName(systemPrincipal),
          action: `heal.${attempt.action}`,
          target: auditTarget(
            attempt.tenant && attempt.stage
              ? { tenant: attempt.tenant, stage: attempt.stage, process: attempt.process }
              : null,
          ),
          tenant: attempt.tenant,
          outcome: 'failure',
          details: {
            alert: attempt.alertId,
            attempt: attempt.id,
            phase: 'interrupted',
            detail: attempt.detail,
          },
        });
      }
    });
  }

  async heal(alert: AlertView, action: HealAction): Promise<void> {
    if (this.#stopped) return;
    const now = this.#o.clock.now();
    const resolved = healTarget(alert, action);
    const target = 'target' in resolved ? resolved.target : null;
    const key = target ? targetKey(target) : '-';
    const { limits } = this.#o;
    const held = target ? await this.#o.held?.(action, target) : undefined;
    const started = await this.#o.db.transaction().execute(async (tx) => {
      await this.#store.lock(tx, action, key);
      const skip = async (outcome: SkipOutcome, detail: string): Promise<void> => {
        if (!skipWorthRecording({ outcome }, await this.#store.newestOf(tx, alert.id, action))) return;
        await this.#store.insert(tx, { alertId: alert.id, action, target, key, at: now, outcome, detail });
        await this.#o.audit.record(tx, {
          actor: actorName(systemPrincipal),
          action: `heal.${action}`,
          target: auditTarget(target),
          tenant: alert.tenant,
          outcome: 'denied',
          details: { alert: alert.id, outcome, detail },
        });
      };
      if (!target) {
        await skip('skipped-no-target', 'problem' in resolved ? resolved.problem : 'no target');
        return undefined;
      }
      if (held) {
        await skip('skipped-in-progress', held);
        return undefined;
      }
      await this.#store.interruptStale(
        tx,
        action,
        key,
        new Date(Math.max(this.#since, now.getTime() - limits.attemptTimeoutMs)),
        now,
      );
      const lookBack = Math.max(limits.windowMs, limits.coolDownMs, limits.attemptTimeoutMs);
      const history = await this.#store.history(tx, action, key, new Date(now.getTime() - lookBack));
      const decision = planHeal({ action, target: key, history, now, limits });
      if (decision.kind === 'skip') {
        // An attempt in flight will write its own outcome: nothing new to say.
        if (decision.outcome !== 'skipped-in-progress') await skip(decision.outcome, decision.detail);
        return undefined;
      }
      const attempt = await this.#store.insert(tx, {
        alertId: alert.id,
        action,
        target,
        key,
        at: now,
        outcome: 'running',
        detail: `for alert ${alert.id}: ${alert.summary}`,
      });
      await this.#o.audit.record(tx, {
        actor: actorName(systemPrincipal),
        action: `heal.${action}`,
        target: auditTarget(target),
        tenant: target.tenant,
        details: { alert: alert.id, attempt: attempt.id, phase: 'started' },
      });
      return attempt;
    });
    if (!started || !target) return;
    const work = this.#carryOut(started, target).finally(() => this.#inFlight.delete(work));
    this.#inFlight.add(work);
  }

  async #carryOut(attempt: HealAttemptView, target: HealTarget): Promise<void> {
    const log = this.#o.logger.child({ tenant: target.tenant, stage: target.stage, attempt: attempt.id });
    const timeoutMs = this.#o.limits.attemptTimeoutMs;
    log.info({ action: attempt.action, alert: attempt.alertId }, 'self-healing: acting');
    let outcome: 'succeeded' | 'failed';
    let detail: string;
    let timer: NodeJS.Timeout | undefined;
    try {
      detail = await Promise.race([
        this.#o.drivers[attempt.action](target, timeoutMs),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`not done within ${timeoutMs / 1000} s (healing.attemptTimeoutSeconds)`)),
            timeoutMs,
          );
        }),
      ]);
      outcome = 'succeeded';
    } catch (error) {
      outcome = 'failed';
      detail = error instanceof Error ? error.message : String(error);
    } finally {
      clearTimeout(timer);
    }
    try {
      await this.#o.db.transaction().execute(async (tx) => {
        const finished = await this.#store.finish(tx, attempt.id, outcome, detail, this.#o.clock.now());
        if (!finished) return;
        await this.#o.audit.record(tx, {
          actor: actorName(systemPrincipal),
          action: `heal.${attempt.action}`,
          target: auditTarget(target),
          tenant: target.tenant,
          outcome: outcome === 'succeeded' ? 'success' : 'failure',
          details: { alert: attempt.alertId, attempt: attempt.id, phase: 'finished', detail },
        });
      });
      log.info({ action: attempt.action, outcome, detail }, 'self-healing: done');
    } catch (error) {
      log.error({ err: (error as Error).message }, 'self-healing: could not record the outcome');
    }
  }

  /** The attempts made for an alert, oldest first: `steward alert show` lists them. */
  attemptsFor(alertId: string): Promise<HealAttemptView[]> {
    return this.#store.forAlert(alertId);
  }

  /** Attempts, newest first: of one tenant, of one alert, or all. */
  list(
    filter: { tenant?: string | undefined; alert?: string | undefined; limit?: number } = {},
  ): Promise<HealAttemptView[]> {
    return this.#store.list({ tenant: filter.tenant, alert: filter.alert, limit: filter.limit ?? 100 });
  }

  /** One page of attempts, newest first by default. */
  listPage(filter: AttemptFilter, page: PageRequest<'id'>): Promise<Page<HealAttemptView>> {
    return this.#store.page(filter, page);
  }

  /** Waits for the attempts in flight. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  /** No new attempts; waits for those in flight (each ends within its timeout). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.settled();
  }
}

function auditTarget(target: HealTarget | null): string {
  if (!target) return 'healing';
  return `tenant/${target.tenant}/stage/${target.stage}${target.process ? `/process/${target.process}` : ''}`;
}
