import { sql } from 'kysely';
import type { ControlTx } from '../../store/db.ts';
import type { DirectorySource } from './types.ts';

/** A group as a sign-in names it: by display name, or by an external id (Entra's object id) with a name for it. */
export interface SourceGroup {
  readonly displayName: string;
  readonly externalId: string | null;
}

export interface SourceGroupsOutcome {
  /** The user's groups of this source now, by display name. */
  readonly groups: readonly string[];
  readonly added: number;
  readonly removed: number;
  /** Names held by a group of another source: that source stays authoritative, the user is not put in it. */
  readonly skipped: readonly string[];
}

/** One group a name (case-insensitively) or an external id, the first of each kept; empty and long values dropped (pure). */
export function distinctGroups(groups: readonly SourceGroup[]): SourceGroup[] {
  const seen = new Set<string>();
  const out: SourceGroup[] = [];
  for (const g of groups) {
    const name = g.displayName.trim().slice(0, 256);
    const ext = g.externalId === null ? null : g.externalId.trim().slice(0, 256) || null;
    const key = ext === null ? `n:${name.toLowerCase()}` : `x:${ext}`;
    if (name.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push({ displayName: name, externalId: ext });
  }
  return out;
}

/**
 * Makes a user's memberships in groups of `source` exactly `groups`, in set
 * statements inside the caller's transaction: the groups of that source not
 * there yet are created (a concurrent sign-in making the same one is fine:
 * `on conflict do nothing`, then read back), the user joins the ones missing
 * and leaves the others of that source. Groups of other sources are never
 * created, joined or left here: a name another source holds is skipped.
 */
export async function setSourceMemberships(
  tx: ControlTx,
  tenantId: string,
  userId: string,
  source: DirectorySource,
  wanted: readonly SourceGroup[],
): Promise<SourceGroupsOutcome> {
  const groups = distinctGroups(wanted);
  const names = groups.map((g) => g.displayName);
  const exts = groups.map((g) => g.externalId);
  if (groups.length > 0) {
    await sql`insert into tenant_groups (tenant_id, display_name, external_id, source)
      select ${tenantId}, n.name, n.ext, ${source}
      from unnest(${names}::text[], ${exts}::text[]) as n(name, ext)
      on conflict do nothing`.execute(tx);
  }
  // Each wanted group as stored now: by external id when it has one, else by name.
  const found = await sql<{ id: string; display_name: string; source: string; wanted: string }>`
    select g.id, g.display_name, g.source, n.name as wanted
    from unnest(${names}::text[], ${exts}::text[]) as n(name, ext)
    join tenant_groups g on g.tenant_id = ${tenantId}
      and ((n.ext is not null and g.external_id = n.ext)
        or (n.ext is null and lower(g.display_name) = lower(n.name)))`.execute(tx);
  const keep = found.rows.filter((r) => r.source === source);
  const keepIds = keep.map((r) => r.id);
  const foundNames = new Set(keep.map((r) => r.wanted));
  const skipped = names.filter((n) => !foundNames.has(n));
  const removed = await sql<{ group_id: string }>`
    delete from tenant_group_members m using tenant_groups g
    where m.group_id = g.id and m.user_id = ${userId}::uuid and g.tenant_id = ${tenantId}
      and g.source = ${source} and not (g.id = any(${keepIds}::uuid[]))
    returning m.group_id`.execute(tx);
  const added = await sql<{ group_id: string }>`
    insert into tenant_group_members (group_id, user_id)
    select g, ${userId}::uuid from unnest(${keepIds}::uuid[]) as g
    where exists (select 1 from tenant_users u where u.id = ${userId}::uuid and u.tenant_id = ${tenantId})
    on conflict do nothing
    returning group_id`.execute(tx);
  const touched = [...removed.rows, ...added.rows].map((r) => r.group_id);
  if (touched.length > 0) {
    await tx
      .updateTable('tenant_groups')
      .set({ version: sql`version + 1`, updated_at: sql`clock_timestamp()` })
      .where('id', '=', sql<string>`any(${touched}::uuid[])`)
      .execute();
  }
  return {
    groups: keep.map((r) => r.display_name).sort(),
    added: added.rows.length,
    removed: removed.rows.length,
    skipped,
  };
}
