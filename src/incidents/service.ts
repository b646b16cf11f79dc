import type { Logger } from 'pino';
import type { AlertsApi, AlertView } from '../alerts/index.ts';
import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { HealAttemptView } from '../healing/index.ts';
import type { EnqueueRequest, NotificationView } from '../notifications/index.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import type { Page, PageRequest } from '../store/keyset.ts';
import type { TenantView } from '../tenants/service.ts';
import { noticeDeadlines } from './notices.ts';
import { parsePostmortem } from './postmortem.ts';
import { needsPostmortem, severityRule } from './severity.ts';
import {
  checkOfAlert,
  findIncident,
  incidentPage,
  insertIncident,
  insertUpdate,
  linkAlert,
  linkedAlerts,
  listIncidents,
  listPublicUpdates,
  listUpdates,
  openIncidentsOfAlert,
  updateIncident,
  type IncidentFilter,
  type IncidentSort,
  type IncidentUpdate,
  type NewUpdate,
  type StoredIncident,
} from './store.ts';
import { buildTimeline } from './timeline.ts';
import {
  confirmBreach,
  noticeTerms,
  recordNotice,
  setNoticeTerms,
  type BreachContext,
  type ChangeStep,
} from './breach.ts';
import { checkId, checkOwner, checkSeverity, checkStatus, checkText, maxNoteChars } from './input.ts';
import type {
  IncidentDetail,
  IncidentSettings,
  IncidentView,
  OpenIncidentInput,
  StatusPost,
  UpdateIncidentInput,
} from './views.ts';

/** What the incident service needs of others: narrow, so tests and the composition root pass the real ones. */
export interface IncidentServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: IncidentSettings;
  readonly tenants: { place(slug: string, stage: string | null): Promise<TenantView> };
  readonly alerts: Pick<AlertsApi, 'get'>;
  /** Self-healing's attempts on an alert (evidence on the timeline). */
  readonly healing?: { attemptsFor(alertId: string): Promise<readonly HealAttemptView[]> };
  readonly notifications: {
    enqueue(request: EnqueueRequest, tx?: Queryable): Promise<unknown>;
    log(options: { limit?: number; keyPrefix?: string }): Promise<NotificationView[]>;
  };
}

/**
 * Incidents: opened from an alert or by hand, classified by severity, moved
 * through their statuses with a timeline, owned, closed (severity 1-2 only
 * with a post-mortem). Security incidents track when a breach was confirmed
 * and who told the customers and the supervisory authority when; the notice
 * pass (notice-pass.ts) reminds and escalates. Each change is one
 * transaction: the incident, its timeline row, the audit event and the
 * notification about it.
 */
export class IncidentService {
  readonly #o: IncidentServiceOptions;

  readonly #breach: BreachContext;

