import { sql } from 'kysely';
import { keysetPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { Queryable } from '../store/db.ts';
import type { StagePhase } from './service.ts';

/** What the tenant list can be sorted by; slug is its order. */
export const tenantSorts = ['slug', 'name', 'created'] as const;
export type TenantSort = (typeof tenantSorts)[number];

/** Least advanced first: a tenant's phase is its least advanced stage's (ready only when every stage is). */
export const phaseOrder: readonly StagePhase[] = [
  'failed',
  'deleting',
  'pending',
  'provisioning',
  'paused',
  'ready',
];

export interface TenantFilter {
  /** Slug or display name contains this (any case). */
  readonly q?: string | undefined;
  readonly phase?: StagePhase | undefined;
  readonly tier?: string | undefined;
  readonly region?: string | undefined;
}

const sortColumns: Record<TenantSort, string> = {
  slug: 't.slug',
  name: 't.display_name',
  created: 't.created_at',
};

/** One page of tenants with their stages (in id order), filtered in SQL. */
export async function tenantPage(db: Queryable, filter: TenantFilter, page: PageRequest<TenantSort>) {
  let query = db.selectFrom('tenants as t').selectAll('t');
  if (filter.q !== undefined) {
    const like = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) => eb.or([eb('t.slug', 'ilike', like), eb('t.display_name', 'ilike', like)]));
  }
  if (filter.tier !== undefined) query = query.where('t.tier', '=', filter.tier);
  if (filter.region !== undefined) query = query.where('t.region', '=', filter.region);
  if (filter.phase !== undefined) query = query.where(sql<string>`${tenantPhase}`, '=', filter.phase);
  const tenants: Page<Awaited<ReturnType<typeof query.execute>>[number]> = await keysetPage(
    query,
    { sort: sortColumns[page.sort], id: 't.id' },
    page,
  );
  const ids = tenants.items.map((t) => t.id);
  const stages =
    ids.length === 0
      ? []
      : await db.selectFrom('stages').selectAll().where('tenant_id', 'in', ids).orderBy('id').execute();
  return { tenants, stages };
}

// summarisePhase in SQL: deleting when the tenant is to go, else its least advanced stage's phase.
const phases = sql.raw(`array[${phaseOrder.map((p) => `'${p}'`).join(', ')}]::text[]`);
const tenantPhase = sql`case when t.desired = 'absent' then 'deleting' else (${phases})[coalesce(
  (select min(array_position(${phases}, s.phase)) from stages s where s.tenant_id = t.id), ${phaseOrder.length})] end`;
