import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AlertsApi, AlertView, Pager } from '../alerts/contract.ts';
import type { Clock } from '../core/clock.ts';
import { NotFoundError } from '../core/errors.ts';
import type { EnqueueRequest, NotificationService } from '../notifications/index.ts';
import type { Queryable, ControlDb } from '../store/db.ts';
import { describeStep, planEscalation, type Page, type Policy } from './escalation.ts';
import { mayAct, type LinkKeeper } from './links.ts';
import { pageBody, pageSubject } from './page-text.ts';
import { whoIsOnCall } from './schedule.ts';
import {
  claimDueEscalation,
  insertPage,
  listOperators,
  listPolicies,
  listSchedules,
  overridesOf,
  pagedSteps,
  pagesOf,
  setNext,
  startEscalation,
  stopEscalation,
  type Escalation,
  type OperatorRef,
} from './store.ts';
import { logPassFailure } from '../core/logger.ts';

/**
 * On-call's Pager: an alert that fires is escalated by the `default` policy,
 * step after step until it is acknowledged or resolved. Without a `default`
 * policy the alert service's default pager tells every channel, as before
 * on-call was set up; either way the alert is recorded for the reaction
 * report. pass() is the whole loop; the timer only
 * calls it. Each step's pages are enqueued in one transaction with the rows
 * that record them, under keys naming alert, round, step and recipient: a
 * kill -9 between passes neither loses a page (the step is still due) nor
 * sends one twice (the outbox ignores a repeated key).
 */
export interface OnCallPagerOptions {
  readonly db: ControlDb;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly notifications: NotificationService;
  readonly links: LinkKeeper;
  readonly alerts: () => AlertsApi | undefined;
  /** The alert service's default pager: alerts without a policy, and acknowledgements and resolutions for the channels. */
  readonly fallback: Pager | undefined;
  readonly everyMs: number;
}

/** Without a `default` policy and a fallback pager, an alert is told to every enabled channel, once. */
export const builtinPolicy: Policy = {
  name: 'builtin',
  steps: [{ afterSeconds: 0, target: { kind: 'channels' } }],
  repeat: 0,
};
const noPolicy = 'no escalation policy named default: the default pager told every channel';

/** Escalations handled in one pass at most; the rest wait for the next. */
const perPass = 200;
/** An alert the alert service cannot show yet (its transaction still open) is asked again this soon. */
const retryMs = 2000;
/** An escalation whose step failed (the database, the outbox refusing a page) is tried again this much later. */
const failedRetryMs = 30_000;

interface Recipient {
  /** What oncall_pages records: operator:<name>, channel:<name> or channels. */
  readonly label: string;
  readonly request: Omit<EnqueueRequest, 'key' | 'kind' | 'subject'>;
}

