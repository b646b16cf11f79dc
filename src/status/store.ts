import type { Selectable } from 'kysely';
import type { Queryable } from '../store/db.ts';
import type { StatusLinksTable } from '../store/schema-operations.ts';

/**
 * The one writer of status_links: a tenant's private status-page link. The
 * token itself is shown once, when made or rotated; only its SHA-256 is kept.
 */
export interface StatusLink {
  readonly tenant: string;
  readonly tokenSha256: Buffer;
  readonly publicStages: readonly string[];
  readonly rotatedAt: string;
}

const fromRow = (r: Selectable<StatusLinksTable>): StatusLink => ({
  tenant: r.tenant_slug,
  tokenSha256: r.token_sha256,
  publicStages: r.public_stages,
  rotatedAt: new Date(r.rotated_at).toISOString(),
});

/** Every link: a small table, read whole by the page cache. */
export async function listStatusLinks(db: Queryable): Promise<StatusLink[]> {
  const rows = await db.selectFrom('status_links').selectAll().execute();
  return rows.map(fromRow);
}

export async function findStatusLink(db: Queryable, tenant: string): Promise<StatusLink | undefined> {
  const row = await db
    .selectFrom('status_links')
    .selectAll()
    .where('tenant_slug', '=', tenant)
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** Sets (or replaces: a rotation) the token of a tenant's link; public stages are kept unless given. */
export async function saveStatusLink(
  db: Queryable,
  link: { tenant: string; tokenSha256: Buffer; publicStages?: readonly string[] | undefined; at: Date },
): Promise<void> {
  await db
    .insertInto('status_links')
    .values({
      tenant_slug: link.tenant,
      token_sha256: link.tokenSha256,
      public_stages: [...(link.publicStages ?? ['prod'])],
      created_at: link.at,
      rotated_at: link.at,
    })
    .onConflict((oc) =>
      oc.column('tenant_slug').doUpdateSet((eb) => ({
        token_sha256: eb.ref('excluded.token_sha256'),
        rotated_at: eb.ref('excluded.rotated_at'),
        ...(link.publicStages ? { public_stages: eb.ref('excluded.public_stages') } : {}),
      })),
    )
    .execute();
}
