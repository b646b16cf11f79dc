import type { Selectable, Updateable } from 'kysely';
import type { Queryable } from '../store/db.ts';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { AlertSilencesTable, AlertsTable } from '../store/schema-operations.ts';
import type { AlertSeverity, AlertSource, AlertStatus, AlertView, HealAction } from './contract.ts';

/**
 * The one writer of alerts and alert_silences (maintenance_windows: src/maintenance/). An alert
 * is open until resolved; at most one is open per source and dedup key (a
 * partial unique index), so a repeated raise finds the open one.
 */
export interface StoredAlert extends AlertView {
  readonly checkId: string | null;
  readonly inhibits: boolean;
  readonly healAction: HealAction | null;
  readonly fireAt: string | null;
  readonly resolveAt: string | null;
  readonly toldFiredAt: string | null;
  readonly toldAcknowledgedAt: string | null;
  readonly toldResolvedAt: string | null;
}

export interface NewAlert {
  readonly rule: string | null;
  readonly source: AlertSource;
  readonly dedupKey: string;
  readonly groupKey: string;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly checkId: string | null;
  readonly severity: AlertSeverity;
  /** pending (a rule's duration runs until fireAt) or firing at once. */
  readonly status: 'pending' | 'firing';
  readonly summary: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly inhibits: boolean;
  readonly healAction: HealAction | null;
  readonly flapping: boolean;
  readonly fireAt: Date | null;
  readonly now: Date;
}

export type AlertPatch = Updateable<AlertsTable>;

/** Alerts of a tenant and stage are told together: the group is the place, not the cause. */
export function groupKeyOf(tenant: string | null, stage: string | null): string {
  return tenant === null ? 'steward' : `${tenant}/${stage ?? '*'}`;
}

const iso = (d: Date | string | null): string | null =>
  d === null ? null : typeof d === 'string' ? new Date(d).toISOString() : d.toISOString();

function fromRow(row: Selectable<AlertsTable>): StoredAlert {
  return {
    id: row.id,
    rule: row.rule,
    source: row.source as AlertSource,
    dedupKey: row.dedup_key,
    groupKey: row.group_key,
    tenant: row.tenant_slug,
    stage: row.stage_name,
    severity: row.severity as AlertSeverity,
    status: row.status as AlertStatus,
    summary: row.summary,
    details: (row.details ?? {}) as Record<string, unknown>,
    flapping: row.flapping,
    mutedBy: row.muted_by,
    startedAt: iso(row.started_at) ?? '',
    firedAt: iso(row.fired_at),
    firstNotifiedAt: iso(row.first_notified_at),
    acknowledgedAt: iso(row.acknowledged_at),
    acknowledgedBy: row.acknowledged_by,
    resolvedAt: iso(row.resolved_at),
    resolvedBy: row.resolved_by,
    resolveNote: row.resolve_note,
    checkId: row.check_id,
    inhibits: row.inhibits,
    healAction: row.heal_action as HealAction | null,
    fireAt: iso(row.fire_at),
    resolveAt: iso(row.resolve_at),
    toldFiredAt: iso(row.told_fired_at),
    toldAcknowledgedAt: iso(row.told_acknowledged_at),
    toldResolvedAt: iso(row.told_resolved_at),
  };
}

/** What callers outside this module see: the contract's view, nothing internal. */
export function alertView(a: StoredAlert): AlertView {
  return {
    id: a.id,
    rule: a.rule,
    source: a.source,
    dedupKey: a.dedupKey,
    groupKey: a.groupKey,
    tenant: a.tenant,
    stage: a.stage,
    severity: a.severity,
    status: a.status,
    summary: a.summary,
    details: a.details,
    flapping: a.flapping,
    mutedBy: a.mutedBy,
    startedAt: a.startedAt,
    firedAt: a.firedAt,
    firstNotifiedAt: a.firstNotifiedAt,
    acknowledgedAt: a.acknowledgedAt,
    acknowledgedBy: a.acknowledgedBy,
    resolvedAt: a.resolvedAt,
    resolvedBy: a.resolvedBy,
    resolveNote: a.resolveNote,
  };
}

