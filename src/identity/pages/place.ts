import { buildRouteTable } from '../../gateway/routes.ts';
import { loadRouteSources } from '../../gateway/state.ts';
import type { ControlDb } from '../../store/db.ts';
import type { PagePlace, PlaceResolver } from './router.ts';

/**
 * Which tenant and stage a page's host belongs to: the route table, built
 * from desired state like the data plane's (never anything but the Host,
 * which the edge has checked against SNI). Cached for a few seconds.
 */
export function routePlaces(db: ControlDb, baseDomain: string, cacheMs = 2000): PlaceResolver {
  let cached:
    | {
        at: number;
        table: ReturnType<typeof buildRouteTable>;
        tenants: Map<string, { id: string; name: string }>;
      }
    | undefined;
  return {
    async resolve(host, address): Promise<PagePlace | undefined> {
      if (!cached || Date.now() - cached.at > cacheMs) {
        const [sources, tenants] = await Promise.all([
          loadRouteSources(db),
          db
            .selectFrom('tenants')
            .select(['id', 'slug', 'display_name'])
            .where('desired', '=', 'present')
            .execute(),
        ]);
        cached = {
          at: Date.now(),
          table: buildRouteTable(sources, baseDomain),
          tenants: new Map(tenants.map((row) => [row.slug, { id: String(row.id), name: row.display_name }])),
        };
      }
      const route = cached.table.get(host);
      const tenant = route ? cached.tenants.get(route.tenant) : undefined;
      if (!route || !tenant) return undefined;
      return {
        tenantId: tenant.id,
        tenant: route.tenant,
        tenantName: tenant.name,
        stage: route.stage,
        host,
        address,
      };
    },
  };
}
