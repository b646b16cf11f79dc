import { sql } from 'kysely';
import { NotFoundError, showValue } from '../core/errors.ts';
import type { OperatorRole } from '../core/policy.ts';
import type { Queryable } from '../store/db.ts';
import type { Policy } from './escalation.ts';
import type { Override, Rotation, Schedule } from './schedule.ts';

/**
 * The one owner of the oncall_* tables: contacts, schedules, overrides,
 * escalation policies, the alerts being escalated and their pages, and the
 * single uses of signed links.
 */
export interface OperatorRef {
  readonly id: string;
  readonly username: string;
  readonly role: OperatorRole;
  readonly email: string | null;
}

/** Operators (the identity module's table, read here) with their on-call contact. */
export async function listOperators(db: Queryable): Promise<OperatorRef[]> {
  const rows = await db
    .selectFrom('operators')
    .leftJoin('oncall_contacts', 'oncall_contacts.operator_id', 'operators.id')
    .select(['operators.id', 'operators.username', 'operators.role', 'oncall_contacts.email'])
    // Tenant admins (the customers' IT) share the table but are never on call.
    .where('operators.tenant_id', 'is', null)
    .orderBy('operators.username')
    .execute();
  return rows.map((r) => ({ id: r.id, username: r.username, role: r.role as OperatorRole, email: r.email }));
}

export async function setContact(tx: Queryable, operatorId: string, email: string, now: Date): Promise<void> {
  await tx
    .insertInto('oncall_contacts')
    .values({ operator_id: operatorId, email, updated_at: now })
    .onConflict((oc) => oc.column('operator_id').doUpdateSet({ email, updated_at: now }))
    .execute();
}

export interface StoredSchedule extends Schedule {
  readonly id: string;
  readonly createdBy: string;
  readonly createdAt: Date;
}

export async function insertSchedule(
  tx: Queryable,
  s: Schedule,
  createdBy: string,
): Promise<StoredSchedule | undefined> {
  const row = await tx
    .insertInto('oncall_schedules')
    .values({
      name: s.name,
      rotation: s.rotation,
      time_zone: s.timeZone,
      handoff_minute: s.handoffMinute,
      members: [...s.members],
      start_day: s.startDay,
      created_by: createdBy,
    })
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
  return row ? scheduleFromRow(row) : undefined;
}

function scheduleFromRow(row: {
  id: string;
  name: string;
  rotation: string;
  time_zone: string;
  handoff_minute: number;
  members: string[];
  start_day: number;
  created_by: string;
  created_at: Date;
}): StoredSchedule {
  return {
    id: row.id,
    name: row.name,
    rotation: row.rotation as Rotation,
    timeZone: row.time_zone,
    handoffMinute: row.handoff_minute,
    members: row.members,
    startDay: row.start_day,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

export async function listSchedules(db: Queryable): Promise<StoredSchedule[]> {
  const rows = await db.selectFrom('oncall_schedules').selectAll().orderBy('name').execute();
  return rows.map(scheduleFromRow);
}

export async function findSchedule(db: Queryable, name: string, field = 'schedule'): Promise<StoredSchedule> {
  const all = await listSchedules(db);
  const found = all.find((s) => s.name === name);
  if (!found) {
    throw new NotFoundError(
      `field "${field}": no schedule ${showValue(name)}; schedules are: ${all.map((s) => s.name).join(', ') || '(none)'}`,
      { field },
    );
  }
  return found;
}

export async function insertOverride(
  tx: Queryable,
  scheduleId: string,
  o: { member: string; from: Date; until: Date },
  createdBy: string,
  now: Date,
): Promise<Override> {
  const row = await tx
    .insertInto('oncall_overrides')
    .values({
      schedule_id: scheduleId,
      member: o.member,
      starts_at: o.from,
      ends_at: o.until,
      created_by: createdBy,
      created_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return {
    id: row.id,
    member: row.member,
    from: row.starts_at,
    until: row.ends_at,
    createdAt: row.created_at,
  };
}

/** A schedule's overrides that have not ended by `since`. */
export async function overridesOf(db: Queryable, scheduleId: string, since: Date): Promise<Override[]> {
  const rows = await db
    .selectFrom('oncall_overrides')
    .selectAll()
    .where('schedule_id', '=', scheduleId)
    .where('ends_at', '>', since)
    .orderBy('starts_at')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    member: r.member,
    from: r.starts_at,
    until: r.ends_at,
    createdAt: r.created_at,
  }));
}

export async function upsertPolicy(tx: Queryable, policy: Policy, by: string, now: Date): Promise<void> {
  const steps = JSON.stringify(policy.steps);
  await tx
    .insertInto('oncall_escalation_policies')
    .values({ name: policy.name, steps, repeat: policy.repeat, updated_by: by, updated_at: now })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({ steps, repeat: policy.repeat, updated_by: by, updated_at: now }),
    )
    .execute();
}

export async function listPolicies(db: Queryable): Promise<Policy[]> {
  const rows = await db.selectFrom('oncall_escalation_policies').selectAll().orderBy('name').execute();
  return rows.map((r) => ({ name: r.name, steps: r.steps as Policy['steps'], repeat: r.repeat }));
}

export interface Escalation {
  readonly alertId: string;
  readonly firedAt: Date;
  readonly policy: Policy;
}

