import { sql } from 'kysely';
import type { Queryable } from '../../store/db.ts';
import type { RoleMapping } from './mapping.ts';

/**
 * The one writer of role_mappings. Reads join tenants and stages for their
 * names; a mapping of a removed stage goes with it (on delete cascade).
 */
const iso = (d: Date | string): string =>
  typeof d === 'string' ? new Date(d).toISOString() : d.toISOString();

function mappings(db: Queryable) {
  return db
    .selectFrom('role_mappings as m')
    .innerJoin('tenants as t', 't.id', 'm.tenant_id')
    .leftJoin('stages as s', 's.id', 'm.stage_id')
    .select([
      'm.id',
      't.slug as tenant',
      's.name as stage',
      'm.group_name',
      'm.role',
      'm.created_by',
      'm.created_at',
      // Whether the directory has a group of that name (as it compares names): a typo shows.
      sql<boolean>`exists (select 1 from tenant_groups g
        where g.tenant_id = m.tenant_id and lower(g.display_name) = lower(m.group_name))`.as('group_known'),
    ]);
}

type Row = Awaited<ReturnType<ReturnType<typeof mappings>['executeTakeFirstOrThrow']>>;

const fromRow = (r: Row): RoleMapping => ({
  id: r.id,
  tenant: r.tenant,
  stage: r.stage,
  group: r.group_name,
  role: r.role,
  createdBy: r.created_by,
  createdAt: iso(r.created_at),
  groupKnown: r.group_known,
});

/**
 * The tenant's mappings, by stage name and group; with `stage`, those of that
 * stage and those of all stages (what applies there).
 */
export async function listMappings(
  db: Queryable,
  tenantId: string,
  filter: { readonly stage?: string | undefined; readonly groupKey?: string | undefined } = {},
): Promise<RoleMapping[]> {
  let query = mappings(db).where('m.tenant_id', '=', tenantId);
  if (filter.stage !== undefined) {
    const stage = filter.stage;
    query = query.where((eb) => eb.or([eb('m.stage_id', 'is', null), eb('s.name', '=', stage)]));
  }
  if (filter.groupKey !== undefined) query = query.where('m.group_key', '=', filter.groupKey);
  const rows = await query
    .orderBy(sql`s.name nulls first`)
    .orderBy('m.group_key')
    .orderBy('m.role')
    .execute();
  return rows.map(fromRow);
}

/** Serialises changes of one tenant's mappings (the count limit holds under concurrent adds). */
export async function lockTenantMappings(tx: Queryable, tenantId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('role_mappings'), ${Number(tenantId)}::int)`.execute(tx);
}

export async function countMappings(db: Queryable, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('role_mappings')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface NewRoleMapping {
  readonly tenantId: string;
  readonly stageId: string | null;
  readonly group: string;
  readonly groupKey: string;
  readonly role: string;
  readonly createdBy: string;
}

/** Adds a mapping; undefined when the same one (stage, group without case, role) is there already. */
export async function insertMapping(tx: Queryable, m: NewRoleMapping): Promise<string | undefined> {
  const row = await tx
    .insertInto('role_mappings')
    .values({
      tenant_id: m.tenantId,
      stage_id: m.stageId,
      group_name: m.group,
      group_key: m.groupKey,
      role: m.role,
      created_by: m.createdBy,
    })
    .onConflict((oc) => oc.doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id;
}

export async function findMapping(db: Queryable, id: string): Promise<RoleMapping | undefined> {
  const row = await mappings(db).where('m.id', '=', id).executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** Removes the mappings of a group on exactly this stage (null: the all-stages ones), of one role or all. */
export async function deleteMappings(
  tx: Queryable,
  where: {
    readonly tenantId: string;
    readonly stageId: string | null;
    readonly groupKey: string;
    readonly role?: string | undefined;
  },
): Promise<string[]> {
  let query = tx
    .deleteFrom('role_mappings')
    .where('tenant_id', '=', where.tenantId)
    .where('group_key', '=', where.groupKey)
    .where('stage_id', where.stageId === null ? 'is' : '=', where.stageId);
  if (where.role !== undefined) query = query.where('role', '=', where.role);
  const rows = await query.returning('role').execute();
  return rows.map((r) => r.role).sort();
}

/** The (stage, group, role) triples that apply on a stage of a tenant: what the resolver needs. */
export async function stageMappings(
  db: Queryable,
  tenantId: string,
  stage: string,
): Promise<{ stage: string | null; group: string; role: string }[]> {
  const rows = await db
    .selectFrom('role_mappings as m')
    .leftJoin('stages as s', 's.id', 'm.stage_id')
    .select(['s.name as stage', 'm.group_name as group', 'm.role'])
    .where('m.tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('m.stage_id', 'is', null), eb('s.name', '=', stage)]))
    .execute();
  return rows;
}
