import { sql } from 'kysely';
import { ConflictError, InputError, NotFoundError, showValue, StewardError } from '../../core/errors.ts';
import type { ControlTx } from '../../store/db.ts';
import { groupOf, groupRow, isId, userOf, userRow } from './rows.ts';
import { setSourceMemberships, type SourceGroup, type SourceGroupsOutcome } from './source-groups.ts';
import type {
  DirectoryGroup,
  DirectorySource,
  DirectoryUser,
  GroupFields,
  UserFields,
  UserGone,
} from './types.ts';

/** The version a write was made against is no longer the stored one (SCIM: 412 Precondition Failed). */
export class VersionMismatchError extends StewardError {
  readonly code = 'conflict';
  readonly status = 412;
}

/**
 * The database's own clock, not the transaction's start: the users a bulk
 * transaction creates keep their order in lists (created_at, id).
 */
const stamp = sql<Date>`clock_timestamp()`;

/** Most members one call adds, removes or sets: a large group is sent in several PATCHes. */
export const maxMembersPerCall = 100_000;

/**
 * The writes of the Directory, inside one transaction (Directory.write opens
 * it). Changes to one user or group take its row lock first, so concurrent
 * writers queue rather than overwrite each other, and each bumps the version.
 */
export class DirectoryWriter {
  readonly tx: ControlTx;
  /** Users deactivated or deleted in this transaction: told to the listeners after it commits. */
  readonly gone: UserGone[] = [];

  constructor(tx: ControlTx) {
    this.tx = tx;
  }

  async createUser(tenantId: string, fields: UserFields, source: DirectorySource): Promise<DirectoryUser> {
    const row = userRow(fields);
    const created = await unique(
      this.tx
        .insertInto('tenant_users')
        .values({ tenant_id: tenantId, source, ...row, created_at: stamp, updated_at: stamp })
        .returningAll()
        .executeTakeFirstOrThrow(),
      row,
    );
    return userOf(created);
  }

  /**
   * Replaces a user's fields with what `change` makes of the current user,
   * under the row lock. `ifVersion`: refuse (412) unless the stored version
   * is this one. Deactivation tells the listeners.
   */
  async updateUser(
    tenantId: string,
    id: string,
    change: (current: DirectoryUser) => UserFields | Promise<UserFields>,
    options: { ifVersion?: number | undefined } = {},
  ): Promise<DirectoryUser> {
    const current = await this.lockUser(tenantId, id);
    checkVersion('user', id, current.version, options.ifVersion);
    const row = userRow(await change(current));
    const updated = await unique(
      this.tx
        .updateTable('tenant_users')
        .set({ ...row, version: sql`version + 1`, updated_at: stamp })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow(),
      row,
    );
    if (current.active && !updated.active) this.gone.push({ kind: 'deactivated', tenantId, userId: id });
    return userOf(updated);
  }

  /** Active or not (a soft delete); memberships stay. Returns the user as stored. */
  async setActive(tenantId: string, id: string, active: boolean): Promise<DirectoryUser> {
    return this.updateUser(tenantId, id, (u) => ({ ...u, active }));
  }

  /** A hard delete: the user and its memberships go. */
  async deleteUser(tenantId: string, id: string): Promise<void> {
    await this.lockUser(tenantId, id);
    await this.tx.deleteFrom('tenant_users').where('id', '=', id).execute();
    this.gone.push({ kind: 'deleted', tenantId, userId: id });
  }

  async recordSignIn(tenantId: string, id: string, at: Date): Promise<void> {
    if (!isId(id)) return;
    await this.tx
      .updateTable('tenant_users')
      .set({ last_sign_in_at: at })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .execute();
  }

  async createGroup(tenantId: string, fields: GroupFields, source: DirectorySource): Promise<DirectoryGroup> {
    const row = groupRow(fields);
    const created = await unique(
      this.tx
        .insertInto('tenant_groups')
        .values({ tenant_id: tenantId, source, ...row, created_at: stamp, updated_at: stamp })
        .returningAll()
        .executeTakeFirstOrThrow(),
      row,
    );
    return groupOf(created);
  }

