import type { Logger } from 'pino';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { PassTimer } from '../core/pass-timer.ts';
import { InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { EnqueueRequest } from '../notifications/index.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import { maintenanceContacts, type Contact } from '../tenants/contacts.ts';
import type { TenantView } from '../tenants/service.ts';
import { announcementKey, announcementMessage, type AnnouncementEvent } from './announcement.ts';
import { parseDurationSeconds } from '../monitoring/specs.ts';
import { announcementDue, planWindow, type PlanRequest } from './plan.ts';
import { tenantMaintenanceView, type TenantMaintenanceView } from './tenant-view.ts';
import {
  endMaintenanceWindow,
  findMaintenanceWindow,
  insertMaintenanceWindow,
  listMaintenanceWindows,
  markAnnounced,
  unannouncedWindows,
  type MaintenanceWindowView,
  type NewMaintenanceWindow,
} from './store.ts';

export interface MaintenanceServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: { readonly passSeconds: number };
  readonly tenants: {
    show(slug: string): Promise<TenantView>;
    place(slug: string, stage: string | null): Promise<TenantView>;
    contacts(slug: string): Promise<Contact[]>;
  };
  readonly notifications: { enqueue(request: EnqueueRequest, tx?: Queryable): Promise<unknown> };
  /** Windows changed: the alert service re-evaluates what its open alerts are muted by. */
  readonly changed: () => Promise<void>;
}

/** A window planned ahead: `steward maintenance plan`. */
export interface PlanMaintenanceRequest extends PlanRequest {
  readonly tenant: unknown;
  readonly stage?: unknown;
  readonly reason: unknown;
}

/** A window from now (or `from`) for a while or until a time: `steward maintenance add`, announced at once. */
export interface AddMaintenanceRequest {
  readonly tenant?: unknown;
  readonly stage?: unknown;
  readonly from?: unknown;
  readonly for?: unknown;
  readonly until?: unknown;
  readonly reason?: unknown;
}

function checkText(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw new InputError(
      `field "${field}": ${showValue(value ?? null)} is not accepted; ${field} is required: 1 to ${max} characters`,
      { field },
    );
  }
  return value.trim();
}

