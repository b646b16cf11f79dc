import { sql } from 'kysely';
import type { SourceGroup, SourceGroupsOutcome } from './source-groups.ts';
import type { Logger } from 'pino';
import { InputError, NotFoundError, showValue } from '../../core/errors.ts';
import type { ControlDb } from '../../store/db.ts';
import {
  keysetPage,
  type Page as KeysetPage,
  type PageRequest as KeysetRequest,
} from '../../store/keyset.ts';
import { filterSql, type Filter } from './filter.ts';
import { groupOf, isId, userOf } from './rows.ts';
import type {
  DirectoryGroup,
  DirectorySource,
  DirectoryUser,
  GroupFields,
  GroupKey,
  GroupMember,
  GroupRef,
  Page,
  PageRequest,
  UserFields,
  UserGoneListener,
  UserKey,
} from './types.ts';
import { DirectoryWriter } from './writer.ts';

export interface DirectoryOptions {
  readonly db: ControlDb;
  readonly logger: Logger;
}

/** The largest page a list returns; SCIM's ServiceProviderConfig says so too. */
export const maxPageSize = 1000;

/**
 * The people and groups of each tenant (tenant_users, tenant_groups,
 * tenant_group_members): the one module that writes them. SCIM, directory
 * sync, local accounts and OIDC sign-ins all come through here.
 *
 * Reads take a tenant id and never see another tenant's rows. Writes run in
 * one transaction (write() for several steps and the caller's audit event);
 * after a transaction that deactivated or deleted users commits, the
 * listeners hear of each (the edge revokes their sessions). A crash between
 * the commit and a listener is safe: a session refresh re-reads the user.
 */
export class Directory {
  readonly #o: DirectoryOptions;
  readonly #listeners: UserGoneListener[] = [];

  constructor(options: DirectoryOptions) {
    this.#o = options;
  }

  /** Called after a user is deactivated or deleted (after the commit). */
  onUserGone(listener: UserGoneListener): void {
    this.#listeners.push(listener);
  }

