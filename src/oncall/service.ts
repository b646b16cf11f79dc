import type { Logger } from 'pino';
import type { AlertsApi, Pager } from '../alerts/contract.ts';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { ConflictError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import { checkEmailAddress } from '../notifications/channels.ts';
import type { NotificationService } from '../notifications/index.ts';
import type { SecretService } from '../secrets/service.ts';
import type { ControlDb } from '../store/db.ts';
import { checkPolicy, describeStep, type Policy } from './escalation.ts';
import { LinkKeeper } from './links.ts';
import { OnCallPager } from './pager.ts';
import { reactionReport, monthSpan, type AlertTimes, type ReactionReport } from './report.ts';
import {
  checkMember,
  checkNewOverride,
  checkNewSchedule,
  describeStartDay,
  formatHandoff,
  parseInstant,
  upcomingShifts,
  whoIsOnCall,
  type NewOverride,
  type NewSchedule,
  type OnCall,
  type Rotation,
} from './schedule.ts';
import {
  escalationsFired,
  findSchedule,
  insertOverride,
  insertSchedule,
  listOperators,
  listPolicies,
  listSchedules,
  overridesOf,
  pagesOf,
  setContact,
  upsertPolicy,
  type PageView,
  type StoredSchedule,
} from './store.ts';

/**
 * On-call: schedules, overrides, contacts and escalation policies (each
 * change audited), who is on call, the pager that escalates alerts, the
 * signed links in its emails, and the monthly reaction-time report.
 */
export interface OnCallServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly secrets: SecretService;
  readonly notifications: NotificationService;
  /** The alert service, once it exists (it is built after on-call and given this pager). */
  readonly alerts: () => AlertsApi | undefined;
  /** The alert service's default pager, for alerts without an escalation policy. */
  readonly fallbackPager?: Pager;
  readonly settings: Config['oncall'];
}

export interface OnCallView {
  readonly schedule: string;
  readonly member: string;
  readonly from: string;
  readonly until: string;
  readonly override: string | null;
}

export interface ScheduleView {
  readonly name: string;
  readonly rotation: Rotation;
  readonly timeZone: string;
  readonly handoff: string;
  readonly members: readonly string[];
  readonly startDay: string;
  readonly createdBy: string;
  readonly onCall: OnCallView;
}

export interface ScheduleDetail extends ScheduleView {
  readonly at: string;
  readonly upcoming: readonly OnCallView[];
  readonly overrides: readonly { id: string; member: string; from: string; until: string }[];
}

export interface PolicyView {
  readonly name: string;
  readonly steps: readonly string[];
  readonly repeat: number;
}

export interface ContactView {
  readonly username: string;
  readonly email: string | null;
}

function onCallView(schedule: string, c: OnCall): OnCallView {
  return {
    schedule,
    member: c.member,
    from: c.from.toISOString(),
    until: c.until.toISOString(),
    override: c.override,
  };
}

export function policyView(p: Policy): PolicyView {
  return { name: p.name, steps: p.steps.map(describeStep), repeat: p.repeat };
}

export class OnCallService {
  readonly #o: OnCallServiceOptions;
  readonly pager: OnCallPager;
  readonly links: LinkKeeper;
  #apiUrl: string | undefined;

  constructor(options: OnCallServiceOptions) {
    this.#o = options;
    this.links = new LinkKeeper({
      db: options.db,
      secrets: options.secrets,
      clock: options.clock,
      alerts: options.alerts,
      linkHours: options.settings.linkHours,
      baseUrl: () => options.settings.publicUrl ?? this.#apiUrl,
    });
    this.pager = new OnCallPager({
      db: options.db,
      clock: options.clock,
      logger: options.logger,
      notifications: options.notifications,
      links: this.links,
      alerts: options.alerts,
      fallback: options.fallbackPager,
      everyMs: options.settings.passSeconds * 1000,
    });
  }

  /** Links in page emails point here when config oncall.publicUrl is not set. */
  useApiUrl(url: string): void {
    this.#apiUrl = url;
  }

  /** The base URL of links that people follow to Steward (page emails, tenant admins' invitations). */
  publicUrl(): string | undefined {
    return this.#o.settings.publicUrl ?? this.#apiUrl;
  }

  start(): void {
    this.noteLinks();
    this.pager.start();
  }

