import type { DirectoryGroup, DirectoryUser } from '../directory/index.ts';
import { normalDn, type LdapGroup, type LdapUser } from './entries.ts';

/**
 * The sync planner: what the LDAP directory says, against the users and
 * groups the tenant's Directory holds, gives the changes that make the
 * Directory say the same. Pure and level-triggered: a run killed halfway
 * plans the rest next time.
 *
 * - Only users and groups of source `ldap` are changed. An entry whose
 *   userName (or group name) belongs to another source is a clash: reported,
 *   never overwritten, never merged.
 * - A user is found by its stable id (entryUUID, objectGUID), else by its
 *   userName among the `ldap` users (adopting the new id: an entry deleted
 *   and made again).
 * - Users who disappear are deactivated, and users disabled in the directory
 *   too; a user who comes back (or is enabled again) is reactivated. Never
 *   deleted: the tenant's data about them stays.
 * - An incomplete search (an error, a size limit) or an empty one where
 *   there were users deactivates nobody and removes no membership or group.
 */

/** A user of the tenant's Directory, as the planner compares it. */
export type DirectoryUserView = Pick<
  DirectoryUser,
  | 'id'
  | 'userName'
  | 'externalId'
  | 'email'
  | 'displayName'
  | 'givenName'
  | 'familyName'
  | 'active'
  | 'source'
>;

/** A group of the tenant's Directory with its members' ids. */
export type DirectoryGroupView = Pick<DirectoryGroup, 'id' | 'displayName' | 'externalId' | 'source'> & {
  readonly memberIds: readonly string[];
};

export interface PlanInput {
  readonly users: readonly LdapUser[];
  /** null: groups are not synced (no group base DN). */
  readonly groups: readonly LdapGroup[] | null;
  /** Why the search may have missed entries (a size limit, a failed page); null when it is complete. */
  readonly incomplete: string | null;
  readonly directory: {
    readonly users: readonly DirectoryUserView[];
    readonly groups: readonly DirectoryGroupView[];
  };
}

/** A user or group by its Directory id, or (created by this run) by its stable LDAP id. */
export interface Ref {
  readonly id: string | null;
  readonly externalId: string;
}

/** What an entry says of a user: everything the sync writes. */
export type UserFields = Omit<LdapUser, 'dn' | 'disabled'>;

export type SyncAction =
  | { readonly kind: 'create-user'; readonly user: UserFields }
  | {
      readonly kind: 'update-user';
      readonly id: string;
      readonly userName: string;
      readonly changes: Partial<UserFields>;
    }
  | {
      readonly kind: 'deactivate-user';
      readonly id: string;
      readonly userName: string;
      readonly why: 'gone' | 'disabled';
    }
  | { readonly kind: 'reactivate-user'; readonly id: string; readonly userName: string }
  | { readonly kind: 'create-group'; readonly displayName: string; readonly externalId: string }
  | {
      readonly kind: 'update-group';
      readonly id: string;
      readonly changes: { readonly displayName?: string; readonly externalId?: string };
    }
  | { readonly kind: 'add-member'; readonly group: Ref; readonly user: Ref }
  | { readonly kind: 'remove-member'; readonly groupId: string; readonly userId: string }
  | { readonly kind: 'delete-group'; readonly id: string; readonly displayName: string };

/** An entry the plan leaves alone, and why (a clash, a duplicate). */
export interface PlanProblem {
  readonly dn: string;
  readonly reason: string;
}

export interface SyncPlan {
  readonly actions: readonly SyncAction[];
  readonly problems: readonly PlanProblem[];
  /** Why nobody was deactivated and no membership removed; null when the plan was free to. */
  readonly guard: string | null;
}

export const countNames = [
  'created',
  'updated',
  'deactivated',
  'reactivated',
  'groupsCreated',
  'groupsUpdated',
  'groupsDeleted',
  'membershipsAdded',
  'membershipsRemoved',
] as const;
export type SyncCounts = Record<(typeof countNames)[number], number>;

const countOf: Record<SyncAction['kind'], (typeof countNames)[number]> = {
  'create-user': 'created',
  'update-user': 'updated',
  'deactivate-user': 'deactivated',
  'reactivate-user': 'reactivated',
  'create-group': 'groupsCreated',
  'update-group': 'groupsUpdated',
  'delete-group': 'groupsDeleted',
  'add-member': 'membershipsAdded',
  'remove-member': 'membershipsRemoved',
};

export function emptyCounts(): SyncCounts {
  return Object.fromEntries(countNames.map((n) => [n, 0])) as SyncCounts;
}

export function countActions(actions: readonly SyncAction[]): SyncCounts {
  const counts = emptyCounts();
  for (const action of actions) counts[countOf[action.kind]] += 1;
  return counts;
}

const ldapSource = 'ldap';
const lower = (s: string): string => s.toLowerCase();