export class OnCallPager implements Pager {
  readonly #o: OnCallPagerOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: OnCallPagerOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#timer || this.#stopping) return;
    this.#timer = setInterval(() => {
      void this.pass().catch((error: unknown) =>
        logPassFailure(this.#o.logger, error, 'escalation pass failed', {}, 'error'),
      );
    }, this.#o.everyMs);
    this.#timer.unref();
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      await this.#running?.catch(() => undefined);
    })();
    return this.#stopping;
  }

  async #policy(): Promise<Policy | undefined> {
    const policy = (await listPolicies(this.#o.db)).find((p) => p.name === 'default');
    return policy ?? (this.#o.fallback ? undefined : builtinPolicy);
  }

  async #start(alert: AlertView, policy: Policy | undefined): Promise<void> {
    const now = this.#o.clock.now();
    const firedAt = alert.firedAt ? new Date(alert.firedAt) : now;
    // One transaction: a pass must never see (and page) an escalation that is stopped at once.
    await this.#o.db.transaction().execute(async (tx) => {
      await startEscalation(tx, { alertId: alert.id, firedAt, policy: policy ?? builtinPolicy }, now);
      if (!policy) await stopEscalation(tx, alert.id, noPolicy);
    });
  }

  async fired(alert: AlertView): Promise<void> {
    const policy = await this.#policy();
    if (!policy) await this.#o.fallback?.fired(alert);
    await this.#start(alert, policy);
    // The first step now, not at the next tick: the alert as the alert service gave it.
    if (policy) await this.pass(alert);
  }

  /** Without a policy the channels hear of the group in one message, as from the default pager; with one, each alert escalates. */
  async firedGroup(alerts: readonly AlertView[]): Promise<void> {
    const policy = await this.#policy();
    const fallback = this.#o.fallback;
    if (!policy && fallback?.firedGroup) {
      await fallback.firedGroup(alerts);
      for (const alert of alerts) await this.#start(alert, undefined);
      return;
    }
    for (const alert of alerts) await this.fired(alert);
  }

  async acknowledged(alert: AlertView): Promise<void> {
    const by = `acknowledged by ${alert.acknowledgedBy ?? 'someone'}`;
    await stopEscalation(this.#o.db, alert.id, by);
    await this.#tellPaged(alert, 'acknowledged', by);
    if (await this.#anyChannel()) await this.#o.fallback?.acknowledged(alert);
  }

  async resolved(alert: AlertView): Promise<void> {
    const by = `resolved by ${alert.resolvedBy ?? 'its resolve condition'}`;
    await stopEscalation(this.#o.db, alert.id, by);
    await this.#tellPaged(alert, 'resolved', by);
    if (await this.#anyChannel()) await this.#o.fallback?.resolved(alert);
  }

  /**
   * Acknowledgements and resolutions go to the channels only when there are
   * some: with none, the default pager's notification would fail and raise
   * an alert of its own (paging someone) about news nobody is waiting for.
   */
  async #anyChannel(): Promise<boolean> {
    return (await this.#o.notifications.listChannels()).some((c) => c.enabled);
  }

  /** The people who were paged hear that it is taken (or over), at their own address: the channels hear it from the default pager. */
  async #tellPaged(alert: AlertView, event: 'acknowledged' | 'resolved', by: string): Promise<void> {
    const paged = new Set(
      (await pagesOf(this.#o.db, alert.id))
        .map((p) => p.recipient)
        .filter((r) => r.startsWith('operator:'))
        .map((r) => r.slice('operator:'.length)),
    );
    if (paged.size === 0) return;
    for (const operator of await listOperators(this.#o.db)) {
      if (!paged.has(operator.username) || !operator.email) continue;
      const digest = createHash('sha256').update(`operator:${operator.username}`).digest('hex').slice(0, 16);
      await this.#o.notifications.enqueue({
        key: `alert:${alert.id}:${event}:to:${digest}`,
        kind: 'page',
        subject: `[${alert.severity}] Alert ${alert.id} ${by}: ${alert.summary}`,
        body: `Alert ${alert.id} (${alert.summary}) was ${by}${alert.resolveNote ? `: ${alert.resolveNote}` : ''}. Escalation has stopped; nobody else will be paged for it.`,
        email: operator.email,
      });
    }
  }

  /** One pass over the due escalations (or only `alert`'s); returns how many pages it enqueued. */
  pass(alert?: AlertView): Promise<number> {
    if (this.#running) {
      const after = this.#running.catch(() => 0);
      return alert === undefined ? after : after.then(() => this.pass(alert));
    }
    this.#running = this.#pass(alert).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(only: AlertView | undefined): Promise<number> {
    let paged = 0;
    for (let i = 0; i < (only ? 1 : perPass); i++) {
      let claimed: string | undefined;
      let outcome: number | undefined;
      try {
        outcome = await this.#o.db.transaction().execute(async (tx) => {
          const escalation = await claimDueEscalation(tx, this.#o.clock.now(), only?.id);
          if (!escalation) return undefined;
          claimed = escalation.alertId;
          return this.#escalate(tx, escalation, only);
        });
      } catch (error) {
        // The alert service retries its own call; on the timer, one failing alert must not hold up the others.
        if (only || claimed === undefined) throw error;
        this.#o.logger.error(
          { alert: claimed, err: (error as Error).message },
          'escalation step failed; will retry',
        );
        await setNext(this.#o.db, claimed, new Date(this.#o.clock.now().getTime() + failedRetryMs));
        continue;
      }
      if (outcome === undefined) break;
      paged += outcome;
    }
    return paged;
  }

  async #escalate(tx: Queryable, escalation: Escalation, given: AlertView | undefined): Promise<number> {
    const now = this.#o.clock.now();
    const alert = given ?? (await this.#alert(escalation.alertId));
    if (!alert) {
      await setNext(tx, escalation.alertId, new Date(now.getTime() + retryMs));
      return 0;
    }
    const plan = planEscalation(
      escalation.policy,
      { firedAt: escalation.firedAt, status: alert.status, sent: await pagedSteps(tx, alert.id) },
      now,
    );
    if (plan.kind === 'done') {
      await stopEscalation(tx, alert.id, plan.reason);
      return 0;
    }
    if (plan.kind === 'wait') {
      await setNext(tx, alert.id, plan.nextAt);
      return 0;
    }
    let paged = 0;
    for (const page of plan.due) paged += await this.#page(tx, alert, escalation.policy, page);
    if (plan.nextAt) await setNext(tx, alert.id, plan.nextAt);
    else await stopEscalation(tx, alert.id, 'every step of the policy was paged');
    return paged;
  }

  async #alert(id: string): Promise<AlertView | undefined> {
    const alerts = this.#o.alerts();
    if (!alerts) return undefined;
    try {
      return await alerts.get(id);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** Enqueues one step's pages, each with the row that records it. */
  async #page(tx: Queryable, alert: AlertView, policy: Policy, page: Page): Promise<number> {
    const now = this.#o.clock.now();
    const step = policy.steps[page.step];
    const why = `Paged by step ${page.step + 1} of ${policy.steps.length} ("${step ? describeStep(step) : '?'}") of escalation policy ${policy.name}${page.round > 0 ? `, round ${page.round + 1}` : ''}`;
    const recipients = await this.#recipients(tx, page, alert, why);
    for (const r of recipients) {
      const digest = createHash('sha256').update(r.label).digest('hex').slice(0, 16);
      const row = await this.#o.notifications.enqueue(
        {
          ...r.request,
          // `alert:<id>:` first: the alert service takes the first delivery of such a key as firstNotifiedAt.
          key: `alert:${alert.id}:page:${page.round}.${page.step}:${digest}`,
          kind: 'page',
          subject: pageSubject(alert, page.round),
        },
        tx,
      );
      await insertPage(tx, {
        alertId: alert.id,
        round: page.round,
        step: page.step,
        recipient: r.label,
        notificationId: row.id,
        at: now,
      });
    }
    this.#o.logger.info(
      { alert: alert.id, round: page.round, step: page.step, recipients: recipients.map((r) => r.label) },
      'paged',
    );
    return recipients.length;
  }

  async #recipients(tx: Queryable, page: Page, alert: AlertView, why: string): Promise<Recipient[]> {
    const operators = await listOperators(tx);
    const channels = (await this.#o.notifications.listChannels()).filter((c) => c.enabled);
    const everyone = (note: string): Recipient => ({
      label: 'channels',
      request: { body: pageBody({ alert, why: `${why}. ${note}`.trim(), links: undefined }) },
    });
    const person = async (username: string, reason: string): Promise<Recipient> => {
      const operator: OperatorRef | undefined = operators.find((o) => o.username === username);
      if (!operator?.email) {
        const missing = operator
          ? `${username} has no on-call contact (steward oncall contact set ${username} --email …), so every channel is told.`
          : `${username} is no longer an operator, so every channel is told.`;
        return { ...everyone(`${reason} ${missing}`), label: `operator:${username}` };
      }
      return {
        label: `operator:${username}`,
        request: {
          email: operator.email,
          // Their mailbox failing, the channels hear of it (failover), in their order.
          channels: channels.map((c) => c.name),
          body: pageBody({
            alert,
            why: `${why}. ${reason}`,
            // An auditor is told, but gets no links: they could not act on the alert.
            links: mayAct(operator.role) ? await this.#o.links.linksFor(alert.id, username) : undefined,
          }),
        },
      };
    };
    const target = page.target;
    switch (target.kind) {
      case 'schedule': {
        const schedule = (await listSchedules(tx)).find((s) => s.name === target.schedule);
        if (!schedule) return [everyone(`Schedule ${target.schedule} no longer exists.`)];
        const now = this.#o.clock.now();
        const onCall = whoIsOnCall(schedule, await overridesOf(tx, schedule.id, now), now);
        return [await person(onCall.member, `You are on call for ${schedule.name}.`)];
      }
      case 'operators':
        return Promise.all(target.operators.map((o) => person(o, 'The policy names you.')));
      case 'owners':
        return Promise.all(
          operators.filter((o) => o.role === 'owner').map((o) => person(o.username, 'You are an owner.')),
        );
      case 'channel': {
        if (!channels.some((c) => c.name === target.channel))
          return [everyone(`Channel ${target.channel} is gone or disabled.`)];
        return [
          {
            label: `channel:${target.channel}`,
            request: { channels: [target.channel], body: pageBody({ alert, why, links: undefined }) },
          },
        ];
      }
      case 'channels':
        return [everyone('')];
    }
  }
}