  /** Runs `fn` in one transaction; tells the listeners once it commits. */
  async write<T>(fn: (w: DirectoryWriter) => Promise<T>): Promise<T> {
    let writer: DirectoryWriter | undefined;
    const result = await this.#o.db.transaction().execute((tx) => {
      writer = new DirectoryWriter(tx);
      return fn(writer);
    });
    for (const event of writer?.gone ?? []) {
      for (const listener of this.#listeners) {
        try {
          await listener(event);
        } catch (error) {
          this.#o.logger.warn(
            { err: error, tenantId: event.tenantId, userId: event.userId },
            `a listener for a ${event.kind} user failed; the user's next session refresh refuses it`,
          );
        }
      }
    }
    return result;
  }

  // --- users

  createUser(tenantId: string, fields: UserFields, source: DirectorySource): Promise<DirectoryUser> {
    return this.write((w) => w.createUser(tenantId, fields, source));
  }

  updateUser(
    tenantId: string,
    id: string,
    change: (current: DirectoryUser) => UserFields | Promise<UserFields>,
    options: { ifVersion?: number | undefined } = {},
  ): Promise<DirectoryUser> {
    return this.write((w) => w.updateUser(tenantId, id, change, options));
  }

  setActive(tenantId: string, id: string, active: boolean): Promise<DirectoryUser> {
    return this.write((w) => w.setActive(tenantId, id, active));
  }

  deleteUser(tenantId: string, id: string): Promise<void> {
    return this.write((w) => w.deleteUser(tenantId, id));
  }

  /** The time of a user's last sign-in (sessions call it when they open one). */
  async recordSignIn(tenantId: string, userId: string, at: Date): Promise<void> {
    await this.#o.db
      .transaction()
      .execute((tx) => new DirectoryWriter(tx).recordSignIn(tenantId, userId, at));
  }

  async getUser(tenantId: string, id: string): Promise<DirectoryUser | undefined> {
    if (!isId(id)) return undefined;
    const row = await this.#o.db
      .selectFrom('tenant_users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? userOf(row) : undefined;
  }

  /** By userName (case-insensitive) or externalId (exact). */
  async findUser(tenantId: string, key: UserKey): Promise<DirectoryUser | undefined> {
    let query = this.#o.db.selectFrom('tenant_users').selectAll().where('tenant_id', '=', tenantId);
    query =
      'userName' in key
        ? query.where(sql<string>`lower(user_name)`, '=', key.userName.toLowerCase())
        : query.where('external_id', '=', key.externalId);
    const row = await query.executeTakeFirst();
    return row ? userOf(row) : undefined;
  }

  /** Users with this e-mail address (case-insensitive), oldest first: an address is not unique. */
  async usersByEmail(tenantId: string, email: string): Promise<DirectoryUser[]> {
    const rows = await this.#o.db
      .selectFrom('tenant_users')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('email', '=', email.toLowerCase())
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(userOf);
  }

  /** A page of users, ordered by (created_at, id), optionally filtered. */
  async listUsers(
    tenantId: string,
    request: PageRequest & { filter?: Filter | undefined } = {},
  ): Promise<Page<DirectoryUser>> {
    const base = this.#o.db
      .selectFrom('tenant_users as t')
      .where('t.tenant_id', '=', tenantId)
      .where(request.filter ? filterSql(request.filter, 'user') : sql<boolean>`true`);
    return page(
      request,
      (offset, limit) =>
        base.selectAll('t').orderBy('t.created_at').orderBy('t.id').offset(offset).limit(limit).execute(),
      () => base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
      userOf,
    );
  }

  /** A page of users by keyset (the console's list): oldest first by (created_at, id), or by userName. */
  async userPage(
    tenantId: string,
    page: KeysetRequest<'created' | 'userName'>,
  ): Promise<KeysetPage<DirectoryUser>> {
    const query = this.#o.db
      .selectFrom('tenant_users as t')
      .selectAll('t')
      .where('t.tenant_id', '=', tenantId);
    const sort = page.sort === 'userName' ? 't.user_name' : 't.created_at';
    const rows = await keysetPage(query, { sort, id: 't.id' }, page);
    return { ...rows, items: rows.items.map(userOf) };
  }

  // --- groups

  createGroup(tenantId: string, fields: GroupFields, source: DirectorySource): Promise<DirectoryGroup> {
    return this.write((w) => w.createGroup(tenantId, fields, source));
  }

  updateGroup(
    tenantId: string,
    id: string,
    change: (current: DirectoryGroup) => GroupFields | Promise<GroupFields>,
    options: { ifVersion?: number | undefined } = {},
  ): Promise<DirectoryGroup> {
    return this.write((w) => w.updateGroup(tenantId, id, change, options));
  }

  deleteGroup(tenantId: string, id: string): Promise<void> {
    return this.write((w) => w.deleteGroup(tenantId, id));
  }

  addMembers(tenantId: string, groupId: string, userIds: readonly string[]): Promise<number> {
    return this.write((w) => w.addMembers(tenantId, groupId, userIds));
  }

  removeMembers(tenantId: string, groupId: string, userIds: readonly string[]): Promise<number> {
    return this.write((w) => w.removeMembers(tenantId, groupId, userIds));
  }

  replaceMembers(tenantId: string, groupId: string, userIds: readonly string[]): Promise<void> {
    return this.write((w) => w.replaceMembers(tenantId, groupId, userIds));
  }

  /**
   * Sets a user's memberships in the groups of `source` (e.g. an IdP's groups at an OIDC sign-in)
   * to exactly `groups`, creating that source's missing groups; other sources' groups stay as they are.
   */
  setSourceGroups(
    tenantId: string,
    userId: string,
    source: DirectorySource,
    groups: readonly SourceGroup[],
  ): Promise<SourceGroupsOutcome> {
    return this.write((w) => w.setSourceGroups(tenantId, userId, source, groups));
  }

  async getGroup(tenantId: string, id: string): Promise<DirectoryGroup | undefined> {
    if (!isId(id)) return undefined;
    const row = await this.#o.db
      .selectFrom('tenant_groups')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? groupOf(row) : undefined;
  }

  /** By displayName (case-insensitive) or externalId (exact). */
  async findGroup(tenantId: string, key: GroupKey): Promise<DirectoryGroup | undefined> {
    let query = this.#o.db.selectFrom('tenant_groups').selectAll().where('tenant_id', '=', tenantId);
    query =
      'displayName' in key
        ? query.where(sql<string>`lower(display_name)`, '=', key.displayName.toLowerCase())
        : query.where('external_id', '=', key.externalId);
    const row = await query.executeTakeFirst();
    return row ? groupOf(row) : undefined;
  }

  async listGroups(
    tenantId: string,
    request: PageRequest & { filter?: Filter | undefined } = {},
  ): Promise<Page<DirectoryGroup>> {
    const base = this.#o.db
      .selectFrom('tenant_groups as t')
      .where('t.tenant_id', '=', tenantId)
      .where(request.filter ? filterSql(request.filter, 'group') : sql<boolean>`true`);
    return page(
      request,
      (offset, limit) =>
        base.selectAll('t').orderBy('t.created_at').orderBy('t.id').offset(offset).limit(limit).execute(),
      () => base.select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow(),
      groupOf,
    );
  }

  /** The members of a group (of the tenant), in the order they were added. */
  async membersOf(tenantId: string, groupId: string): Promise<GroupMember[]> {
    if (!isId(groupId)) return [];
    const rows = await this.#o.db
      .selectFrom('tenant_group_members as m')
      .innerJoin('tenant_users as u', 'u.id', 'm.user_id')
      .select(['u.id', 'u.user_name', 'u.display_name'])
      .where('m.group_id', '=', groupId)
      .where('u.tenant_id', '=', tenantId)
      .orderBy('m.added_at')
      .orderBy('u.id')
      .execute();
    return rows.map((r) => ({ userId: r.id, userName: r.user_name, displayName: r.display_name }));
  }

  /** The members of several groups at once (a page of a group list), in one query. */
  async membersOfGroups(tenantId: string, groupIds: readonly string[]): Promise<Map<string, GroupMember[]>> {
    const out = new Map<string, GroupMember[]>(groupIds.map((id) => [id, []]));
    const ids = groupIds.filter(isId);
    if (ids.length === 0) return out;
    const rows = await this.#o.db
      .selectFrom('tenant_group_members as m')
      .innerJoin('tenant_users as u', 'u.id', 'm.user_id')
      .select(['m.group_id', 'u.id', 'u.user_name', 'u.display_name'])
      .where('m.group_id', 'in', ids)
      .where('u.tenant_id', '=', tenantId)
      .orderBy('m.added_at')
      .orderBy('u.id')
      .execute();
    for (const r of rows)
      out.get(r.group_id)?.push({ userId: r.id, userName: r.user_name, displayName: r.display_name });
    return out;
  }

  /** The groups of several users at once (a page of a user list), in one query. */
  async groupsOfUsers(tenantId: string, userIds: readonly string[]): Promise<Map<string, GroupRef[]>> {
    const out = new Map<string, GroupRef[]>(userIds.map((id) => [id, []]));
    const ids = userIds.filter(isId);
    if (ids.length === 0) return out;
    const rows = await this.#o.db
      .selectFrom('tenant_group_members as m')
      .innerJoin('tenant_groups as g', 'g.id', 'm.group_id')
      .select(['m.user_id', 'g.id', 'g.display_name'])
      .where('m.user_id', 'in', ids)
      .where('g.tenant_id', '=', tenantId)
      .orderBy('g.display_name')
      .execute();
    for (const r of rows) out.get(r.user_id)?.push({ id: r.id, displayName: r.display_name });
    return out;
  }

  /** How many members each group has (one query). */
  async memberCounts(groupIds: readonly string[]): Promise<Map<string, number>> {
    const ids = groupIds.filter(isId);
    if (ids.length === 0) return new Map();
    const rows = await this.#o.db
      .selectFrom('tenant_group_members')
      .select(['group_id', sql<number>`count(*)::int`.as('n')])
      .where('group_id', 'in', ids)
      .groupBy('group_id')
      .execute();
    return new Map(rows.map((r) => [r.group_id, r.n]));
  }

  /** The id of a tenant by its slug, or NotFoundError naming it. */
  async tenantId(tenant: string): Promise<string> {
    const row = await this.#o.db
      .selectFrom('tenants')
      .select('id')
      .where('slug', '=', tenant)
      .executeTakeFirst();
    if (!row)
      throw new NotFoundError(`no tenant ${showValue(tenant)}; "steward tenant list" shows them`, {
        field: 'tenant',
      });
    return row.id;
  }

  /** The groups a user of the tenant belongs to, by name. */
  async groupsOf(tenantId: string, userId: string): Promise<GroupRef[]> {
    if (!isId(userId)) return [];
    const rows = await this.#o.db
      .selectFrom('tenant_group_members as m')
      .innerJoin('tenant_groups as g', 'g.id', 'm.group_id')
      .select(['g.id', 'g.display_name'])
      .where('m.user_id', '=', userId)
      .where('g.tenant_id', '=', tenantId)
      .orderBy('g.display_name')
      .execute();
    return rows.map((r) => ({ id: r.id, displayName: r.display_name }));
  }
}