  async updateGroup(
    tenantId: string,
    id: string,
    change: (current: DirectoryGroup) => GroupFields | Promise<GroupFields>,
    options: { ifVersion?: number | undefined } = {},
  ): Promise<DirectoryGroup> {
    const current = await this.lockGroup(tenantId, id);
    checkVersion('group', id, current.version, options.ifVersion);
    const row = groupRow(await change(current));
    const updated = await unique(
      this.tx
        .updateTable('tenant_groups')
        .set({ ...row, version: sql`version + 1`, updated_at: stamp })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow(),
      row,
    );
    return groupOf(updated);
  }

  async deleteGroup(tenantId: string, id: string): Promise<void> {
    await this.lockGroup(tenantId, id);
    await this.tx.deleteFrom('tenant_groups').where('id', '=', id).execute();
  }

  /**
   * Adds users to a group in one statement (members already in stay once).
   * Every id must name a user of the tenant; the unknown ones are named.
   */
  async addMembers(tenantId: string, groupId: string, userIds: readonly string[]): Promise<number> {
    const ids = memberIds(userIds);
    await this.lockGroup(tenantId, groupId);
    if (ids.length === 0) return 0;
    // Only the tenant's users go in; when fewer went in than were named, the rest are members already or unknown.
    const added = await sql<{ n: number }>`
      with ins as (
        insert into tenant_group_members (group_id, user_id)
        select ${groupId}::uuid, t.id from tenant_users t where t.tenant_id = ${tenantId} and t.id = any(${ids}::uuid[])
        on conflict do nothing
        returning 1
      ) select count(*)::int as n from ins`.execute(this.tx);
    const n = added.rows[0]?.n ?? 0;
    if (n < ids.length) await this.#knownUsers(tenantId, ids);
    await this.#touchGroup(groupId);
    return n;
  }

  /** Removes users from a group in one statement; ids that are not members are ignored. */
  async removeMembers(tenantId: string, groupId: string, userIds: readonly string[]): Promise<number> {
    const ids = memberIds(userIds);
    await this.lockGroup(tenantId, groupId);
    if (ids.length === 0) return 0;
    const removed = await this.tx
      .deleteFrom('tenant_group_members')
      .where('group_id', '=', groupId)
      .where('user_id', '=', sql<string>`any(${ids}::uuid[])`)
      .executeTakeFirst();
    await this.#touchGroup(groupId);
    return Number(removed.numDeletedRows);
  }

  /** Sets a group's members to exactly these users (two set-based statements). */
  async replaceMembers(tenantId: string, groupId: string, userIds: readonly string[]): Promise<void> {
    const ids = memberIds(userIds);
    await this.lockGroup(tenantId, groupId);
    if (ids.length > 0) await this.#knownUsers(tenantId, ids);
    await this.tx
      .deleteFrom('tenant_group_members')
      .where('group_id', '=', groupId)
      .where(sql<boolean>`not (user_id = any(${ids}::uuid[]))`)
      .execute();
    if (ids.length > 0) {
      await sql`insert into tenant_group_members (group_id, user_id)
        select ${groupId}::uuid, u from unnest(${ids}::uuid[]) as u on conflict do nothing`.execute(this.tx);
    }
    await this.#touchGroup(groupId);
  }

  /** A user's memberships in the groups of one source, set to exactly these (source-groups.ts); the user locked first. */
  async setSourceGroups(
    tenantId: string,
    userId: string,
    source: DirectorySource,
    groups: readonly SourceGroup[],
  ): Promise<SourceGroupsOutcome> {
    await this.lockUser(tenantId, userId);
    return setSourceMemberships(this.tx, tenantId, userId, source, groups);
  }

