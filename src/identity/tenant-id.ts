import type { Queryable } from '../store/db.ts';

/**
 * The id of a present tenant by its slug, or undefined: identity's stores
 * (LDAP directories, role mappings, tenant admins) name tenants by slug.
 */
export async function findTenantId(db: Queryable, slug: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('tenants')
    .select('id')
    .where('slug', '=', slug)
    .where('desired', '=', 'present')
    .executeTakeFirst();
  return row?.id;
}