  constructor(options: IncidentServiceOptions) {
    this.#o = options;
    this.#breach = {
      ...options,
      change: (id, by, action, change, changeOptions) => this.#change(id, by, action, change, changeOptions),
    };
  }

  async open(input: OpenIncidentInput, by: Principal): Promise<IncidentDetail> {
    const severity = checkSeverity(input.severity);
    const title = checkText('title', input.title, 200);
    const note = input.note === undefined ? null : checkText('note', input.note, maxNoteChars);
    const owner = input.owner === undefined ? null : checkOwner(input.owner);
    let alert: AlertView | undefined;
    if (input.fromAlert !== undefined) {
      const alertId = checkId('fromAlert', input.fromAlert, 'an alert');
      try {
        alert = await this.#o.alerts.get(alertId);
      } catch (error) {
        if (error instanceof NotFoundError) {
          throw new NotFoundError(`field "fromAlert": no alert ${showValue(alertId)}`, {
            field: 'fromAlert',
            cause: error,
          });
        }
        throw error;
      }
      const open = await openIncidentsOfAlert(this.#o.db, alertId);
      if (open.length > 0) {
        throw new ConflictError(
          `alert ${alertId} is already linked to open incident ${open.join(', ')}; see "steward incident show ${open[0] ?? ''}"`,
          { field: 'fromAlert' },
        );
      }
      for (const [field, given, of] of [
        ['tenant', input.tenant, alert.tenant],
        ['stage', input.stage, alert.stage],
      ] as const) {
        if (given !== undefined && of !== null && given !== of) {
          throw new InputError(
            `field "${field}": ${showValue(given)} is not the alert's ${field} ${showValue(of)}; leave it out to take the alert's`,
            { field },
          );
        }
      }
    }
    const tenantSlug = input.tenant ?? alert?.tenant ?? undefined;
    if (tenantSlug === undefined) {
      throw new InputError(
        alert
          ? `field "tenant": alert ${alert.id} is about Steward itself, not a tenant; name the tenant affected`
          : 'field "tenant" is required: the tenant the incident affects, e.g. acme',
        { field: 'tenant' },
      );
    }
    const stage = input.stage ?? alert?.stage ?? null;
    await this.#o.tenants.place(tenantSlug, stage);
    const now = this.#o.clock.now();
    const actor = actorName(by);
    const incident = await this.#o.db.transaction().execute(async (tx) => {
      const created = await insertIncident(tx, {
        tenant: tenantSlug,
        stage,
        severity,
        title,
        security: input.security === true,
        owner,
        openedBy: actor,
        now,
      });
      await insertUpdate(tx, {
        incidentId: created.id,
        at: now,
        author: actor,
        kind: 'opened',
        status: created.status,
        note,
        details: { severity, ...(alert ? { alert: alert.id } : {}), ...(owner ? { owner } : {}) },
      });
      if (alert) {
        await linkAlert(tx, {
          incidentId: created.id,
          alertId: alert.id,
          checkId: await checkOfAlert(tx, alert.id),
          at: now,
          by: actor,
        });
      }
      await this.#o.audit.record(tx, {
        actor,
        action: 'incident.open',
        target: `incident:${created.id}`,
        tenant: tenantSlug,
        address: by.address,
        details: {
          severity,
          stage,
          title,
          security: created.security,
          ...(alert ? { alert: alert.id } : {}),
        },
      });
      await this.#tell(tx, created, 'opened', `opened by ${actor}${note ? `: ${note}` : ''}`);
      return created;
    });
    this.#o.logger.info(
      { incident: incident.id, tenant: incident.tenant, stage: incident.stage, severity },
      `incident opened: ${incident.title}`,
    );
    return this.show(incident.id);
  }

  /** Tells the operators' channels (in the change's transaction): the key makes a repeat a no-op. */
  async #tell(tx: Queryable, i: StoredIncident, event: string, what: string): Promise<void> {
    const place = i.stage === null ? i.tenant : `${i.tenant}/${i.stage}`;
    await this.#o.notifications.enqueue(
      {
        key: `incident:${i.id}:${event}`,
        kind: 'incident',
        subject: `Incident ${i.id} ${i.status} (severity ${i.severity}, ${place}): ${i.title}`,
        body:
          `Incident ${i.id}: ${i.title}\nTenant: ${i.tenant}\nStage: ${i.stage ?? '-'}\n` +
          `Severity: ${i.severity} ${severityRule(i.severity as 1).name}\nStatus: ${i.status}\nOwner: ${i.owner ?? '-'}\n` +
          `${i.security ? 'Security incident\n' : ''}\n${what}\n\nsteward incident show ${i.id}`,
      },
      tx,
    );
  }

  async list(query: { open?: boolean; tenant?: string; limit?: number } = {}): Promise<IncidentView[]> {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new InputError(`field "limit": ${showValue(limit)} is not accepted; use 1 to 1000`, {
        field: 'limit',
      });
    }
    const rows = await listIncidents(this.#o.db, { open: query.open, tenant: query.tenant, limit });
    return Promise.all(rows.map((i) => this.#view(i)));
  }

  /** One page of incidents, filtered and sorted in SQL. */
  async listPage(
    filter: Omit<IncidentFilter, 'limit'>,
    page: PageRequest<IncidentSort>,
  ): Promise<Page<IncidentView>> {
    const found = await incidentPage(this.#o.db, filter, page);
    return { ...found, items: await Promise.all(found.items.map((i) => this.#view(i))) };
  }

  async get(id: string): Promise<IncidentView> {
    return this.#view(await this.#find(this.#o.db, checkId('id', id, 'an incident')));
  }

  /** The incident with its timeline: updates, linked alerts, notifications about it and them. */
  async show(id: string): Promise<IncidentDetail> {
    const view = await this.get(id);
    const updates = await listUpdates(this.#o.db, view.id);
    const alerts = await Promise.all(view.alerts.map((a) => this.#o.alerts.get(a.id)));
    const prefixes = [`incident:${view.id}:`, ...view.alerts.map((a) => `alert:${a.id}:`)];
    const notifications = (
      await Promise.all(prefixes.map((keyPrefix) => this.#o.notifications.log({ limit: 200, keyPrefix })))
    ).flat();
    const healing = this.#o.healing;
    const attempts = healing
      ? (await Promise.all(view.alerts.map((a) => healing.attemptsFor(a.id)))).flat()
      : [];
    return {
      ...view,
      timeline: buildTimeline({
        updates,
        alerts,
        notifications,
        // What healing did or was refused (rate limit, cool-down); not the passes that found it busy.
        healing: attempts
          .filter((h) => h.outcome !== 'skipped-in-progress' && h.outcome !== 'skipped-disabled')
          .map((h) => ({
            id: h.id,
            alertId: h.alertId,
            action: `${h.action} ${h.target}`,
            outcome: h.outcome,
            detail: h.detail,
            at: h.finishedAt ?? h.startedAt,
          })),
      }),
    };
  }

  async #view(i: StoredIncident): Promise<IncidentView> {
    const links = await linkedAlerts(this.#o.db, i.id);
    return {
      id: i.id,
      tenant: i.tenant,
      stage: i.stage,
      severity: i.severity,
      severityName: severityRule(i.severity as 1).name,
      title: i.title,
      status: i.status,
      owner: i.owner,
      security: i.security,
      openedBy: i.openedBy,
      openedAt: i.openedAt,
      resolvedAt: i.resolvedAt,
      closedAt: i.closedAt,
      closedBy: i.closedBy,
      postmortem: i.postmortem,
      postmortemAt: i.postmortemAt,
      postmortemBy: i.postmortemBy,
      postmortemRequired: needsPostmortem(i.severity),
      breachConfirmedAt: i.breachConfirmedAt,
      deadlines: noticeDeadlines(i, this.#o.clock.now()),
      alerts: links.map((l) => ({ id: l.alertId, checkId: l.checkId })),
    };
  }

  async #find(db: Queryable, id: string, lock = false): Promise<StoredIncident> {
    const found = await findIncident(db, id, { lock });
    if (!found) throw new NotFoundError(`no incident ${showValue(id)}`, { field: 'id' });
    return found;
  }

  /**
   * One change in one transaction: locks the incident, refuses a closed one
   * (unless `afterClose`), applies `change`, records the audit event.
   */
  async #change(
    id: string,
    by: Principal,
    action: string,
    change: ChangeStep,
    options: { afterClose?: boolean } = {},
  ): Promise<IncidentDetail> {
    const checked = checkId('id', id, 'an incident');
    await this.#o.db.transaction().execute(async (tx) => {
      const current = await this.#find(tx, checked, true);
      if (current.closedAt !== null && options.afterClose !== true) {
        throw new ConflictError(
          `incident ${checked} is closed (at ${current.closedAt} by ${current.closedBy ?? '?'}); open a new incident for what happens now`,
        );
      }
      const now = this.#o.clock.now();
      const actor = actorName(by);
      const details = await change(tx, current, now, actor);
      await this.#o.audit.record(tx, {
        actor,
        action,
        target: `incident:${checked}`,
        tenant: current.tenant,
        address: by.address,
        details,
      });
    });
    return this.show(checked);
  }

  async #timeline(
    tx: Queryable,
    u: Omit<NewUpdate, 'incidentId'>,
    i: StoredIncident,
  ): Promise<IncidentUpdate> {
    return insertUpdate(tx, { ...u, incidentId: i.id });
  }

  /** A status change and/or a note; `public` makes it a status-page post. */
  update(id: string, input: UpdateIncidentInput, by: Principal): Promise<IncidentDetail> {
    const note = checkText('note', input.note, maxNoteChars);
    const status = input.status === undefined ? undefined : checkStatus(input.status);
    const severity = input.severity === undefined ? undefined : checkSeverity(input.severity);
    return this.#change(id, by, 'incident.update', async (tx, current, now, actor) => {
      let incident = current;
      if (severity !== undefined && severity !== current.severity) {
        incident = await updateIncident(tx, current.id, { severity });
        await this.#timeline(
          tx,
          {
            at: now,
            author: actor,
            kind: 'severity',
            status: incident.status,
            details: { from: current.severity, to: severity },
          },
          incident,
        );
      }
      const changed = status !== undefined && status !== current.status;
      if (changed) {
        incident = await updateIncident(tx, current.id, {
          status,
          resolved_at: status === 'resolved' ? now : null,
        });
      }
      const update = await this.#timeline(
        tx,
        {
          at: now,
          author: actor,
          kind: changed ? 'status' : 'note',
          status: incident.status,
          note,
          public: input.public === true,
          details: changed ? { from: current.status } : {},
        },
        incident,
      );
      if (changed)
        await this.#tell(
          tx,
          incident,
          `update:${update.id}`,
          `${current.status} → ${incident.status}: ${note}`,
        );
      return {
        from: current.status,
        status: incident.status,
        severity: incident.severity,
        public: update.public,
        note,
      };
    });
  }

  assign(id: string, owner: string, by: Principal): Promise<IncidentDetail> {
    const checked = checkOwner(owner);
    return this.#change(id, by, 'incident.assign', async (tx, current, now, actor) => {
      const incident = await updateIncident(tx, current.id, { owner: checked });
      await this.#timeline(
        tx,
        {
          at: now,
          author: actor,
          kind: 'owner',
          status: incident.status,
          details: { owner: checked, from: current.owner },
        },
        incident,
      );
      return { owner: checked, from: current.owner };
    });
  }

  /** Links another alert (and its check) to the incident. */
  linkAlert(id: string, alertId: string, by: Principal): Promise<IncidentDetail> {
    const checkedAlert = checkId('alert', alertId, 'an alert');
    return this.#change(id, by, 'incident.link-alert', async (tx, current, now, actor) => {
      await this.#o.alerts.get(checkedAlert);
      const linked = await linkAlert(tx, {
        incidentId: current.id,
        alertId: checkedAlert,
        checkId: await checkOfAlert(tx, checkedAlert),
        at: now,
        by: actor,
      });
      if (linked) {
        await this.#timeline(
          tx,
          {
            at: now,
            author: actor,
            kind: 'alert-linked',
            status: current.status,
            details: { alert: checkedAlert },
          },
          current,
        );
      }
      return { alert: checkedAlert, linked };
    });
  }

  /** Stores the post-mortem (replacing an earlier one); allowed after closing too. */
  postmortem(id: string, document: string, by: Principal): Promise<IncidentDetail> {
    const pm = parsePostmortem(document);
    return this.#change(
      id,
      by,
      'incident.postmortem',
      async (tx, current, now, actor) => {
        const incident = await updateIncident(tx, current.id, {
          postmortem: JSON.stringify(pm),
          postmortem_at: now,
          postmortem_by: actor,
        });
        await this.#timeline(
          tx,
          {
            at: now,
            author: actor,
            kind: 'postmortem',
            status: incident.status,
            note: pm.cause.slice(0, maxNoteChars),
            details: {
              slaMinutes: pm.impact.slaMinutes,
              actions: pm.actions.length,
              checks: pm.checks.length,
            },
          },
          incident,
        );
        return { slaMinutes: pm.impact.slaMinutes, actions: pm.actions.length, checks: pm.checks.length };
      },
      { afterClose: true },
    );
  }

  /** Closes a resolved incident; severity 1-2 only with a post-mortem. */
  close(id: string, by: Principal): Promise<IncidentDetail> {
    return this.#change(id, by, 'incident.close', async (tx, current, now, actor) => {
      if (current.status !== 'resolved') {
        throw new ConflictError(
          `incident ${current.id} is ${current.status}, not resolved; resolve it first: steward incident update ${current.id} --status resolved --note "…"`,
        );
      }
      if (needsPostmortem(current.severity) && current.postmortem === null) {
        throw new ConflictError(
          `incident ${current.id} is severity ${current.severity}: a post-mortem is required before it closes (cause, impact in SLA minutes, actions with owners and due dates, checks to add as early warnings); give one with: steward incident postmortem ${current.id} --file pm.yaml`,
          { field: 'postmortem' },
        );
      }
      const incident = await updateIncident(tx, current.id, { closed_at: now, closed_by: actor });
      await this.#timeline(tx, { at: now, author: actor, kind: 'closed', status: incident.status }, incident);
      await this.#tell(tx, incident, 'closed', `closed by ${actor}`);
      return { severity: current.severity, postmortem: current.postmortem !== null };
    });
  }

  /**
   * A security incident's breach is confirmed: the notice deadlines start
   * (from the tenant's terms and the configured authority term, fixed now). A
   * confirmed breach is severity 1 by the rules; a lower one is raised.
   */
  confirmBreach(id: string, at: string | undefined, by: Principal): Promise<IncidentDetail> {
    return confirmBreach(this.#breach, id, at, by);
  }

  /** Records who told a party (customers or the authority) when. */
  notified(
    id: string,
    input: { party: string; who: string; at?: string | undefined },
    by: Principal,
  ): Promise<IncidentDetail> {
    return recordNotice(this.#breach, id, input, by);
  }

  /** The tenant's contract term for telling affected customers of a confirmed breach. */
  setTerms(tenant: string, customerNoticeHours: unknown, by: Principal): ReturnType<typeof setNoticeTerms> {
    return setNoticeTerms(this.#breach, tenant, customerNoticeHours, by);
  }

  terms(tenant: string): ReturnType<typeof noticeTerms> {
    return noticeTerms(this.#breach, tenant);
  }

  /** Status-page posts since a time, newest first (the status page reads these). */
  async posts(options: { since: Date; tenant?: string | undefined; limit?: number }): Promise<StatusPost[]> {
    const rows = await listPublicUpdates(this.#o.db, { ...options, limit: options.limit ?? 200 });
    return rows.map((r) => ({
      incident: r.incidentId,
      tenant: r.tenant,
      stage: r.stage,
      title: r.title,
      severity: r.severity,
      status: r.status,
      note: r.note,
      at: r.at,
    }));
  }
}