  /** Locks a user of the tenant (for update) and returns it, or throws NotFoundError. */
  async lockUser(tenantId: string, id: string): Promise<DirectoryUser> {
    const row = isId(id)
      ? await this.tx
          .selectFrom('tenant_users')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .where('id', '=', id)
          .forUpdate()
          .executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError(`no user ${showValue(id)} in this tenant`, { field: 'id' });
    return userOf(row);
  }

  async lockGroup(tenantId: string, id: string): Promise<DirectoryGroup> {
    const row = isId(id)
      ? await this.tx
          .selectFrom('tenant_groups')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .where('id', '=', id)
          .forUpdate()
          .executeTakeFirst()
      : undefined;
    if (!row) throw new NotFoundError(`no group ${showValue(id)} in this tenant`, { field: 'id' });
    return groupOf(row);
  }

  async #touchGroup(groupId: string): Promise<void> {
    await this.tx
      .updateTable('tenant_groups')
      .set({ version: sql`version + 1`, updated_at: stamp })
      .where('id', '=', groupId)
      .execute();
  }

  async #knownUsers(tenantId: string, ids: readonly string[]): Promise<void> {
    const unknown = await sql<{ id: string }>`
      select u as id from unnest(${ids}::uuid[]) as u
      where not exists (select 1 from tenant_users t where t.id = u and t.tenant_id = ${tenantId})
      limit 5`.execute(this.tx);
    if (unknown.rows.length > 0) {
      throw new InputError(
        `field "members": no user ${unknown.rows.map((r) => showValue(r.id)).join(', ')} in this tenant; members are ids of the tenant's users`,
        { field: 'members' },
      );
    }
  }
}

function memberIds(userIds: readonly string[]): string[] {
  if (userIds.length > maxMembersPerCall) {
    throw new InputError(
      `field "members": ${userIds.length} members in one change; at most ${maxMembersPerCall}`,
      {
        field: 'members',
      },
    );
  }
  const bad = userIds.find((id) => !isId(id));
  if (bad !== undefined) {
    throw new InputError(
      `field "members": ${showValue(bad)} is not a user id; ids look like "2f9c…" (a UUID)`,
      {
        field: 'members',
      },
    );
  }
  return [...new Set(userIds.map((id) => id.toLowerCase()))];
}

/** Turns a unique-index violation into a 409 naming the field and the value. */
async function unique<T>(
  query: Promise<T>,
  row: { user_name?: string; display_name?: string | null; external_id: string | null },
): Promise<T> {
  try {
    return await query;
  } catch (error) {
    const constraint =
      (error as { code?: string; constraint?: string }).code === '23505'
        ? (error as { constraint?: string }).constraint
        : undefined;
    if (constraint === 'tenant_users_user_name') {
      throw new ConflictError(
        `field "userName": ${showValue(row.user_name)} is taken in this tenant (case-insensitive)`,
        {
          field: 'userName',
          cause: error,
        },
      );
    }
    if (constraint === 'tenant_groups_display_name') {
      throw new ConflictError(
        `field "displayName": a group ${showValue(row.display_name)} exists in this tenant`,
        {
          field: 'displayName',
          cause: error,
        },
      );
    }
    if (constraint === 'tenant_users_external_id' || constraint === 'tenant_groups_external_id') {
      throw new ConflictError(`field "externalId": ${showValue(row.external_id)} is taken in this tenant`, {
        field: 'externalId',
        cause: error,
      });
    }
    throw error;
  }
}

/** `ifVersion` (If-Match): refuse (412) unless the stored version is this one. */
function checkVersion(
  kind: 'user' | 'group',
  id: string,
  version: number,
  ifVersion: number | undefined,
): void {
  if (ifVersion !== undefined && ifVersion !== version) {
    throw new VersionMismatchError(
      `${kind} ${id} is at version ${version}, not ${ifVersion}; read it again`,
      {
        field: 'version',
      },
    );
  }
}
