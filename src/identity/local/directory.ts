import { ConflictError, showValue } from '../../core/errors.ts';
import type { ControlDb, Queryable } from '../../store/db.ts';

/**
 * What local users need of the Directory (src/identity/directory/, the one
 * writer of tenant_users and memberships): find a user by name, read one,
 * list them with their groups, create a local one, activate, delete, note a
 * sign-in. Writes take the caller's transaction, so that a user, its
 * credentials, its invitation and the mail are one change.
 */
export interface LocalUser {
  readonly id: string;
  readonly tenantId: string;
  readonly userName: string;
  readonly email: string | null;
  readonly displayName: string | null;
  readonly active: boolean;
  readonly source: string;
  readonly lastSignInAt: Date | null;
}

export interface NewLocalUser {
  readonly userName: string;
  readonly email: string;
  readonly displayName?: string | undefined;
}

export interface DirectoryPort {
  findByUserName(tenantId: string, userName: string): Promise<LocalUser | undefined>;
  get(tenantId: string, userId: string, tx?: Queryable): Promise<LocalUser | undefined>;
  list(tenantId: string): Promise<LocalUser[]>;
  /** Group display names by user id, for the listed users. */
  groupsOf(tenantId: string, userIds: readonly string[]): Promise<Map<string, string[]>>;
  /** Throws ConflictError (field userName) when the name is taken in the tenant, in any case. */
  createLocal(tx: Queryable, tenantId: string, user: NewLocalUser): Promise<LocalUser>;
  setActive(tx: Queryable, tenantId: string, userId: string, active: boolean): Promise<void>;
  delete(tx: Queryable, tenantId: string, userId: string): Promise<void>;
  recordSignIn(userId: string, at: Date): Promise<void>;
}

type UserRow = {
  id: string;
  tenant_id: string;
  user_name: string;
  email: string | null;
  display_name: string | null;
  active: boolean;
  source: string;
  last_sign_in_at: Date | null;
};

const userView = (r: UserRow): LocalUser => ({
  id: r.id,
  tenantId: r.tenant_id,
  userName: r.user_name,
  email: r.email,
  displayName: r.display_name,
  active: r.active,
  source: r.source,
  lastSignInAt: r.last_sign_in_at,
});

const columns = [
  'id',
  'tenant_id',
  'user_name',
  'email',
  'display_name',
  'active',
  'source',
  'last_sign_in_at',
] as const;

/**
 * A stand-in over tenant_users until the Directory (branch id-scim) is
 * merged; composition then passes an adapter over the Directory instead and
 * this file goes. It writes only what the Directory would for a local user.
 */
export class TenantUsersStopgap implements DirectoryPort {
  readonly #db: ControlDb;

  constructor(db: ControlDb) {
    this.#db = db;
  }

  async findByUserName(tenantId: string, userName: string): Promise<LocalUser | undefined> {
    const row = await this.#db
      .selectFrom('tenant_users')
      .select(columns)
      .where('tenant_id', '=', tenantId)
      .where((eb) => eb(eb.fn('lower', ['user_name']), '=', userName.toLowerCase()))
      .executeTakeFirst();
    return row && userView(row);
  }

  async get(tenantId: string, userId: string, tx: Queryable = this.#db): Promise<LocalUser | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(userId)) return undefined;
    const row = await tx
      .selectFrom('tenant_users')
      .select(columns)
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .executeTakeFirst();
    return row && userView(row);
  }

  async list(tenantId: string): Promise<LocalUser[]> {
    const rows = await this.#db
      .selectFrom('tenant_users')
      .select(columns)
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(userView);
  }

  async groupsOf(tenantId: string, userIds: readonly string[]): Promise<Map<string, string[]>> {
    const groups = new Map<string, string[]>();
    if (userIds.length === 0) return groups;
    const rows = await this.#db
      .selectFrom('tenant_group_members')
      .innerJoin('tenant_groups', 'tenant_groups.id', 'tenant_group_members.group_id')
      .select(['tenant_group_members.user_id', 'tenant_groups.display_name'])
      .where('tenant_groups.tenant_id', '=', tenantId)
      .where('tenant_group_members.user_id', 'in', userIds)
      .orderBy('tenant_groups.display_name')
      .execute();
    for (const r of rows) groups.set(r.user_id, [...(groups.get(r.user_id) ?? []), r.display_name]);
    return groups;
  }

  async createLocal(tx: Queryable, tenantId: string, user: NewLocalUser): Promise<LocalUser> {
    const row = await tx
      .insertInto('tenant_users')
      .values({
        tenant_id: tenantId,
        user_name: user.userName,
        email: user.email.toLowerCase(),
        display_name: user.displayName ?? null,
        source: 'local',
      })
      .onConflict((oc) => oc.doNothing())
      .returning(columns)
      .executeTakeFirst();
    if (!row) {
      throw new ConflictError(
        `field "userName": a user ${showValue(user.userName)} already exists in this tenant (user names are compared without case)`,
        { field: 'userName' },
      );
    }
    return userView(row);
  }

  async setActive(tx: Queryable, tenantId: string, userId: string, active: boolean): Promise<void> {
    await tx
      .updateTable('tenant_users')
      .set((eb) => ({ active, version: eb('version', '+', 1) }))
      .where('tenant_id', '=', tenantId)
      .where('id', '=', userId)
      .execute();
  }

  async delete(tx: Queryable, tenantId: string, userId: string): Promise<void> {
    await tx.deleteFrom('tenant_users').where('tenant_id', '=', tenantId).where('id', '=', userId).execute();
  }

  async recordSignIn(userId: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('tenant_users')
      .set({ last_sign_in_at: at })
      .where('id', '=', userId)
      .execute();
  }
}
