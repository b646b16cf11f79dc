import type { ControlDb } from '../store/db.ts';
import type { StageRestores } from '../tenants/renamer.ts';

/**
 * The databases in-place restores keep beside a shared stage's database
 * (`<name>_pre_<time>`, until `restore discard`), for the stage reconciler
 * when it renames a stage created before opaque names: a kept database named
 * `st_acme_prod_pre_…` would show every tenant's role the customer's name in
 * pg_database, so it follows its stage to `<opaque>_pre_…`. The restores
 * table is the restore service's; this is its narrow door for that rename.
 */
export function stageRestores(db: ControlDb): StageRestores {
  return {
    async running(tenant, stage) {
      const row = await db
        .selectFrom('restores')
        .select('id')
        .where('tenant_slug', '=', tenant)
        .where('target_stage', '=', stage)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return row !== undefined;
    },

    async kept(tenant, stage) {
      const rows = await db
        .selectFrom('restores')
        .select(['id', 'kept_database'])
        .where('tenant_slug', '=', tenant)
        .where('target_stage', '=', stage)
        .where('kept_database', 'is not', null)
        .where('discarded_at', 'is', null)
        .orderBy('created_at')
        .execute();
      return rows.flatMap((r) => (r.kept_database ? [{ restoreId: r.id, name: r.kept_database }] : []));
    },

    async keptRenamed(restoreId, from, to) {
      await db
        .updateTable('restores')
        .set({ kept_database: to })
        .where('id', '=', restoreId)
        .where('kept_database', '=', from)
        .execute();
    },
  };
}
