import { sql, type Selectable, type Updateable } from 'kysely';
import type { Queryable } from '../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { IncidentsTable, IncidentUpdatesTable } from '../store/schema-operations.ts';
import type { Postmortem } from './postmortem.ts';
import type { NoticeFacts } from './notices.ts';

/**
 * The one writer of incidents, incident_updates, incident_alerts and
 * incident_terms. Every change to an incident writes a timeline row in the
 * same transaction.
 */
export const incidentStatuses = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export type IncidentStatus = (typeof incidentStatuses)[number];

export const updateKinds = [
  'opened',
  'status',
  'note',
  'owner',
  'severity',
  'postmortem',
  'closed',
  'breach-confirmed',
  'notified',
  'alert-linked',
] as const;
export type UpdateKind = (typeof updateKinds)[number];

export interface StoredIncident extends NoticeFacts {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string | null;
  readonly severity: number;
  readonly title: string;
  readonly status: IncidentStatus;
  readonly owner: string | null;
  readonly security: boolean;
  readonly openedBy: string;
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  readonly closedAt: string | null;
  readonly closedBy: string | null;
  readonly postmortem: Postmortem | null;
  readonly postmortemAt: string | null;
  readonly postmortemBy: string | null;
}

export interface IncidentUpdate {
  readonly id: string;
  readonly incidentId: string;
  readonly at: string;
  readonly author: string;
  readonly kind: UpdateKind;
  readonly status: IncidentStatus;
  readonly note: string | null;
  /** A status-page post. */
  readonly public: boolean;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface LinkedAlert {
  readonly alertId: string;
  readonly checkId: string | null;
  readonly linkedAt: string;
  readonly linkedBy: string;
}

const iso = (d: Date | string | null): string | null =>
  d === null ? null : typeof d === 'string' ? new Date(d).toISOString() : d.toISOString();

function fromRow(r: Selectable<IncidentsTable>): StoredIncident {
  return {
    id: r.id,
    tenant: r.tenant_slug,
    stage: r.stage_name,
    severity: r.severity,
    title: r.title,
    status: r.status as IncidentStatus,
    owner: r.owner,
    security: r.security,
    openedBy: r.opened_by,
    openedAt: iso(r.opened_at) ?? '',
    resolvedAt: iso(r.resolved_at),
    closedAt: iso(r.closed_at),
    closedBy: r.closed_by,
    postmortem: (r.postmortem ?? null) as Postmortem | null,
    postmortemAt: iso(r.postmortem_at),
    postmortemBy: r.postmortem_by,
    breachConfirmedAt: iso(r.breach_confirmed_at),
    customerNoticeSeconds: r.customer_notice_seconds,
    authorityNoticeSeconds: r.authority_notice_seconds,
    customersNotifiedAt: iso(r.customers_notified_at),
    customersNotifiedWho: r.customers_notified_who,
    authorityNotifiedAt: iso(r.authority_notified_at),
    authorityNotifiedWho: r.authority_notified_who,
  };
}

function updateFromRow(r: Selectable<IncidentUpdatesTable>): IncidentUpdate {
  return {
    id: r.id,
    incidentId: r.incident_id,
    at: iso(r.at) ?? '',
    author: r.author,
    kind: r.kind as UpdateKind,
    status: r.status as IncidentStatus,
    note: r.note,
    public: r.public,
    details: (r.details ?? {}) as Record<string, unknown>,
  };
}

export interface NewIncident {
  readonly tenant: string;
  readonly stage: string | null;
  readonly severity: number;
  readonly title: string;
  readonly security: boolean;
  readonly owner: string | null;
  readonly openedBy: string;
  readonly now: Date;
}

export async function insertIncident(tx: Queryable, i: NewIncident): Promise<StoredIncident> {
  const row = await tx
    .insertInto('incidents')
    .values({
      tenant_slug: i.tenant,
      stage_name: i.stage,
      severity: i.severity,
      title: i.title,
      status: 'investigating',
      owner: i.owner,
      security: i.security,
      opened_by: i.openedBy,
      opened_at: i.now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return fromRow(row);
}

export async function findIncident(
  db: Queryable,
  id: string,
  options: { lock?: boolean } = {},
): Promise<StoredIncident | undefined> {
  const row = await db
    .selectFrom('incidents')
    .selectAll()
    .where('id', '=', id)
    .$if(options.lock === true, (q) => q.forUpdate())
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

export async function updateIncident(
  tx: Queryable,
  id: string,
  patch: Updateable<IncidentsTable>,
): Promise<StoredIncident> {
  const row = await tx
    .updateTable('incidents')
    .set(patch)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return fromRow(row);
}

export interface IncidentFilter {
  readonly open?: boolean | undefined;
  readonly tenant?: string | undefined;
  readonly status?: IncidentStatus | undefined;
  readonly severity?: number | undefined;
  readonly limit: number;
}

/** What the incident list can be sorted by: id (newest first by default) or when it was opened. */
export const incidentSorts = ['id', 'opened'] as const;
export type IncidentSort = (typeof incidentSorts)[number];
const incidentSortColumns: Record<IncidentSort, string> = { id: 'id', opened: 'opened_at' };

/** Newest first. */
export async function listIncidents(db: Queryable, f: IncidentFilter): Promise<StoredIncident[]> {
  const rows = await filteredIncidents(db, f).orderBy('id', 'desc').limit(f.limit).execute();
  return rows.map(fromRow);
}

/** One page of incidents (keyset on the sort column and id). */
export async function incidentPage(
  db: Queryable,
  f: Omit<IncidentFilter, 'limit'>,
  page: PageRequest<IncidentSort>,
): Promise<Page<StoredIncident>> {
  const rows = await keysetPage(
    filteredIncidents(db, f),
    { sort: incidentSortColumns[page.sort], id: 'id' },
    page,
  );
  return { ...rows, items: rows.items.map(fromRow) };
}

function filteredIncidents(db: Queryable, f: Omit<IncidentFilter, 'limit'>) {
  return db
    .selectFrom('incidents')
    .selectAll()
    .$if(f.open === true, (q) => q.where('closed_at', 'is', null))
    .$if(f.tenant !== undefined, (q) => q.where('tenant_slug', '=', f.tenant ?? ''))
    .$if(f.status !== undefined, (q) => q.where('status', '=', f.status ?? ''))
    .$if(f.severity !== undefined, (q) => q.where('severity', '=', f.severity ?? 0));
}

/** Security incidents with a confirmed breach and a party not yet told: what the notice pass looks at. */
export async function noticesPending(db: Queryable): Promise<StoredIncident[]> {
  const rows = await db
    .selectFrom('incidents')
    .selectAll()
    .where('breach_confirmed_at', 'is not', null)
    .where((eb) => eb.or([eb('customers_notified_at', 'is', null), eb('authority_notified_at', 'is', null)]))
    .orderBy('id')
    .limit(1000)
    .execute();
  return rows.map(fromRow);
}

export interface NewUpdate {
  readonly incidentId: string;
  readonly at: Date;
  readonly author: string;
  readonly kind: UpdateKind;
  readonly status: IncidentStatus;
  readonly note?: string | null;
  readonly public?: boolean;
  readonly details?: Readonly<Record<string, unknown>>;
}

export async function insertUpdate(tx: Queryable, u: NewUpdate): Promise<IncidentUpdate> {
  const row = await tx
    .insertInto('incident_updates')
    .values({
      incident_id: u.incidentId,
      at: u.at,
      author: u.author,
      kind: u.kind,
      status: u.status,
      note: u.note ?? null,
      public: u.public ?? false,
      details: JSON.stringify(u.details ?? {}),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return updateFromRow(row);
}

export async function listUpdates(db: Queryable, incidentId: string): Promise<IncidentUpdate[]> {
  const rows = await db
    .selectFrom('incident_updates')
    .selectAll()
    .where('incident_id', '=', incidentId)
    .orderBy('id')
    .execute();
  return rows.map(updateFromRow);
}

/** Status-page posts (public updates), newest first, with their incident's tenant and stage. */
export async function listPublicUpdates(
  db: Queryable,
  options: { since: Date; tenant?: string | undefined; limit: number },
): Promise<(IncidentUpdate & { tenant: string; stage: string | null; title: string; severity: number })[]> {
  const rows = await db
    .selectFrom('incident_updates as u')
    .innerJoin('incidents as i', 'i.id', 'u.incident_id')
    .selectAll('u')
    .select(['i.tenant_slug', 'i.stage_name', 'i.title', 'i.severity'])
    .where('u.public', '=', true)
    .where('u.at', '>=', options.since)
    .$if(options.tenant !== undefined, (q) => q.where('i.tenant_slug', '=', options.tenant ?? ''))
    .orderBy('u.id', 'desc')
    .limit(options.limit)
    .execute();
  return rows.map((r) => ({
    ...updateFromRow(r),
    tenant: r.tenant_slug,
    stage: r.stage_name,
    title: r.title,
    severity: r.severity,
  }));
}

/** Links an alert; a second link of the same pair is a no-op (returns false). */
export async function linkAlert(
  tx: Queryable,
  link: { incidentId: string; alertId: string; checkId: string | null; at: Date; by: string },
): Promise<boolean> {
  const row = await tx
    .insertInto('incident_alerts')
    .values({
      incident_id: link.incidentId,
      alert_id: link.alertId,
      check_id: link.checkId,
      linked_at: link.at,
      linked_by: link.by,
    })
    .onConflict((oc) => oc.columns(['incident_id', 'alert_id']).doNothing())
    .returning('alert_id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function linkedAlerts(db: Queryable, incidentId: string): Promise<LinkedAlert[]> {
  const rows = await db
    .selectFrom('incident_alerts')
    .selectAll()
    .where('incident_id', '=', incidentId)
    .orderBy('linked_at')
    .execute();
  return rows.map((r) => ({
    alertId: r.alert_id,
    checkId: r.check_id,
    linkedAt: iso(r.linked_at) ?? '',
    linkedBy: r.linked_by,
  }));
}

/** The open incidents an alert is linked to. */
export async function openIncidentsOfAlert(db: Queryable, alertId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('incident_alerts as l')
    .innerJoin('incidents as i', 'i.id', 'l.incident_id')
    .select('i.id')
    .where('l.alert_id', '=', alertId)
    .where('i.closed_at', 'is', null)
    .execute();
  return rows.map((r) => r.id);
}

/** The check an alert watches (alerts are the alert service's; this only reads). */
export async function checkOfAlert(db: Queryable, alertId: string): Promise<string | null> {
  const row = await db.selectFrom('alerts').select('check_id').where('id', '=', alertId).executeTakeFirst();
  return row?.check_id ?? null;
}

export async function customerNoticeSeconds(db: Queryable, tenant: string): Promise<number | undefined> {
  const row = await db
    .selectFrom('incident_terms')
    .select('customer_notice_seconds')
    .where('tenant_slug', '=', tenant)
    .executeTakeFirst();
  return row?.customer_notice_seconds;
}

export async function setCustomerNoticeSeconds(
  tx: Queryable,
  terms: { tenant: string; seconds: number; by: string; at: Date },
): Promise<void> {
  await tx
    .insertInto('incident_terms')
    .values({
      tenant_slug: terms.tenant,
      customer_notice_seconds: terms.seconds,
      updated_by: terms.by,
      updated_at: terms.at,
    })
    .onConflict((oc) =>
      oc.column('tenant_slug').doUpdateSet({
        customer_notice_seconds: sql`excluded.customer_notice_seconds`,
        updated_by: sql`excluded.updated_by`,
        updated_at: sql`excluded.updated_at`,
      }),
    )
    .execute();
}