/** Starts escalating an alert unless it is already (a second fired() is a no-op). */
export async function startEscalation(tx: Queryable, e: Escalation, now: Date): Promise<boolean> {
  const row = await tx
    .insertInto('oncall_escalations')
    .values({ alert_id: e.alertId, fired_at: e.firedAt, policy: JSON.stringify(e.policy), next_at: now })
    .onConflict((oc) => oc.column('alert_id').doNothing())
    .returning('alert_id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Takes the next due escalation, locked for this transaction: `skip locked`
 * lets passes in several processes share the work; a pass that dies leaves
 * it due, and the next pass plans it again from what was paged.
 */
export async function claimDueEscalation(
  tx: Queryable,
  now: Date,
  only?: string,
): Promise<Escalation | undefined> {
  const row = await tx
    .selectFrom('oncall_escalations')
    .select(['alert_id', 'fired_at', 'policy'])
    .where('status', '=', 'escalating')
    .where('next_at', '<=', now)
    .$if(only !== undefined, (q) => q.where('alert_id', '=', only ?? ''))
    .orderBy('next_at')
    .limit(1)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
  if (!row) return undefined;
  return { alertId: row.alert_id, firedAt: new Date(row.fired_at), policy: row.policy as Policy };
}

export async function setNext(tx: Queryable, alertId: string, nextAt: Date): Promise<void> {
  await tx
    .updateTable('oncall_escalations')
    .set({ next_at: nextAt })
    .where('alert_id', '=', alertId)
    .execute();
}

export async function stopEscalation(tx: Queryable, alertId: string, reason: string): Promise<void> {
  await tx
    .updateTable('oncall_escalations')
    .set({ status: 'stopped', next_at: null, reason })
    .where('alert_id', '=', alertId)
    .where('status', '=', 'escalating')
    .execute();
}

/** The pages of an alert that were enqueued, as "round.step". */
export async function pagedSteps(tx: Queryable, alertId: string): Promise<Set<string>> {
  const rows = await tx
    .selectFrom('oncall_pages')
    .select(['round', 'step'])
    .where('alert_id', '=', alertId)
    .execute();
  return new Set(rows.map((r) => `${r.round}.${r.step}`));
}

export async function insertPage(
  tx: Queryable,
  p: { alertId: string; round: number; step: number; recipient: string; notificationId: string; at: Date },
): Promise<void> {
  await tx
    .insertInto('oncall_pages')
    .values({
      alert_id: p.alertId,
      round: p.round,
      step: p.step,
      recipient: p.recipient,
      notification_id: p.notificationId,
      paged_at: p.at,
    })
    .onConflict((oc) => oc.columns(['alert_id', 'round', 'step', 'recipient']).doNothing())
    .execute();
}

export interface PageView {
  readonly round: number;
  readonly step: number;
  readonly recipient: string;
  readonly pagedAt: string;
  readonly notificationId: string | null;
}

export async function pagesOf(db: Queryable, alertId: string): Promise<PageView[]> {
  const rows = await db
    .selectFrom('oncall_pages')
    .selectAll()
    .where('alert_id', '=', alertId)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    round: r.round,
    step: r.step,
    recipient: r.recipient,
    pagedAt: new Date(r.paged_at).toISOString(),
    notificationId: r.notification_id,
  }));
}

/** Records a link's single use; the earlier use when it was used already. */
export async function useLink(
  tx: Queryable,
  use: { nonce: string; alertId: string; action: string; recipient: string; at: Date },
): Promise<{ used: true } | { used: false; usedAt: Date }> {
  const row = await tx
    .insertInto('oncall_link_uses')
    .values({
      nonce: use.nonce,
      alert_id: use.alertId,
      action: use.action,
      recipient: use.recipient,
      used_at: use.at,
    })
    .onConflict((oc) => oc.column('nonce').doNothing())
    .returning('nonce')
    .executeTakeFirst();
  if (row) return { used: true };
  const earlier = await tx
    .selectFrom('oncall_link_uses')
    .select('used_at')
    .where('nonce', '=', use.nonce)
    .executeTakeFirstOrThrow();
  return { used: false, usedAt: new Date(earlier.used_at) };
}

export async function linkUsedAt(db: Queryable, nonce: string): Promise<Date | undefined> {
  const row = await db
    .selectFrom('oncall_link_uses')
    .select('used_at')
    .where('nonce', '=', nonce)
    .executeTakeFirst();
  return row ? new Date(row.used_at) : undefined;
}

/**
 * Alerts on-call was told of that fired within [from, until), with when the
 * first of their pages was delivered (the outbox's delivery time).
 */
export async function escalationsFired(
  db: Queryable,
  from: Date,
  until: Date,
): Promise<{ alertId: string; firedAt: Date; firstDeliveredAt: Date | null }[]> {
  const rows = await db
    .selectFrom('oncall_escalations as e')
    .select([
      'e.alert_id',
      'e.fired_at',
      (eb) =>
        eb
          .selectFrom('oncall_pages as p')
          .innerJoin('notification_outbox as n', 'n.id', 'p.notification_id')
          .select(sql<Date | null>`min(n.finished_at)`.as('first'))
          .whereRef('p.alert_id', '=', 'e.alert_id')
          .where('n.status', '=', 'delivered')
          .as('first_delivered_at'),
    ])
    .where('e.fired_at', '>=', from)
    .where('e.fired_at', '<', until)
    .orderBy('e.fired_at')
    .execute();
  return rows.map((r) => ({
    alertId: r.alert_id,
    firedAt: new Date(r.fired_at),
    firstDeliveredAt: r.first_delivered_at ? new Date(r.first_delivered_at) : null,
  }));
}