export function planSync(input: PlanInput): SyncPlan {
  const problems: PlanProblem[] = [];
  const userActions: SyncAction[] = [];
  const dirUsers = input.directory.users;
  const ldapUsers = dirUsers.filter((u) => u.source === ldapSource);
  const users = new Matcher(
    dirUsers,
    (u) => u.userName,
    input.users.map((u) => u.externalId),
    { thing: 'user', name: 'userName' },
  );

  // Entries that will be in the Directory after this run: stable id -> Directory id (null: created now).
  const synced = new Map<string, string | null>();
  for (const entry of input.users) {
    const match = users.match({ dn: entry.dn, name: entry.userName, externalId: entry.externalId });
    if (match.kind === 'skip') {
      problems.push(match.problem);
      continue;
    }
    const fields = fieldsOf(entry);
    if (match.kind === 'new') {
      if (entry.disabled) continue;
      userActions.push({ kind: 'create-user', user: fields });
      synced.set(entry.externalId, null);
      continue;
    }
    const existing = match.held;
    synced.set(entry.externalId, existing.id);
    const changes: Partial<Record<keyof UserFields, string | null>> = {};
    for (const key of Object.keys(fields) as (keyof UserFields)[]) {
      if (fields[key] !== existing[key]) changes[key] = fields[key];
    }
    if (changes.userName !== undefined) {
      const owner = users.nameTakenBy(fields.userName, existing.id);
      if (owner) {
        problems.push({
          dn: entry.dn,
          reason: `renamed to ${fields.userName}, which belongs to another user (source ${owner.source}); kept as ${existing.userName}`,
        });
        delete changes.userName;
      }
    }
    if (Object.keys(changes).length > 0) {
      userActions.push({
        kind: 'update-user',
        id: existing.id,
        userName: existing.userName,
        changes: changes as Partial<UserFields>,
      });
    }
    if (entry.disabled && existing.active) {
      userActions.push({
        kind: 'deactivate-user',
        id: existing.id,
        userName: existing.userName,
        why: 'disabled',
      });
    } else if (!entry.disabled && !existing.active) {
      userActions.push({ kind: 'reactivate-user', id: existing.id, userName: existing.userName });
    }
  }

  const activeLdap = ldapUsers.filter((u) => u.active).length;
  const guard =
    input.incomplete !== null
      ? `the search was incomplete (${input.incomplete}), so nobody was deactivated and no membership removed`
      : input.users.length === 0 && activeLdap > 0
        ? `the search returned no users while ${activeLdap} are synced from this directory, so nobody was deactivated (is the base DN or the filter right?)`
        : null;
  if (guard === null) {
    for (const user of ldapUsers) {
      if (user.active && !users.matched.has(user.id)) {
        userActions.push({ kind: 'deactivate-user', id: user.id, userName: user.userName, why: 'gone' });
      }
    }
  }

  const groupActions =
    input.groups === null ? [] : planGroups(input, input.groups, synced, guard === null, problems);
  return { actions: [...userActions, ...groupActions], problems, guard };
}

interface Held {
  readonly id: string;
  readonly externalId: string | null;
  readonly source: string;
}

type Match<H> =
  | { readonly kind: 'existing'; readonly held: H }
  | { readonly kind: 'new' }
  | { readonly kind: 'skip'; readonly problem: PlanProblem };

/**
 * Which user (or group) of the Directory an entry stands for: the one with
 * its stable id, else the `ldap` one of its name whose own id the directory
 * no longer has (an entry made again). Reports an entry that repeats another,
 * and one whose id or name belongs to another source.
 */
class Matcher<H extends Held> {
  readonly matched = new Set<string>();
  readonly #byName: Map<string, H>;
  readonly #byExternalId: Map<string, H>;
  readonly #entryIds: ReadonlySet<string>;
  readonly #noun: { readonly thing: string; readonly name: string };
  readonly #seenIds = new Set<string>();
  readonly #seenNames = new Set<string>();

