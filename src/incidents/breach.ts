import type { AuditService } from '../audit/service.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, InputError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import type { ControlDb, Queryable } from '../store/db.ts';
import type { TenantView } from '../tenants/service.ts';
import { checkText } from './input.ts';
import { noticeDeadlines, noticeParties, type NoticeParty } from './notices.ts';
import {
  customerNoticeSeconds,
  insertUpdate,
  setCustomerNoticeSeconds,
  updateIncident,
  type IncidentUpdate,
  type NewUpdate,
  type StoredIncident,
} from './store.ts';
import type { IncidentDetail, IncidentSettings } from './views.ts';

/**
 * A security incident's breach: confirmed (the notice deadlines start), the
 * parties told, and the tenant's contract term for telling its customers.
 * IncidentService's methods of those names call these.
 */

/** What one change does inside its transaction; it returns the audit event's details. */
export type ChangeStep = (
  tx: Queryable,
  current: StoredIncident,
  now: Date,
  actor: string,
) => Promise<Record<string, unknown>>;

/** One change of an incident in one transaction (IncidentService's: lock, refuse a closed one, audit). */
export type IncidentChange = (
  id: string,
  by: Principal,
  action: string,
  change: ChangeStep,
  options?: { afterClose?: boolean },
) => Promise<IncidentDetail>;

export interface BreachContext {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly clock: Clock;
  readonly settings: IncidentSettings;
  readonly tenants: { place(slug: string, stage: string | null): Promise<TenantView> };
  readonly change: IncidentChange;
}

/** Clocks of operators' machines differ a little from ours. */
const futureSkewMs = 60_000;