/**
 * One page, ordered by (created_at, id). The number of matches is known
 * without counting when the page came back short (the common SCIM lookup,
 * `userName eq …`, finds one or none); counted otherwise.
 */
async function page<Row, T>(
  request: PageRequest,
  rows: (offset: number, limit: number) => Promise<Row[]>,
  count: () => Promise<{ n: number }>,
  map: (row: Row) => T,
): Promise<Page<T>> {
  const { offset, limit, startIndex } = paging(request);
  const got = limit === 0 ? [] : await rows(offset, limit);
  const total =
    limit > 0 && got.length < limit && (got.length > 0 || offset === 0)
      ? offset + got.length
      : (await count()).n;
  return { total, startIndex, items: got.map(map) };
}

function paging(request: PageRequest): { offset: number; limit: number; startIndex: number } {
  const startIndex = Math.max(1, Math.floor(request.startIndex ?? 1));
  const count = request.count ?? maxPageSize;
  if (!Number.isFinite(startIndex) || !Number.isInteger(count) || count < 0) {
    throw new InputError(
      `field "count": ${showValue(request.count)} is not accepted; a whole number from 0`,
      {
        field: 'count',
      },
    );
  }
  return { offset: startIndex - 1, limit: Math.min(count, maxPageSize), startIndex };
}
