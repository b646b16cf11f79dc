import { sql, type Selectable } from 'kysely';
import type { StagesTable } from '../store/schema.ts';
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
  if (filter.phase !== undefined) query = query.where(phaseIs(filter.phase));
  const tenants: Page<Awaited<ReturnType<typeof query.execute>>[number]> = await keysetPage(
    query,
    { sort: sortColumns[page.sort], id: 't.id' },
    page,
  );
  const ids = tenants.items.map((t) => t.id);
  // One index probe per tenant of the page (offset 0 keeps the lateral from becoming a hash join):
  // with `tenant_id in (…)` PostgreSQL scans every stage.
  const stages =
    ids.length === 0
      ? []
      : (
          await sql<Selectable<StagesTable>>`select s.* from unnest(${ids}::bigint[]) as p(id)
            cross join lateral (select * from stages where tenant_id = p.id offset 0) s order by s.id`.execute(
            db,
          )
        ).rows;
  return { tenants, stages };
}

/**
 * summarisePhase in SQL, as semi- and anti-joins PostgreSQL can run against
 * the few stages that are not ready (stages_not_ready) rather than an
 * aggregate per tenant: a tenant is in phase P when it has a stage in P and
 * none in a less advanced phase (deleting also when the tenant is to go;
 * ready when no stage is anything else).
 */
function phaseIs(phase: StagePhase) {
  const before = phaseOrder.slice(0, phaseOrder.indexOf(phase));
  const stageIn = (phases: readonly string[]) =>
    sql<boolean>`exists (select 1 from stages s where s.tenant_id = t.id and s.phase in (${sql.join(phases)}))`;
  if (phase === 'ready') {
    return sql<boolean>`t.desired <> 'absent' and not exists (select 1 from stages s where s.tenant_id = t.id and s.phase <> 'ready')`;
  }
  const own =
    before.length > 0 ? sql<boolean>`${stageIn([phase])} and not ${stageIn(before)}` : stageIn([phase]);
  return phase === 'deleting'
    ? sql<boolean>`(t.desired = 'absent' or ${own})`
    : sql<boolean>`t.desired <> 'absent' and ${own}`;
}