function checkIsoTime(field: string, value: unknown): Date {
  const at = typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) ? new Date(value) : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not a time; use ISO 8601, e.g. 2026-12-24T18:00:00Z`,
      { field },
    );
  }
  return at;
}

function checkWindowId(id: string): string {
  if (!/^\d{1,18}$/.test(id)) {
    throw new InputError(`field "id": ${showValue(id)} is not a maintenance window id; use its number`, {
      field: 'id',
    });
  }
  return id;
}

/** The longest an unplanned window may last. */
const maxAddSeconds = 90 * 86_400;

/**
 * Maintenance windows: planned per tenant or stage (in the tenant's zone,
 * announced to its contacts N days ahead through the outbox), or started now;
 * ended early or cancelled. They mute alerts' notifications (the alert service
 * reads them) and the SLA report counts them under their own clause. Checks
 * keep probing. A zero-downtime deploy is not maintenance and needs no window.
 */
export class MaintenanceService {
  readonly #o: MaintenanceServiceOptions;
  readonly #timer: PassTimer<number>;
  /** Windows whose tenant has no contacts, warned about once per process. */
  readonly #warned = new Set<string>();

  constructor(options: MaintenanceServiceOptions) {
    this.#o = options;
    this.#timer = new PassTimer({
      pass: () => this.#pass(),
      everyMs: options.settings.passSeconds * 1000,
      logger: options.logger,
      what: 'maintenance announcement pass',
    });
  }

  async #place(tenantValue: unknown, stageValue: unknown): Promise<{ tenant: string; stage: string | null }> {
    const tenant = checkText('tenant', tenantValue, 100);
    const stage =
      stageValue === undefined || stageValue === null ? null : checkText('stage', stageValue, 100);
    await this.#o.tenants.place(tenant, stage);
    return { tenant, stage };
  }

  /** Plans a window ahead; its announcement goes out when its notice period begins (at once if it already has). */
  async plan(request: PlanMaintenanceRequest, by: Principal): Promise<MaintenanceWindowView> {
    const planned = planWindow(request, this.#o.clock.now());
    const place = await this.#place(request.tenant, request.stage);
    const reason = checkText('reason', request.reason, 500);
    const window = await this.#insert(
      { ...place, ...planned, reason, createdBy: actorName(by) },
      by,
      'maintenance.plan',
    );
    await this.pass();
    return (await findMaintenanceWindow(this.#o.db, window.id)) ?? window;
  }

  /** A window from now (or `from`) for a while (`for`) or until a time; announced at once. */
  async add(request: AddMaintenanceRequest, by: Principal): Promise<MaintenanceWindowView> {
    const place = await this.#place(request.tenant, request.stage);
    const now = this.#o.clock.now();
    const startsAt = request.from === undefined ? now : checkIsoTime('from', request.from);
    if ((request.for === undefined) === (request.until === undefined)) {
      throw new InputError(
        'field "for": give how long (for, e.g. 2h) or until when (until, ISO 8601), one of them: a maintenance window needs an end',
        { field: 'for' },
      );
    }
    const endsAt =
      request.for !== undefined
        ? new Date(startsAt.getTime() + parseDurationSeconds('for', request.for) * 1000)
        : checkIsoTime('until', request.until);
    if (endsAt <= startsAt || endsAt.getTime() - startsAt.getTime() > maxAddSeconds * 1000) {
      throw new InputError(
        `field "until": ${showValue(request.until)} is not accepted; use a time after ${startsAt.toISOString()} and at most 90 days later`,
        { field: 'until' },
      );
    }
    const window = await this.#insert(
      {
        ...place,
        startsAt,
        endsAt,
        reason: checkText('reason', request.reason, 500),
        createdBy: actorName(by),
        kind: 'emergency',
        announceDays: 0,
      },
      by,
      'maintenance.start',
    );
    await this.pass();
    return (await findMaintenanceWindow(this.#o.db, window.id)) ?? window;
  }

  async #insert(w: NewMaintenanceWindow, by: Principal, action: string): Promise<MaintenanceWindowView> {
    const window = await this.#o.db.transaction().execute(async (tx) => {
      const added = await insertMaintenanceWindow(tx, w);
      await this.#o.audit.record(tx, {
        actor: actorName(by),
        action,
        target: `maintenance:${added.id}`,
        tenant: added.tenant,
        address: by.address,
        details: {
          stage: added.stage,
          startsAt: added.startsAt,
          endsAt: added.endsAt,
          reason: added.reason,
          kind: added.kind,
          announceDays: added.announceDays,
          timeZone: added.timeZone,
        },
      });
      return added;
    });
    await this.#o.changed();
    return window;
  }

  /** Ends a current window now; a planned one is cancelled (and its contacts told, if it was announced). */
  async end(id: string, by: Principal): Promise<MaintenanceWindowView> {
    const checked = checkWindowId(id);
    const before = await findMaintenanceWindow(this.#o.db, checked);
    const ended = await this.#o.db.transaction().execute(async (tx) => {
      const now = this.#o.clock.now();
      const done = await endMaintenanceWindow(tx, checked, actorName(by), now);
      if (!done) {
        throw new NotFoundError(
          before
            ? `no current or planned maintenance window ${checked}: it is over (it ended at ${before.endsAt}${before.cancelledAt ? ', cancelled' : ''})`
            : `no current or planned maintenance window ${showValue(checked)}`,
          { field: 'id' },
        );
      }
      const cancelled = done.cancelledAt !== null;
      await this.#o.audit.record(tx, {
        actor: actorName(by),
        action: cancelled ? 'maintenance.cancel' : 'maintenance.end',
        target: `maintenance:${checked}`,
        tenant: done.tenant,
        address: by.address,
        details: { startsAt: done.startsAt, endsAt: done.endsAt, wasAnnounced: done.announcedAt !== null },
      });
      if (cancelled && done.announcedAt !== null && before) await this.#tell(tx, before, 'cancelled');
      return done;
    });
    await this.#o.changed();
    return ended;
  }

  list(
    options: { all?: boolean | undefined; tenant?: string | undefined } = {},
  ): Promise<MaintenanceWindowView[]> {
    return listMaintenanceWindows(this.#o.db, { now: this.#o.clock.now(), ...options });
  }

  /** A tenant's windows as its admins see them (tenant-view.ts): announced or begun, no operator names. */
  async forTenant(tenant: string, all = false): Promise<TenantMaintenanceView[]> {
    // An unknown tenant is refused as elsewhere, not answered with an empty list.
    await this.#o.tenants.show(tenant);
    return tenantMaintenanceView(await this.list({ all, tenant }), this.#o.clock.now());
  }

  /** Enqueues a message to each of the tenant's maintenance contacts; returns how many. */
  async #tell(tx: Queryable, w: MaintenanceWindowView, event: AnnouncementEvent): Promise<number> {
    const tenant = await this.#o.tenants.show(w.tenant).catch(() => undefined);
    const contacts = maintenanceContacts(await this.#o.tenants.contacts(w.tenant).catch(() => []));
    const message = announcementMessage(w, event, tenant?.displayName ?? w.tenant);
    for (const contact of contacts) {
      await this.#o.notifications.enqueue(
        {
          key: announcementKey(w.id, event, contact.email),
          kind: 'maintenance',
          subject: message.subject,
          body: `Hello ${contact.name},\n\n${message.body}`,
          email: contact.email,
          // Until the window starts: an announcement after it is no announcement.
          deadline: new Date(Math.max(Date.parse(w.startsAt), this.#o.clock.now().getTime() + 60_000)),
        },
        tx,
      );
    }
    return contacts.length;
  }

  start(): void {
    this.#timer.start();
  }

  /** Waits for the pass in flight. Safe twice. */
  stop(): Promise<void> {
    return this.#timer.stop();
  }

  /**
   * Announces every window whose notice period began: the messages and the
   * mark in one transaction, so a crash sends them again on the next pass at
   * worst (same keys: once). Returns how many windows were announced.
   */
  pass(): Promise<number> {
    return this.#timer.run();
  }

  async #pass(): Promise<number> {
    const now = this.#o.clock.now();
    let announced = 0;
    for (const w of await unannouncedWindows(this.#o.db, now)) {
      if (!announcementDue(w, now)) continue;
      const told = await this.#o.db.transaction().execute(async (tx) => {
        const current = await findMaintenanceWindow(tx, w.id, { lock: true });
        if (!current || !announcementDue(current, now)) return -1;
        const count = await this.#tell(tx, current, 'announce');
        if (count > 0) await markAnnounced(tx, current.id, now);
        return count;
      });
      if (told > 0) announced++;
      else if (told === 0 && !this.#warned.has(w.id)) {
        this.#warned.add(w.id);
        this.#o.logger.warn(
          { maintenance: w.id, tenant: w.tenant },
          `maintenance window ${w.id} is not announced: tenant ${w.tenant} has no contacts ("steward tenant contact set ${w.tenant} --email …")`,
        );
      }
    }
    return announced;
  }
}