  constructor(
    held: readonly H[],
    nameOf: (h: H) => string,
    entryIds: readonly string[],
    noun: { readonly thing: string; readonly name: string },
  ) {
    this.#byName = new Map(held.map((h) => [lower(nameOf(h)), h]));
    this.#byExternalId = new Map(
      held.filter((h) => h.externalId !== null).map((h) => [h.externalId as string, h]),
    );
    this.#entryIds = new Set(entryIds);
    this.#noun = noun;
  }

  match(entry: { readonly dn: string; readonly name: string; readonly externalId: string }): Match<H> {
    const { thing, name } = this.#noun;
    const skip = (reason: string): Match<H> => ({ kind: 'skip', problem: { dn: entry.dn, reason } });
    if (this.#seenIds.has(entry.externalId) || this.#seenNames.has(lower(entry.name))) {
      return skip(`another entry has the same ${name} or id (${entry.name})`);
    }
    this.#seenIds.add(entry.externalId);
    this.#seenNames.add(lower(entry.name));
    const holder = this.#byExternalId.get(entry.externalId);
    if (holder && holder.source !== ldapSource) {
      return skip(`its id ${entry.externalId} belongs to a ${thing} of source ${holder.source}`);
    }
    const named = this.#byName.get(lower(entry.name));
    const adoptable =
      named?.source === ldapSource &&
      !this.matched.has(named.id) &&
      (named.externalId === null || !this.#entryIds.has(named.externalId));
    const existing = holder ?? (adoptable ? named : undefined);
    if (existing) {
      this.matched.add(existing.id);
      return { kind: 'existing', held: existing };
    }
    if (named)
      return skip(
        `${name} ${entry.name} belongs to a ${thing} of source ${named.source}; it is left as it is`,
      );
    return { kind: 'new' };
  }

  /** Another user (group) than `id` with this name, if any. */
  nameTakenBy(name: string, id: string): H | undefined {
    const holder = this.#byName.get(lower(name));
    return holder && holder.id !== id ? holder : undefined;
  }
}

function fieldsOf(entry: LdapUser): UserFields {
  return {
    userName: entry.userName,
    externalId: entry.externalId,
    email: entry.email,
    displayName: entry.displayName,
    givenName: entry.givenName,
    familyName: entry.familyName,
  };
}

function planGroups(
  input: PlanInput,
  groups: readonly LdapGroup[],
  synced: ReadonlyMap<string, string | null>,
  mayRemove: boolean,
  problems: PlanProblem[],
): SyncAction[] {
  const dirGroups = input.directory.groups;
  const ldapGroups = dirGroups.filter((g) => g.source === ldapSource);
  const matcher = new Matcher(
    dirGroups,
    (g) => g.displayName,
    groups.map((g) => g.externalId),
    { thing: 'group', name: 'group name' },
  );
  const ldapUserIds = new Set(input.directory.users.filter((u) => u.source === ldapSource).map((u) => u.id));
  // A member value is a user's DN (member, uniqueMember) or userName (memberUid).
  const memberKeys = new Map<string, string>();
  for (const user of input.users) {
    if (!synced.has(user.externalId)) continue;
    memberKeys.set(normalDn(user.dn), user.externalId);
    memberKeys.set(lower(user.userName), user.externalId);
  }
  const creates: SyncAction[] = [];
  const updates: SyncAction[] = [];
  const adds: SyncAction[] = [];
  const removes: SyncAction[] = [];
  for (const group of groups) {
    const match = matcher.match({ dn: group.dn, name: group.displayName, externalId: group.externalId });
    if (match.kind === 'skip') {
      problems.push(match.problem);
      continue;
    }
    const existing = match.kind === 'existing' ? match.held : undefined;
    const ref: Ref = { id: existing?.id ?? null, externalId: group.externalId };
    if (!existing) {
      creates.push({ kind: 'create-group', displayName: group.displayName, externalId: group.externalId });
    } else {
      const changes: { displayName?: string; externalId?: string } = {};
      if (existing.displayName !== group.displayName) {
        if (matcher.nameTakenBy(group.displayName, existing.id)) {
          problems.push({
            dn: group.dn,
            reason: `renamed to ${group.displayName}, which another group has; kept as ${existing.displayName}`,
          });
        } else {
          changes.displayName = group.displayName;
        }
      }
      if (existing.externalId !== group.externalId) changes.externalId = group.externalId;
      if (Object.keys(changes).length > 0) updates.push({ kind: 'update-group', id: existing.id, changes });
    }
    const wanted = new Map<string, Ref>();
    for (const value of group.members) {
      const externalId = memberKeys.get(normalDn(value)) ?? memberKeys.get(lower(value));
      if (externalId === undefined) continue;
      wanted.set(externalId, { id: synced.get(externalId) ?? null, externalId });
    }
    const current = new Set(existing?.memberIds ?? []);
    for (const user of wanted.values()) {
      if (user.id === null || !current.has(user.id)) adds.push({ kind: 'add-member', group: ref, user });
    }
    if (existing && mayRemove) {
      const keep = new Set([...wanted.values()].map((u) => u.id));
      for (const userId of existing.memberIds) {
        // Members of another source were added by someone else: theirs to remove.
        if (ldapUserIds.has(userId) && !keep.has(userId)) {
          removes.push({ kind: 'remove-member', groupId: existing.id, userId });
        }
      }
    }
  }
  const deletes: SyncAction[] = [];
  const groupsGuarded = groups.length === 0 && ldapGroups.length > 0;
  if (mayRemove && !groupsGuarded) {
    for (const group of ldapGroups) {
      if (matcher.matched.has(group.id)) continue;
      deletes.push({ kind: 'delete-group', id: group.id, displayName: group.displayName });
    }
  }
  return [...creates, ...updates, ...adds, ...removes, ...deletes];
}
