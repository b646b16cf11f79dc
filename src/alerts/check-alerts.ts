import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { describeTarget } from '../monitoring/specs.ts';
import type { StateChange } from '../monitoring/states.ts';
import type { CheckState } from '../monitoring/index.ts';
import type { StoredCheck } from '../monitoring/store.ts';
import type { ControlDb } from '../store/db.ts';
import { evaluate, type AlertRule, type CheckSituation, type FlapSettings, type RuleStep } from './rules.ts';
import { findOpen, groupKeyOf, openAlerts, updateAlert, type NewAlert, type StoredAlert } from './store.ts';

/** What alerts read of checks: every live check with where it stands, and one check's intervals. */
export interface CheckReader {
  list(): Promise<StoredCheck[]>;
  states(checkId: string, from?: Date): Promise<{ state: CheckState; startedAt: string }[]>;
}

/** What the check alerts need of the alert service: opening and closing go through it (they tell people). */
export interface AlertOpener {
  open(alert: Omit<NewAlert, 'now'>): Promise<StoredAlert>;
  close(id: string, note: string): Promise<unknown>;
}

export interface CheckAlertsOptions {
  readonly db: ControlDb;
  readonly checks: CheckReader;
  readonly alerts: AlertOpener;
  readonly rules: readonly AlertRule[];
  readonly flap: FlapSettings;
  readonly clock: Clock;
  readonly logger: Logger;
}

export const checkDedupKey = (checkId: string): string => `check:${checkId}`;

/**
 * Alerts from check states: each change the runner records is evaluated at
 * once (changed()), and sync() looks at every check now and then, so that a
 * change lost to a crash, a removed check or a changed rule still converges.
 */
export class CheckAlerts {
  readonly #o: CheckAlertsOptions;

  constructor(options: CheckAlertsOptions) {
    this.#o = options;
  }

  get rules(): readonly AlertRule[] {
    return this.#o.rules;
  }

  /** The runner's hook: a check changed state. */
  async changed(check: StoredCheck, changes: readonly StateChange[]): Promise<void> {
    const last = changes.at(-1);
    if (!last) return;
    const open = await findOpen(this.#o.db, 'check', checkDedupKey(check.id));
    const seen =
      last.cause.kind === 'probes' ? (last.cause.results.at(-1)?.detail ?? null) : last.cause.reason;
    const situation = await this.#situation(check, { state: last.to, since: last.at, seen }, true);
    await this.#apply(check, situation, evaluate(this.#o.rules, situation, open, this.#o.flap));
  }

  /** Every live check against its open alert; alerts of checks that are gone resolve. */
  async sync(): Promise<number> {
    const checks = await this.#o.checks.list();
    const open = new Map(
      (await openAlerts(this.#o.db)).filter((a) => a.source === 'check').map((a) => [a.dedupKey, a]),
    );
    let steps = 0;
    for (const check of checks) {
      const alert = open.get(checkDedupKey(check.id));
      open.delete(checkDedupKey(check.id));
      const where = {
        state: check.progress.state,
        since: check.progress.since,
        seen: check.progress.recent.at(-1)?.detail ?? null,
      };
      // Most checks are up with no alert: their flapping count is only read when something would change.
      let situation = await this.#situation(check, where, false);
      let planned = evaluate(this.#o.rules, situation, alert, this.#o.flap);
      if (planned.length === 0) continue;
      situation = await this.#situation(check, where, true);
      planned = evaluate(this.#o.rules, situation, alert, this.#o.flap);
      await this.#apply(check, situation, planned);
      steps += planned.length;
    }
    for (const alert of open.values()) {
      await this.#o.alerts.close(alert.id, 'the check was removed');
      steps++;
    }
    return steps;
  }

  async #situation(
    check: StoredCheck,
    where: { state: CheckState; since: string; seen: string | null },
    countChanges: boolean,
  ): Promise<CheckSituation> {
    let recentChanges = 0;
    if (countChanges) {
      const from = new Date(this.#o.clock.now().getTime() - this.#o.flap.windowSeconds * 1000);
      const states = await this.#o.checks.states(check.id, from);
      // Changes between known states: leaving unknown (a restart, a late probe) is no flap.
      recentChanges = states.filter(
        (s, i) =>
          i > 0 &&
          s.state !== 'unknown' &&
          states[i - 1]?.state !== 'unknown' &&
          Date.parse(s.startedAt) >= from.getTime(),
      ).length;
    }
    return {
      id: check.id,
      tenant: check.tenant,
      stage: check.stage,
      kind: check.kind,
      builtin: check.builtin,
      target: describeTarget(check.spec),
      ...where,
      recentChanges,
    };
  }

  async #apply(check: StoredCheck, situation: CheckSituation, steps: readonly RuleStep[]): Promise<void> {
    const { db } = this.#o;
    for (const step of steps) {
      switch (step.kind) {
        case 'open':
          await this.#o.alerts.open({
            rule: step.rule.name,
            source: 'check',
            dedupKey: checkDedupKey(check.id),
            groupKey: groupKeyOf(check.tenant, check.stage),
            tenant: check.tenant,
            stage: check.stage,
            checkId: check.id,
            severity: step.severity,
            status: step.status,
            summary: step.summary,
            details: {
              check: { id: check.id, kind: check.kind, builtin: check.builtin, target: situation.target },
              state: situation.state,
              seen: situation.seen,
            },
            inhibits: step.rule.inhibits,
            healAction: step.heal,
            flapping: step.flapping,
            fireAt: step.fireAt === null ? null : new Date(step.fireAt),
          });
          break;
        case 'hold':
          await updateAlert(db, step.id, { resolve_at: null });
          break;
        case 'mark-flapping':
          await updateAlert(db, step.id, { flapping: true });
          this.#o.logger.info(
            { alert: step.id, check: check.id },
            'check flapping: one alert, marked flapping',
          );
          break;
        case 'resolve-at':
          await updateAlert(db, step.id, { resolve_at: step.at });
          break;
        case 'resolve':
          await this.#o.alerts.close(step.id, step.note);
          break;
      }
    }
  }
}