/** Opens an alert unless one with its source and key is open; returns the open one and whether it is new. */
export async function openAlert(
  tx: Queryable,
  a: NewAlert,
): Promise<{ alert: StoredAlert; created: boolean }> {
  const inserted = await tx
    .insertInto('alerts')
    .values({
      rule: a.rule,
      source: a.source,
      dedup_key: a.dedupKey,
      group_key: a.groupKey,
      tenant_slug: a.tenant,
      stage_name: a.stage,
      check_id: a.checkId,
      severity: a.severity,
      status: a.status,
      summary: a.summary,
      details: JSON.stringify(a.details),
      inhibits: a.inhibits,
      heal_action: a.healAction,
      flapping: a.flapping,
      started_at: a.now,
      fire_at: a.fireAt,
      fired_at: a.status === 'firing' ? a.now : null,
    })
    .onConflict((oc) => oc.columns(['source', 'dedup_key']).where('status', '<>', 'resolved').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { alert: fromRow(inserted), created: true };
  const open = await findOpen(tx, a.source, a.dedupKey);
  if (!open) throw new Error(`alert ${a.source}/${a.dedupKey} neither opened nor open`);
  return { alert: open, created: false };
}

export async function findOpen(
  db: Queryable,
  source: AlertSource,
  dedupKey: string,
): Promise<StoredAlert | undefined> {
  const row = await db
    .selectFrom('alerts')
    .selectAll()
    .where('source', '=', source)
    .where('dedup_key', '=', dedupKey)
    .where('status', '<>', 'resolved')
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

export async function findAlert(
  db: Queryable,
  id: string,
  options: { lock?: boolean } = {},
): Promise<StoredAlert | undefined> {
  const row = await db
    .selectFrom('alerts')
    .selectAll()
    .where('id', '=', id)
    .$if(options.lock === true, (q) => q.forUpdate())
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** Every open alert (pending, firing, acknowledged): few at any time, so passes read them all. */
export async function openAlerts(db: Queryable): Promise<StoredAlert[]> {
  const rows = await db
    .selectFrom('alerts')
    .selectAll()
    .where('status', '<>', 'resolved')
    .orderBy('id')
    .execute();
  return rows.map(fromRow);
}

/** Resolved alerts that were told as firing but not yet as resolved. */
export async function resolvedUntold(db: Queryable, limit: number): Promise<StoredAlert[]> {
  const rows = await db
    .selectFrom('alerts')
    .selectAll()
    .where('status', '=', 'resolved')
    .where('told_fired_at', 'is not', null)
    .where('told_resolved_at', 'is', null)
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(fromRow);
}

export interface AlertFilter {
  readonly open?: boolean | undefined;
  readonly status?: AlertStatus | undefined;
  readonly severity?: AlertSeverity | undefined;
  readonly tenant?: string | undefined;
  readonly stage?: string | undefined;
  readonly source?: AlertSource | undefined;
  readonly limit: number;
}

/** What the alert list can be sorted by: id (newest first by default) or when it started. */
export const alertSorts = ['id', 'started'] as const;
export type AlertSort = (typeof alertSorts)[number];
const alertSortColumns: Record<AlertSort, string> = { id: 'id', started: 'started_at' };

/** Newest first. */
export async function listAlerts(db: Queryable, f: AlertFilter): Promise<StoredAlert[]> {
  const rows = await filteredAlerts(db, f).orderBy('id', 'desc').limit(f.limit).execute();
  return rows.map(fromRow);
}

/** One page of alerts (keyset on the sort column and id). */
export async function alertPage(
  db: Queryable,
  f: Omit<AlertFilter, 'limit'>,
  page: PageRequest<AlertSort>,
): Promise<Page<StoredAlert>> {
  const rows = await keysetPage(filteredAlerts(db, f), { sort: alertSortColumns[page.sort], id: 'id' }, page);
  return { ...rows, items: rows.items.map(fromRow) };
}

function filteredAlerts(db: Queryable, f: Omit<AlertFilter, 'limit'>) {
  return db
    .selectFrom('alerts')
    .selectAll()
    .$if(f.open === true, (q) => q.where('status', '<>', 'resolved'))
    .$if(f.status !== undefined, (q) => q.where('status', '=', f.status ?? ''))
    .$if(f.severity !== undefined, (q) => q.where('severity', '=', f.severity ?? ''))
    .$if(f.tenant !== undefined, (q) => q.where('tenant_slug', '=', f.tenant ?? ''))
    .$if(f.stage !== undefined, (q) => q.where('stage_name', '=', f.stage ?? ''))
    .$if(f.source !== undefined, (q) => q.where('source', '=', f.source ?? ''));
}

/** Changes one alert; `onlyIf` guards against a concurrent change (returns undefined when it no longer holds). */
export async function updateAlert(
  tx: Queryable,
  id: string,
  patch: AlertPatch,
  onlyIf?: { status?: readonly AlertStatus[] },
): Promise<StoredAlert | undefined> {
  const row = await tx
    .updateTable('alerts')
    .set(patch)
    .where('id', '=', id)
    .$if(onlyIf?.status !== undefined, (q) => q.where('status', 'in', [...(onlyIf?.status ?? [])]))
    .returningAll()
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** The first delivered notification about an alert: set once. */
export async function markFirstNotified(tx: Queryable, id: string, at: Date): Promise<void> {
  await tx
    .updateTable('alerts')
    .set({ first_notified_at: at })
    .where('id', '=', id)
    .where('first_notified_at', 'is', null)
    .execute();
}

/** A silence: what it mutes, from when to when. */
export interface MuteWindow {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string | null;
  readonly reason: string;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdBy: string;
  readonly createdAt: string;
}

export interface SilenceView extends MuteWindow {
  readonly removedAt: string | null;
  readonly removedBy: string | null;
}

function muteWindowFromRow(row: Selectable<AlertSilencesTable>): MuteWindow {
  return {
    id: row.id,
    tenant: row.tenant_slug,
    stage: row.stage_name,
    reason: row.reason,
    startsAt: iso(row.starts_at) ?? '',
    endsAt: iso(row.ends_at) ?? '',
    createdBy: row.created_by,
    createdAt: iso(row.created_at) ?? '',
  };
}

function silenceFromRow(row: Selectable<AlertSilencesTable>): SilenceView {
  return { ...muteWindowFromRow(row), removedAt: iso(row.removed_at), removedBy: row.removed_by };
}

export interface NewMuteWindow {
  readonly tenant: string;
  readonly stage: string | null;
  readonly reason: string;
  readonly startsAt: Date;
  readonly endsAt: Date;
  readonly createdBy: string;
}

export async function insertSilence(tx: Queryable, s: NewMuteWindow): Promise<SilenceView> {
  const row = await tx
    .insertInto('alert_silences')
    .values({
      tenant_slug: s.tenant,
      stage_name: s.stage,
      reason: s.reason,
      starts_at: s.startsAt,
      ends_at: s.endsAt,
      created_by: s.createdBy,
      created_at: s.startsAt,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return silenceFromRow(row);
}

/** Silences not removed that end after `now` (current or future), or every one when `all`. */
export async function listSilences(
  db: Queryable,
  options: { now: Date; all?: boolean },
): Promise<SilenceView[]> {
  const rows = await db
    .selectFrom('alert_silences')
    .selectAll()
    .$if(options.all !== true, (q) => q.where('removed_at', 'is', null).where('ends_at', '>', options.now))
    .orderBy('id', 'desc')
    .limit(500)
    .execute();
  return rows.map(silenceFromRow);
}

export async function findSilence(db: Queryable, id: string): Promise<SilenceView | undefined> {
  const row = await db.selectFrom('alert_silences').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? silenceFromRow(row) : undefined;
}

export async function removeSilence(
  tx: Queryable,
  id: string,
  by: string,
  at: Date,
): Promise<SilenceView | undefined> {
  const row = await tx
    .updateTable('alert_silences')
    .set({ removed_at: at, removed_by: by })
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  return row ? silenceFromRow(row) : undefined;
}

/**
 * Retention: resolved alerts and silences that ended before `before` go.
 * Maintenance windows stay (the SLA report's exclusions; its issue decides
 * their retention).
 */
export async function pruneAlerts(
  db: Queryable,
  before: Date,
): Promise<{ alerts: number; silences: number }> {
  const alerts = await db
    .deleteFrom('alerts')
    .where('status', '=', 'resolved')
    .where('resolved_at', '<', before)
    .executeTakeFirst();
  const silences = await db.deleteFrom('alert_silences').where('ends_at', '<', before).executeTakeFirst();
  return { alerts: Number(alerts.numDeletedRows), silences: Number(silences.numDeletedRows) };
}