  /** Says where page emails' links point when oncall.publicUrl is not set (where the escalation pass runs). */
  noteLinks(): void {
    if (!this.#o.settings.publicUrl) {
      this.#o.logger.info(
        'oncall.publicUrl is not set: the links in page emails point at the API address Steward listens on',
      );
    }
  }

  stop(): Promise<void> {
    return this.pager.stop();
  }

  async setContact(username: string, email: string, principal: Principal): Promise<ContactView> {
    const operators = await listOperators(this.#o.db);
    checkMember(
      username,
      operators.map((o) => o.username),
      'operator',
    );
    const address = checkEmailAddress(email, 'email');
    const operator = operators.find((o) => o.username === username);
    await this.#o.db.transaction().execute(async (tx) => {
      await setContact(tx, operator?.id ?? '', address, this.#o.clock.now());
      await this.#o.audit.record(tx, {
        actor: actorName(principal),
        action: 'oncall.contact.set',
        target: `operator/${username}`,
        address: principal.address,
      });
    });
    return { username, email: address };
  }

  async contacts(): Promise<ContactView[]> {
    return (await listOperators(this.#o.db)).map((o) => ({ username: o.username, email: o.email }));
  }

  async addSchedule(input: NewSchedule, principal: Principal): Promise<ScheduleView> {
    const operators = (await listOperators(this.#o.db)).map((o) => o.username);
    const now = this.#o.clock.now();
    const schedule = checkNewSchedule(input, operators, now);
    const stored = await this.#o.db.transaction().execute(async (tx) => {
      const added = await insertSchedule(tx, schedule, actorName(principal));
      if (!added) {
        throw new ConflictError(`field "name": a schedule named ${showValue(schedule.name)} exists`, {
          field: 'name',
        });
      }
      await this.#o.audit.record(tx, {
        actor: actorName(principal),
        action: 'oncall.schedule.add',
        target: `oncall-schedule/${schedule.name}`,
        address: principal.address,
        details: {
          rotation: schedule.rotation,
          timeZone: schedule.timeZone,
          handoff: formatHandoff(schedule.handoffMinute),
          members: schedule.members,
        },
      });
      return added;
    });
    return this.#view(stored, now);
  }

  async #view(s: StoredSchedule, at: Date): Promise<ScheduleView> {
    return {
      name: s.name,
      rotation: s.rotation,
      timeZone: s.timeZone,
      handoff: formatHandoff(s.handoffMinute),
      members: s.members,
      startDay: describeStartDay(s),
      createdBy: s.createdBy,
      onCall: onCallView(s.name, whoIsOnCall(s, await overridesOf(this.#o.db, s.id, at), at)),
    };
  }

  #at(at: string | undefined): Date {
    return at === undefined ? this.#o.clock.now() : parseInstant(at, 'at');
  }

  async listSchedules(): Promise<ScheduleView[]> {
    const now = this.#o.clock.now();
    return Promise.all((await listSchedules(this.#o.db)).map((s) => this.#view(s, now)));
  }

  async showSchedule(name: string, at?: string): Promise<ScheduleDetail> {
    const when = this.#at(at);
    const s = await findSchedule(this.#o.db, name, 'name');
    const overrides = await overridesOf(this.#o.db, s.id, when);
    return {
      ...(await this.#view(s, when)),
      at: when.toISOString(),
      upcoming: upcomingShifts(s, when, 6).map((c) => onCallView(s.name, c)),
      overrides: overrides.map((o) => ({
        id: o.id,
        member: o.member,
        from: o.from.toISOString(),
        until: o.until.toISOString(),
      })),
    };
  }

  async addOverride(name: string, input: NewOverride, principal: Principal): Promise<ScheduleDetail> {
    const s = await findSchedule(this.#o.db, name);
    const operators = (await listOperators(this.#o.db)).map((o) => o.username);
    const now = this.#o.clock.now();
    const checked = checkNewOverride(input, operators, now);
    await this.#o.db.transaction().execute(async (tx) => {
      const added = await insertOverride(tx, s.id, checked, actorName(principal), now);
      await this.#o.audit.record(tx, {
        actor: actorName(principal),
        action: 'oncall.override.add',
        target: `oncall-schedule/${s.name}`,
        address: principal.address,
        details: {
          override: added.id,
          member: added.member,
          from: added.from.toISOString(),
          until: added.until.toISOString(),
        },
      });
    });
    return this.showSchedule(
      name,
      checked.from.getTime() > now.getTime() ? checked.from.toISOString() : undefined,
    );
  }

  /** Who is on call now (or at `at`): for one schedule, or every one. */
  async who(name?: string, at?: string): Promise<OnCallView[]> {
    const when = this.#at(at);
    const schedules = name ? [await findSchedule(this.#o.db, name)] : await listSchedules(this.#o.db);
    return Promise.all(
      schedules.map(async (s) =>
        onCallView(s.name, whoIsOnCall(s, await overridesOf(this.#o.db, s.id, when), when)),
      ),
    );
  }

  async setPolicy(
    input: { name: string; steps: readonly string[]; repeat?: number | undefined },
    principal: Principal,
  ): Promise<PolicyView> {
    const policy = checkPolicy(input, {
      schedules: (await listSchedules(this.#o.db)).map((s) => s.name),
      operators: (await listOperators(this.#o.db)).map((o) => o.username),
      channels: (await this.#o.notifications.listChannels()).map((c) => c.name),
    });
    await this.#o.db.transaction().execute(async (tx) => {
      await upsertPolicy(tx, policy, actorName(principal), this.#o.clock.now());
      await this.#o.audit.record(tx, {
        actor: actorName(principal),
        action: 'oncall.escalation.set',
        target: `oncall-escalation/${policy.name}`,
        address: principal.address,
        details: { steps: policy.steps.map(describeStep), repeat: policy.repeat },
      });
    });
    return policyView(policy);
  }

  async listPolicies(): Promise<PolicyView[]> {
    return (await listPolicies(this.#o.db)).map(policyView);
  }

  /** What on-call paged for one alert, in order. */
  pages(alertId: string): Promise<PageView[]> {
    return pagesOf(this.#o.db, alertId);
  }

  /** Reaction times of the alerts that fired in a month (UTC), against the acknowledgement target. */
  async report(month: string): Promise<ReactionReport> {
    const { from, until } = monthSpan(month);
    const alerts = this.#o.alerts();
    const fired = await escalationsFired(this.#o.db, from, until);
    const times: AlertTimes[] = [];
    for (const f of fired) {
      const view = await alerts?.get(f.alertId).catch(() => undefined);
      const at = (s: string | null | undefined): Date | null => (s ? new Date(s) : null);
      times.push({
        id: f.alertId,
        firedAt: at(view?.firedAt) ?? f.firedAt,
        // The alert service's figure when it keeps one, else the first delivered page.
        firstNotifiedAt: at(view?.firstNotifiedAt) ?? f.firstDeliveredAt,
        acknowledgedAt: at(view?.acknowledgedAt),
        resolvedAt: at(view?.resolvedAt),
      });
    }
    return reactionReport(month, times, this.#o.settings.ackTargetMinutes * 60, this.#o.clock.now());
  }
}
