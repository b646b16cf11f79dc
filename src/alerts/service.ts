import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, systemPrincipal, type Principal } from '../core/policy.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import {
  alertSeverities,
  alertSources,
  alertStatuses,
  type AlertSource,
  type AlertStatus,
  type AlertsApi,
  type AlertView,
  type Healer,
  type Pager,
  type RaiseRequest,
} from './contract.ts';
import { CheckAlerts, type CheckReader } from './check-alerts.ts';
import { checkId, checkOneOf, checkText } from './input.ts';
import { mutedBy } from './mute.ts';
import { SilenceService } from './silences.ts';
import type { Page, PageRequest } from '../store/keyset.ts';
import { listMaintenanceWindows } from '../maintenance/store.ts';
import type { AlertRule } from './rules.ts';
import { alertIdsOfKey, maxGroupNotification } from './pager.ts';
import {
  alertPage,
  alertView,
  findAlert,
  findOpen,
  groupKeyOf,
  listAlerts,
  listSilences,
  markFirstNotified,
  openAlert,
  openAlerts,
  pruneAlerts,
  resolvedUntold,
  updateAlert,
  type AlertFilter,
  type AlertSort,
  type NewAlert,
  type StoredAlert,
} from './store.ts';
import { PassTimer } from '../core/pass-timer.ts';

export type AlertSettings = Config['alerts'];

export interface AlertServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: AlertSettings;
  /** Tells people; on-call replaces it (usePager). */
  readonly pager: Pager;
  /** The rules over checks (first match wins), and the checks they read; without checks, only raises. */
  readonly rules: readonly AlertRule[];
  readonly checks?: CheckReader;
  /** A tenant's stage names (NotFoundError for no such tenant): silences and maintenance windows name them. */
  readonly stagesOf: (tenant: string) => Promise<readonly string[]>;
}

export interface AlertListQuery {
  readonly open?: boolean | undefined;
  readonly status?: string | undefined;
  readonly tenant?: string | undefined;
  readonly stage?: string | undefined;
  readonly source?: string | undefined;
  readonly limit?: number | undefined;
}

/** What one pass did, for tests and logs. */
export interface AlertPassResult {
  readonly fired: number;
  readonly told: number;
}

const maxNoteChars = 2000;
/** How often every check is compared with its alert (changes are evaluated as they happen; this catches what a crash lost). */
const syncEveryMs = 30_000;
const pruneEveryMs = 3_600_000;

/**
 * The alert service: raises, clears, acknowledges and resolves alerts, and
 * tells the pager. Telling is level-triggered: each alert records when the
 * pager heard of each event, and pass() tells whatever is due and untold (so a
 * crash between a change and its notification tells it on the next pass; the
 * idempotency keys make a repeat a no-op). pass() is the one public pass; the
 * timer only calls it.
 */
export class AlertService implements AlertsApi {
  readonly #o: AlertServiceOptions;
  /** Alerts from check states; the check runner calls checkAlerts.changed for each change. */
  readonly checkAlerts: CheckAlerts | undefined;
  /** Silences (maintenance windows are src/maintenance/'s; they mute too). */
  readonly silences: SilenceService;
  #lastSync = 0;
  #lastPrune = 0;
  #pager: Pager;
  #healer: Healer | undefined;
  /** A change arrived while a pass ran: it may have read the state before it, so it runs once more. */
  #again = false;
  readonly #loop: PassTimer<AlertPassResult>;

