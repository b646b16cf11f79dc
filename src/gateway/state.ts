import { sql } from 'kysely';
import type { Queryable } from '../store/db.ts';
import type { RouteSource } from './routes.ts';

/**
 * What the gateway reads from desired state: the stages it routes to and the
 * operators' certificates. One query each, run on every NOTIFY and resync.
 */
export const routesChannel = 'steward_routes';

/** A route source with its stage's id: the data plane names a stage's backend by it. */
export interface StageRouteSource extends RouteSource {
  readonly stageId: string;
  /** The tenant's tier (shared, dedicated, ha): its request rate at the edge. */
  readonly tier: string;
}

/** Stages desired present, of tenants desired present, with a published endpoint. */
export async function loadRouteSources(db: Queryable): Promise<StageRouteSource[]> {
  const rows = await db
    .selectFrom('stages')
    .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
    .select([
      'stages.id as stage_id',
      'tenants.slug as tenant',
      'tenants.tier',
      'stages.name as stage',
      'stages.published_port',
      'stages.allow_from',
      'stages.maintenance',
      sql<
        string[]
      >`coalesce((select array_agg(d.domain order by d.domain) from stage_domains d where d.stage_id = stages.id), '{}')`.as(
        'domains',
      ),
    ])
    .where('tenants.desired', '=', 'present')
    .where('stages.desired', '=', 'present')
    .where('stages.published_port', 'is not', null)
    .orderBy('tenants.slug')
    .orderBy('stages.name')
    .execute();
  return rows.map((r) => ({
    stageId: String(r.stage_id),
    tenant: r.tenant,
    tier: r.tier,
    stage: r.stage,
    publishedPort: r.published_port ?? 0,
    allowFrom: r.allow_from,
    maintenance: r.maintenance,
    domains: r.domains,
  }));
}

export interface StoredCertificate {
  readonly domain: string;
  readonly certPem: string;
  readonly keySecret: string;
  readonly notAfter: Date;
  readonly version: string;
}

export async function loadCertificates(db: Queryable): Promise<StoredCertificate[]> {
  const rows = await db
    .selectFrom('tls_certificates')
    .select(['domain', 'cert_pem', 'key_secret', 'not_after', sql<string>`updated_at::text`.as('version')])
    .orderBy('domain')
    .execute();
  return rows.map((r) => ({
    domain: r.domain,
    certPem: r.cert_pem,
    keySecret: r.key_secret,
    notAfter: r.not_after,
    version: r.version,
  }));
}
