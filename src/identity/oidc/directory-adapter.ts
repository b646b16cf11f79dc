import type { ControlDb } from '../../store/db.ts';
import type { JoinUser, OidcDirectory } from './join.ts';

/**
 * The join's view of the directory, over tenant_users. The directory module
 * (src/identity/directory/, id-scim) owns that table: once it is on main this
 * adapter only calls it (find by userName/e-mail, create with source oidc),
 * and the insert below goes.
 */
export function tableDirectory(db: ControlDb): OidcDirectory {
  const columns = ['id', 'user_name', 'email', 'active'] as const;
  const of = (row: { id: string; user_name: string; email: string | null; active: boolean }): JoinUser => ({
    id: row.id,
    userName: row.user_name,
    email: row.email,
    active: row.active,
  });
  return {
    async user(tenantId, id) {
      const row = await db
        .selectFrom('tenant_users')
        .select(columns)
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && of(row);
    },
    async matching(tenantId, value) {
      const lower = value.toLowerCase();
      const rows = await db
        .selectFrom('tenant_users')
        .select(columns)
        .where('tenant_id', '=', tenantId)
        .where((eb) => eb.or([eb(eb.fn('lower', ['user_name']), '=', lower), eb('email', '=', lower)]))
        .limit(10)
        .execute();
      return rows.map(of);
    },
    async provision(tenantId, fields) {
      const row = await db
        .insertInto('tenant_users')
        .values({
          tenant_id: tenantId,
          user_name: fields.userName,
          email: fields.email,
          display_name: fields.displayName,
          source: 'oidc',
        })
        .returning(columns)
        .executeTakeFirstOrThrow();
      return of(row);
    },
  };
}