  constructor(options: AlertServiceOptions) {
    this.#o = options;
    this.#loop = new PassTimer({
      pass: () => this.#pass(),
      everyMs: options.settings.passSeconds * 1000,
      logger: options.logger,
      what: 'alert pass',
    });
    this.#pager = options.pager;
    this.checkAlerts = options.checks
      ? new CheckAlerts({
          db: options.db,
          checks: options.checks,
          alerts: this,
          rules: options.rules,
          flap: {
            changes: options.settings.flapChanges,
            windowSeconds: options.settings.flapWindowMinutes * 60,
          },
          clock: options.clock,
          logger: options.logger,
        })
      : undefined;
    this.silences = new SilenceService({
      db: options.db,
      audit: options.audit,
      clock: options.clock,
      stagesOf: options.stagesOf,
      changed: () => this.#settle(),
    });
  }

  /** The rules over checks, in the order they are tried. */
  rules(): readonly AlertRule[] {
    return this.#o.rules;
  }

  /** On-call's schedules and escalation instead of telling every channel. */
  usePager(pager: Pager): void {
    this.#pager = pager;
  }

  /** Self-healing: called for alerts whose rule has a heal action, while pending or firing. */
  useHealer(healer: Healer | undefined): void {
    this.#healer = healer;
  }

  start(): void {
    this.#loop.start();
  }

  /** Waits for the pass in flight. Safe twice. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /**
   * One pass: pending alerts whose duration passed fire, every open alert's
   * mute is re-evaluated (silences end, inhibitors resolve), healers are
   * asked, and due events are told.
   */
  pass(): Promise<AlertPassResult> {
    return this.#loop.run();
  }

  async #pass(): Promise<AlertPassResult> {
    let fired = 0;
    let told = 0;
    do {
      this.#again = false;
      const once = await this.#passOnce();
      fired += once.fired;
      told += once.told;
    } while (this.#again && !this.#loop.stopping);
    return { fired, told };
  }

  async #passOnce(): Promise<AlertPassResult> {
    const now = this.#o.clock.now();
    let fired = 0;
    if (now.getTime() - this.#lastPrune >= pruneEveryMs) await this.prune();
    if (this.checkAlerts && now.getTime() - this.#lastSync >= syncEveryMs) {
      this.#lastSync = now.getTime();
      await this.checkAlerts.sync();
    }
    for (const alert of await openAlerts(this.#o.db)) {
      if (alert.resolveAt !== null && Date.parse(alert.resolveAt) <= now.getTime()) {
        await this.close(alert.id, `its resolve condition held until ${alert.resolveAt}`);
        continue;
      }
      if (alert.status === 'pending' && alert.fireAt !== null && Date.parse(alert.fireAt) <= now.getTime()) {
        const done = await updateAlert(
          this.#o.db,
          alert.id,
          { status: 'firing', fired_at: now },
          { status: ['pending'] },
        );
        if (done) fired++;
      }
    }
    await this.#remute(now);
    await this.#heal();
    const told = await this.#tell(now);
    return { fired, told };
  }

  /** Retention: resolved alerts and silences that ended more than alerts.retentionDays ago go (the pass does this hourly). */
  async prune(): Promise<{ alerts: number; silences: number }> {
    const now = this.#o.clock.now();
    this.#lastPrune = now.getTime();
    const cutoff = new Date(now.getTime() - this.#o.settings.retentionDays * 86_400_000);
    const pruned = await pruneAlerts(this.#o.db, cutoff);
    if (pruned.alerts + pruned.silences > 0)
      this.#o.logger.info({ ...pruned, before: cutoff.toISOString() }, 'alerts past retention pruned');
    return pruned;
  }

  /** Recomputes why each open alert is muted (or not) now. */
  async #remute(now: Date): Promise<void> {
    const db = this.#o.db;
    const context = await this.#muteContext(db, now);
    for (const alert of context.open) {
      const muted = mutedBy(alert, context);
      if (muted !== alert.mutedBy) await updateAlert(db, alert.id, { muted_by: muted });
    }
  }

  async #muteContext(db: Queryable, now: Date) {
    return {
      now,
      maintenance: await listMaintenanceWindows(db, { now }),
      silences: await listSilences(db, { now }),
      open: await openAlerts(db),
    };
  }

  async #heal(): Promise<void> {
    const healer = this.#healer;
    if (!healer) return;
    for (const alert of await openAlerts(this.#o.db)) {
      if (!alert.healAction || (alert.status !== 'pending' && alert.status !== 'firing')) continue;
      try {
        await healer.heal(alertView(alert), alert.healAction);
      } catch (error) {
        this.#o.logger.warn(
          { alert: alert.id, action: alert.healAction, err: (error as Error).message },
          'healing failed',
        );
      }
    }
  }

  /**
   * Tells the pager what is due: firing, unmuted alerts past the group wait
   * (a group's together), acknowledgements and resolutions of alerts people
   * were told about. Returns how many events were told.
   */
  async #tell(now: Date): Promise<number> {
    const db = this.#o.db;
    const waitMs = this.#o.settings.groupWaitSeconds * 1000;
    const open = await openAlerts(db);
    let told = 0;
    const groups = new Map<string, StoredAlert[]>();
    for (const a of open) {
      if (a.status !== 'firing' || a.toldFiredAt !== null || a.mutedBy !== null) continue;
      groups.set(a.groupKey, [...(groups.get(a.groupKey) ?? []), a]);
    }
    for (const members of groups.values()) {
      // The group waits for its newest member's wait: alerts arriving together go out together.
      const newest = Math.max(...members.map((a) => Date.parse(a.firedAt ?? a.startedAt)));
      if (newest + waitMs > now.getTime()) continue;
      for (let i = 0; i < members.length; i += maxGroupNotification) {
        const chunk = members.slice(i, i + maxGroupNotification);
        const ok = await this.#page(chunk.map((a) => a.id).join(','), async () => {
          const views = chunk.map(alertView);
          const pager = this.#pager;
          if (views.length > 1 && pager.firedGroup) await pager.firedGroup(views);
          else for (const view of views) await pager.fired(view);
        });
        if (!ok) continue;
        for (const a of chunk) await updateAlert(db, a.id, { told_fired_at: now });
        told += chunk.length;
      }
    }
    for (const a of open) {
      if (a.status !== 'acknowledged' || a.toldFiredAt === null || a.toldAcknowledgedAt !== null) continue;
      if (await this.#page(a.id, () => this.#pager.acknowledged(alertView(a)))) {
        await updateAlert(db, a.id, { told_acknowledged_at: now });
        told++;
      }
    }
    for (const a of await resolvedUntold(db, 100)) {
      if (await this.#page(a.id, () => this.#pager.resolved(alertView(a)))) {
        await updateAlert(db, a.id, { told_resolved_at: now });
        told++;
      }
    }
    return told;
  }

  /** A pager that fails is tried again next pass; nothing is marked told until it succeeded. */
  async #page(what: string, tell: () => Promise<void>): Promise<boolean> {
    try {
      await tell();
      return true;
    } catch (error) {
      this.#o.logger.error({ alert: what, err: (error as Error).message }, 'pager failed; will retry');
      return false;
    }
  }

  /** Maintenance windows changed: re-evaluates what open alerts are muted by, and tells what no longer is. */
  mutesChanged(): Promise<void> {
    return this.#settle();
  }

  /**
   * Mutes and tells what a change made due (with a group wait of 0, at once).
   * Never waits for a pass in flight: a pager or the outbox may raise from
   * inside one; that pass runs once more instead.
   */
  async #settle(): Promise<void> {
    if (this.#loop.busy) {
      this.#again = true;
      return;
    }
    await this.pass();
  }

  async raise(request: RaiseRequest): Promise<AlertView> {
    const source = checkOneOf(
      'source',
      request.source,
      alertSources.filter((s) => s !== 'check'),
    );
    const dedupKey = checkText('dedupKey', request.dedupKey, 200);
    const severity = checkOneOf('severity', request.severity, alertSeverities);
    const summary = checkText('summary', request.summary, 500);
    const tenant = request.tenant ?? null;
    const stage = request.stage ?? null;
    if (tenant !== null) checkText('tenant', tenant, 100);
    if (stage !== null) checkText('stage', stage, 100);
    const alert = await this.open({
      rule: null,
      source,
      dedupKey,
      groupKey: groupKeyOf(tenant, stage),
      tenant,
      stage,
      checkId: null,
      severity,
      status: 'firing',
      summary,
      details: request.details ?? {},
      inhibits: request.inhibits ?? false,
      healAction: null,
      flapping: false,
      fireAt: null,
    });
    return alertView(alert);
  }

  /** Opens an alert (or finds the open one with its source and key), then settles mutes and notifications. */
  async open(a: Omit<NewAlert, 'now'>): Promise<StoredAlert> {
    const now = this.#o.clock.now();
    // Muted from the start, in the same transaction: nobody sees it unmuted, no pass tells it.
    const { alert, created } = await this.#o.db.transaction().execute(async (tx) => {
      const opened = await openAlert(tx, { ...a, now });
      if (!opened.created) return opened;
      const muted = mutedBy(opened.alert, await this.#muteContext(tx, now));
      if (muted === null) return opened;
      return {
        alert: (await updateAlert(tx, opened.alert.id, { muted_by: muted })) ?? opened.alert,
        created: true,
      };
    });
    if (created) {
      this.#o.logger.info(
        {
          alert: alert.id,
          source: alert.source,
          tenant: alert.tenant,
          stage: alert.stage,
          status: alert.status,
        },
        `alert ${alert.status}: ${alert.summary}`,
      );
      await this.#settle();
    }
    return (await findAlert(this.#o.db, alert.id)) ?? alert;
  }

  async clear(source: AlertSource, dedupKey: string, note: string): Promise<AlertView | undefined> {
    const open = await findOpen(this.#o.db, source, dedupKey);
    if (!open) return undefined;
    const done = await this.close(open.id, note);
    return done ? alertView(done) : undefined;
  }

  /** Resolves an open alert because its condition ended (by Steward, not a person). */
  async close(id: string, note: string): Promise<StoredAlert | undefined> {
    const done = await updateAlert(
      this.#o.db,
      id,
      {
        status: 'resolved',
        resolved_at: this.#o.clock.now(),
        resolved_by: actorName(systemPrincipal),
        resolve_note: note.slice(0, maxNoteChars),
        resolve_at: null,
      },
      { status: ['pending', 'firing', 'acknowledged'] },
    );
    if (done) {
      this.#o.logger.info(
        { alert: done.id, wasTold: done.toldFiredAt !== null },
        `alert resolved: ${done.summary} (${note})`,
      );
      await this.#settle();
    }
    return done;
  }

  async acknowledge(id: string, by: Principal): Promise<AlertView> {
    const checkedId = checkId(id, 'an alert');
    const alert = await this.#o.db.transaction().execute(async (tx) => {
      const current = await this.#find(tx, checkedId, true);
      if (current.status === 'acknowledged') return undefined;
      if (current.status !== 'firing') throw this.#notOpen(current, 'acknowledge');
      const done = await updateAlert(tx, checkedId, {
        status: 'acknowledged',
        acknowledged_at: this.#o.clock.now(),
        acknowledged_by: actorName(by),
      });
      await this.#o.audit.record(tx, {
        actor: actorName(by),
        action: 'alert.acknowledge',
        target: `alert:${checkedId}`,
        tenant: current.tenant,
        address: by.address,
        details: { summary: current.summary, severity: current.severity },
      });
      return done;
    });
    if (alert) await this.#settle();
    return this.get(checkedId);
  }

  async resolve(id: string, by: Principal, note: string): Promise<AlertView> {
    const checkedId = checkId(id, 'an alert');
    const checkedNote = checkText('note', note, maxNoteChars);
    await this.#o.db.transaction().execute(async (tx) => {
      const current = await this.#find(tx, checkedId, true);
      if (current.status === 'resolved') throw this.#notOpen(current, 'resolve');
      await updateAlert(tx, checkedId, {
        status: 'resolved',
        resolved_at: this.#o.clock.now(),
        resolved_by: actorName(by),
        resolve_note: checkedNote,
        resolve_at: null,
      });
      await this.#o.audit.record(tx, {
        actor: actorName(by),
        action: 'alert.resolve',
        target: `alert:${checkedId}`,
        tenant: current.tenant,
        address: by.address,
        details: { summary: current.summary, severity: current.severity, note: checkedNote },
      });
    });
    await this.#settle();
    return this.get(checkedId);
  }

  async get(id: string): Promise<AlertView> {
    return alertView(await this.#find(this.#o.db, checkId(id, 'an alert')));
  }

  /** Alerts, newest first, with filters. */
  async list(query: AlertListQuery = {}): Promise<AlertView[]> {
    const status =
      query.status === undefined ? undefined : checkOneOf<AlertStatus>('status', query.status, alertStatuses);
    const source =
      query.source === undefined ? undefined : checkOneOf<AlertSource>('source', query.source, alertSources);
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new InputError(`field "limit": ${showValue(limit)} is not accepted; use 1 to 1000`, {
        field: 'limit',
      });
    }
    return (
      await listAlerts(this.#o.db, {
        open: query.open,
        status,
        source,
        tenant: query.tenant,
        stage: query.stage,
        limit,
      })
    ).map(alertView);
  }

  /** One page of alerts, filtered and sorted in SQL. */
  async listPage(filter: Omit<AlertFilter, 'limit'>, page: PageRequest<AlertSort>): Promise<Page<AlertView>> {
    const alerts = await alertPage(this.#o.db, filter, page);
    return { ...alerts, items: alerts.items.map(alertView) };
  }

  /**
   * The outbox delivered a notification: the first one about an alert (its
   * key starts with `alert:<id>:`) is when people were told.
   */
  async notified(key: string, at: Date, tx: Queryable = this.#o.db): Promise<void> {
    for (const id of alertIdsOfKey(key)) await markFirstNotified(tx, id, at);
  }

  /**
   * The outbox failed a notification for good: an alert (source
   * notifications) makes it visible in steward alert list and tells the
   * channels that still work. A failed notification about such an alert
   * raises none (no loop); it stays in steward notify log. Nor does one
   * about an alert that had no channel to go to at all (no channel is
   * enabled): that alert is in steward alert list itself, and another could
   * not be told either.
   */
  async undeliverable(
    /** channels: how many places it could go (channels and a direct recipient). */
    notification: { id: string; key: string; kind: string; subject: string; channels: number },
    reason: string,
  ): Promise<AlertView | undefined> {
    const about = alertIdsOfKey(notification.key);
    if (about.length > 0 && notification.channels === 0) return undefined;
    for (const id of about) {
      const alert = await findAlert(this.#o.db, id);
      if (alert?.source === 'notifications') return undefined;
    }
    return this.raise({
      source: 'notifications',
      dedupKey: `notification:${notification.id}`,
      severity: 'critical',
      summary: `notification ${notification.id} not delivered: ${notification.subject}`.slice(0, 500),
      details: {
        notification: notification.id,
        key: notification.key,
        kind: notification.kind,
        seen: reason,
      },
    });
  }

  async #find(db: Queryable, id: string, lock = false): Promise<StoredAlert> {
    const alert = await findAlert(db, id, { lock });
    if (!alert) throw new NotFoundError(`no alert ${showValue(id)}`, { field: 'id' });
    return alert;
  }

  #notOpen(alert: StoredAlert, what: string): ConflictError {
    if (alert.status === 'pending') {
      return new ConflictError(
        `alert ${alert.id} is pending (its rule's duration has not passed and nobody was told); there is nothing to ${what} yet`,
      );
    }
    return new ConflictError(
      `alert ${alert.id} is already resolved (at ${alert.resolvedAt ?? '?'} by ${alert.resolvedBy ?? '?'}); there is nothing to ${what}`,
    );
  }
}