/** A time given by a person (`--at`): ISO 8601 with a zone, not in the future; default now. */
function checkAt(clock: Clock, field: string, value: string | undefined): Date {
  const now = clock.now();
  if (value === undefined) return now;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim());
  const at = new Date(value);
  if (!zoned || Number.isNaN(at.getTime())) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is not accepted; use a time with its zone, e.g. 2026-12-06T14:30:00Z or 2026-12-06T15:30+01:00`,
      { field },
    );
  }
  if (at.getTime() > now.getTime() + futureSkewMs) {
    throw new InputError(
      `field "${field}": ${showValue(value)} is in the future (now is ${now.toISOString()}); give when it happened`,
      { field },
    );
  }
  return at;
}

/**
 * A security incident's breach is confirmed: the notice deadlines start
 * (from the tenant's terms and the configured authority term, fixed now). A
 * confirmed breach is severity 1 by the rules; a lower one is raised.
 */
export function confirmBreach(
  o: BreachContext,
  id: string,
  at: string | undefined,
  by: Principal,
): Promise<IncidentDetail> {
  const confirmedAt = checkAt(o.clock, 'at', at);
  return o.change(
    id,
    by,
    'incident.confirm-breach',
    async (tx, current, now, actor) => {
      if (!current.security) {
        throw new ConflictError(
          `incident ${current.id} is not a security incident (it was opened without --security); a breach is confirmed on a security incident`,
        );
      }
      if (current.breachConfirmedAt !== null) {
        throw new ConflictError(
          `the breach of incident ${current.id} was already confirmed at ${current.breachConfirmedAt}`,
        );
      }
      const customerSeconds =
        (await customerNoticeSeconds(tx, current.tenant)) ??
        Math.round(o.settings.customerNoticeHours * 3600);
      const authoritySeconds = Math.round(o.settings.authorityNoticeHours * 3600);
      let incident = await updateIncident(tx, current.id, {
        breach_confirmed_at: confirmedAt,
        customer_notice_seconds: customerSeconds,
        authority_notice_seconds: authoritySeconds,
      });
      await timeline(
        tx,
        {
          at: now,
          author: actor,
          kind: 'breach-confirmed',
          status: incident.status,
          details: { at: confirmedAt.toISOString(), customerSeconds, authoritySeconds },
        },
        incident,
      );
      if (incident.severity > 1) {
        incident = await updateIncident(tx, current.id, { severity: 1 });
        await timeline(
          tx,
          {
            at: now,
            author: actor,
            kind: 'severity',
            status: incident.status,
            note: 'a confirmed breach is severity 1',
            details: { from: current.severity, to: 1 },
          },
          incident,
        );
      }
      return {
        at: confirmedAt.toISOString(),
        deadlines: noticeDeadlines(incident, now).map((d) => ({ party: d.party, due: d.due })),
      };
    },
    { afterClose: true },
  );
}

/** Records who told a party (customers or the authority) when. */
export function recordNotice(
  o: BreachContext,
  id: string,
  input: { party: string; who: string; at?: string | undefined },
  by: Principal,
): Promise<IncidentDetail> {
  if (!noticeParties.includes(input.party as NoticeParty)) {
    throw new InputError(
      `field "party": ${showValue(input.party)} is not accepted; use one of ${noticeParties.join(', ')}`,
      { field: 'party' },
    );
  }
  const party = input.party as NoticeParty;
  const who = checkText('who', input.who, 500);
  const at = checkAt(o.clock, 'at', input.at);
  return o.change(
    id,
    by,
    'incident.notified',
    async (tx, current, now, actor) => {
      if (current.breachConfirmedAt === null) {
        throw new ConflictError(
          `incident ${current.id} has no confirmed breach, so no notice is due; confirm it first: steward incident confirm-breach ${current.id} --at "…"`,
        );
      }
      const done = party === 'customers' ? current.customersNotifiedAt : current.authorityNotifiedAt;
      if (done !== null) {
        throw new ConflictError(
          `the ${party} of incident ${current.id} were already recorded as told at ${done}`,
        );
      }
      const incident = await updateIncident(
        tx,
        current.id,
        party === 'customers'
          ? { customers_notified_at: at, customers_notified_who: who }
          : { authority_notified_at: at, authority_notified_who: who },
      );
      const deadline = noticeDeadlines(incident, now).find((d) => d.party === party);
      await timeline(
        tx,
        {
          at: now,
          author: actor,
          kind: 'notified',
          status: incident.status,
          details: { party, who, at: at.toISOString(), state: deadline?.state },
        },
        incident,
      );
      return { party, who, at: at.toISOString(), due: deadline?.due, state: deadline?.state };
    },
    { afterClose: true },
  );
}

/** The tenant's contract term for telling affected customers of a confirmed breach. */
export async function setNoticeTerms(
  o: BreachContext,
  tenant: string,
  customerNoticeHours: unknown,
  by: Principal,
): Promise<{ tenant: string; customerNoticeHours: number }> {
  const hours = customerNoticeHours;
  if (typeof hours !== 'number' || !Number.isFinite(hours) || hours <= 0 || hours > 720) {
    throw new InputError(
      `field "customerNoticeHours": ${showValue(hours)} is not accepted; use hours above 0 up to 720, e.g. 24`,
      { field: 'customerNoticeHours' },
    );
  }
  await o.tenants.place(tenant, null);
  const seconds = Math.max(1, Math.round(hours * 3600));
  await o.db.transaction().execute(async (tx) => {
    await setCustomerNoticeSeconds(tx, { tenant, seconds, by: actorName(by), at: o.clock.now() });
    await o.audit.record(tx, {
      actor: actorName(by),
      action: 'incident.terms',
      target: `tenant:${tenant}`,
      tenant,
      address: by.address,
      details: { customerNoticeHours: hours },
    });
  });
  return noticeTerms(o, tenant);
}

export async function noticeTerms(
  o: BreachContext,
  tenant: string,
): Promise<{
  tenant: string;
  customerNoticeHours: number;
  authorityNoticeHours: number;
  fromContract: boolean;
}> {
  const seconds = await customerNoticeSeconds(o.db, tenant);
  return {
    tenant,
    customerNoticeHours: seconds === undefined ? o.settings.customerNoticeHours : seconds / 3600,
    authorityNoticeHours: o.settings.authorityNoticeHours,
    fromContract: seconds !== undefined,
  };
}

function timeline(
  tx: Queryable,
  u: Omit<NewUpdate, 'incidentId'>,
  i: StoredIncident,
): Promise<IncidentUpdate> {
  return insertUpdate(tx, { ...u, incidentId: i.id });
}
