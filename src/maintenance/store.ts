import { sql, type Selectable } from 'kysely';
import type { Queryable } from '../store/db.ts';
import type { MaintenanceWindowsTable } from '../store/schema-operations.ts';
import type { MaintenanceKind } from './plan.ts';

/**
 * The one writer of maintenance_windows. The alert service reads current
 * windows to mute notifications; the SLA report reads starts_at, ends_at,
 * tenant_slug, stage_name and reason (and announce_days, announced_at for
 * its announced-maintenance clause). A cancelled or early-ended window keeps
 * its row: ends_at moves to when it ended (a planned one becomes empty).
 */
export interface MaintenanceWindowView {
  readonly id: string;
  readonly tenant: string;
  /** null: every stage of the tenant. */
  readonly stage: string | null;
  readonly reason: string;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdBy: string;
  readonly createdAt: string;
  /** Who ended it early (or cancelled it). */
  readonly endedBy: string | null;
  readonly kind: MaintenanceKind;
  readonly timeZone: string;
  readonly announceDays: number;
  /** When the announcement to the tenant's contacts was enqueued; null: not (yet) announced. */
  readonly announcedAt: string | null;
  readonly cancelledAt: string | null;
  readonly cancelledBy: string | null;
}

const iso = (d: Date | string | null): string | null =>
  d === null ? null : typeof d === 'string' ? new Date(d).toISOString() : d.toISOString();

function fromRow(row: Selectable<MaintenanceWindowsTable>): MaintenanceWindowView {
  return {
    id: row.id,
    tenant: row.tenant_slug,
    stage: row.stage_name,
    reason: row.reason,
    startsAt: iso(row.starts_at) ?? '',
    endsAt: iso(row.ends_at) ?? '',
    createdBy: row.created_by,
    createdAt: iso(row.created_at) ?? '',
    endedBy: row.ended_by,
    kind: row.kind as MaintenanceKind,
    timeZone: row.time_zone,
    announceDays: row.announce_days,
    announcedAt: iso(row.announced_at),
    cancelledAt: iso(row.cancelled_at),
    cancelledBy: row.cancelled_by,
  };
}

export interface NewMaintenanceWindow {
  readonly tenant: string;
  readonly stage: string | null;
  readonly reason: string;
  readonly startsAt: Date;
  readonly endsAt: Date;
  readonly createdBy: string;
  readonly kind?: MaintenanceKind;
  readonly timeZone?: string;
  readonly announceDays?: number;
}

export async function insertMaintenanceWindow(
  tx: Queryable,
  w: NewMaintenanceWindow,
): Promise<MaintenanceWindowView> {
  const row = await tx
    .insertInto('maintenance_windows')
    .values({
      tenant_slug: w.tenant,
      stage_name: w.stage,
      reason: w.reason,
      starts_at: w.startsAt,
      ends_at: w.endsAt,
      created_by: w.createdBy,
      kind: w.kind ?? 'planned',
      time_zone: w.timeZone ?? 'UTC',
      announce_days: w.announceDays ?? 0,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return fromRow(row);
}

export async function findMaintenanceWindow(
  db: Queryable,
  id: string,
  options: { lock?: boolean } = {},
): Promise<MaintenanceWindowView | undefined> {
  const row = await db
    .selectFrom('maintenance_windows')
    .selectAll()
    .where('id', '=', id)
    .$if(options.lock === true, (q) => q.forUpdate())
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** Windows that end after `now` (current or planned), or every one when `all`; newest first. */
export async function listMaintenanceWindows(
  db: Queryable,
  options: { now: Date; all?: boolean | undefined; tenant?: string | undefined },
): Promise<MaintenanceWindowView[]> {
  const rows = await db
    .selectFrom('maintenance_windows')
    .selectAll()
    .$if(options.all !== true, (q) => q.where('ends_at', '>', options.now))
    .$if(options.tenant !== undefined, (q) => q.where('tenant_slug', '=', options.tenant ?? ''))
    .orderBy('id', 'desc')
    .limit(500)
    .execute();
  return rows.map(fromRow);
}

/** Windows not yet announced, not cancelled, not over: the announcement pass decides which are due. */
export async function unannouncedWindows(db: Queryable, now: Date): Promise<MaintenanceWindowView[]> {
  const rows = await db
    .selectFrom('maintenance_windows')
    .selectAll()
    .where('announced_at', 'is', null)
    .where('cancelled_at', 'is', null)
    .where('ends_at', '>', now)
    .orderBy('id')
    .limit(1000)
    .execute();
  return rows.map(fromRow);
}

export async function markAnnounced(tx: Queryable, id: string, at: Date): Promise<void> {
  await tx
    .updateTable('maintenance_windows')
    .set({ announced_at: at })
    .where('id', '=', id)
    .where('announced_at', 'is', null)
    .execute();
}

/**
 * Ends a current window now, or cancels a planned one (it becomes empty:
 * it never mutes). Returns undefined when it is already over.
 */
export async function endMaintenanceWindow(
  tx: Queryable,
  id: string,
  by: string,
  at: Date,
): Promise<MaintenanceWindowView | undefined> {
  const row = await tx
    .updateTable('maintenance_windows')
    .set((eb) => ({
      ends_at: eb.fn('greatest', [eb.ref('starts_at'), eb.val(at)]),
      ended_by: by,
      // Not started yet: this is a cancellation.
      cancelled_at: sql<Date | null>`case when starts_at > ${at}::timestamptz then ${at}::timestamptz end`,
      cancelled_by: sql<string | null>`case when starts_at > ${at}::timestamptz then ${by}::text end`,
    }))
    .where('id', '=', id)
    .where('ends_at', '>', at)
    .where('cancelled_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}
