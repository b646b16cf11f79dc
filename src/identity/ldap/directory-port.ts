import type { Directory, DirectoryWriter } from '../directory/index.ts';
import type { DirectoryGroupView, DirectoryUserView, PlanProblem, Ref, SyncAction } from './plan.ts';

/**
 * What the sync needs of the Directory (src/identity/directory/, the one
 * writer of users, groups and memberships): reads page through the tenant's
 * users and groups; writes go through its writer, a batch per transaction
 * (its listeners, which revoke a deactivated user's sessions, are told after
 * each commit).
 */
export type DirectoryPort = Pick<Directory, 'listUsers' | 'listGroups' | 'membersOfGroups' | 'write'>;

const pageSize = 1000;

/** Every user and group of the tenant (all sources: clashes are found among them), with memberships. */
export async function readDirectory(
  directory: DirectoryPort,
  tenantId: string,
): Promise<{ users: DirectoryUserView[]; groups: DirectoryGroupView[] }> {
  const users: DirectoryUserView[] = [];
  for (let start = 1; ; start += pageSize) {
    const page = await directory.listUsers(tenantId, { startIndex: start, count: pageSize });
    users.push(
      ...page.items.map((u) => ({
        id: u.id,
        userName: u.userName,
        externalId: u.externalId,
        email: u.email,
        displayName: u.displayName,
        givenName: u.givenName,
        familyName: u.familyName,
        active: u.active,
        source: u.source,
      })),
    );
    if (page.items.length === 0 || start + page.items.length > page.total) break;
  }
  const groups: DirectoryGroupView[] = [];
  for (let start = 1; ; start += pageSize) {
    const page = await directory.listGroups(tenantId, { startIndex: start, count: pageSize });
    const members = await directory.membersOfGroups(
      tenantId,
      page.items.map((g) => g.id),
    );
    for (const g of page.items) {
      groups.push({
        id: g.id,
        displayName: g.displayName,
        externalId: g.externalId,
        source: g.source,
        memberIds: (members.get(g.id) ?? []).map((m) => m.userId),
      });
    }
    if (page.items.length === 0 || start + page.items.length > page.total) break;
  }
  return { users, groups };
}

/** Actions per transaction: a failed batch is retried one action at a time. */
const batchSize = 100;

export interface ApplyResult {
  readonly applied: readonly SyncAction[];
  readonly problems: readonly PlanProblem[];
}

/**
 * Carries out a plan in order, in batches. An action the Directory refuses
 * (a userName taken meanwhile, say) is reported and the rest go on: the next
 * run plans again from what is there.
 */
export async function applyPlan(
  directory: DirectoryPort,
  tenantId: string,
  actions: readonly SyncAction[],
  progress: (done: number) => Promise<void> | void,
): Promise<ApplyResult> {
  const created = new Map<string, string>();
  const applied: SyncAction[] = [];
  const problems: PlanProblem[] = [];
  for (let i = 0; i < actions.length; i += batchSize) {
    const batch = actions.slice(i, i + batchSize);
    try {
      const made = await directory.write(async (w) => {
        const local = new Map<string, string>();
        for (const step of joinMemberAdds(batch)) {
          if (step.kind === 'add-members') await addMembers(w, tenantId, step, created, local);
          else await applyOne(w, tenantId, step, created, local);
        }
        return local;
      });
      for (const [k, v] of made) created.set(k, v);
      applied.push(...batch);
    } catch {
      for (const action of batch) {
        try {
          const made = await directory.write(async (w) => {
            const local = new Map<string, string>();
            await applyOne(w, tenantId, action, created, local);
            return local;
          });
          for (const [k, v] of made) created.set(k, v);
          applied.push(action);
        } catch (error) {
          problems.push({ dn: describe(action), reason: `not applied: ${(error as Error).message}` });
        }
      }
    }
    await progress(Math.min(i + batchSize, actions.length));
  }
  return { applied, problems };
}

/** Consecutive additions to one group, as one call (a large group's members come in one step). */
interface MemberAdds {
  readonly kind: 'add-members';
  readonly group: Ref;
  readonly users: Ref[];
}

function joinMemberAdds(actions: readonly SyncAction[]): (SyncAction | MemberAdds)[] {
  const steps: (SyncAction | MemberAdds)[] = [];
  for (const action of actions) {
    const last = steps.at(-1);
    if (action.kind !== 'add-member') steps.push(action);
    else if (
      last?.kind === 'add-members' &&
      last.group.id === action.group.id &&
      last.group.externalId === action.group.externalId
    ) {
      last.users.push(action.user);
    } else steps.push({ kind: 'add-members', group: action.group, users: [action.user] });
  }
  return steps;
}

function resolveRef(
  kind: 'user' | 'group',
  ref: Ref,
  created: ReadonlyMap<string, string>,
  local: ReadonlyMap<string, string>,
): string {
  const id = ref.id ?? local.get(`${kind}:${ref.externalId}`) ?? created.get(`${kind}:${ref.externalId}`);
  if (id === undefined) throw new Error(`the ${kind} ${ref.externalId} was not created`);
  return id;
}

async function addMembers(
  w: DirectoryWriter,
  tenantId: string,
  step: MemberAdds,
  created: ReadonlyMap<string, string>,
  local: ReadonlyMap<string, string>,
): Promise<void> {
  await w.addMembers(
    tenantId,
    resolveRef('group', step.group, created, local),
    step.users.map((u) => resolveRef('user', u, created, local)),
  );
}

async function applyOne(
  w: DirectoryWriter,
  tenantId: string,
  action: SyncAction,
  created: ReadonlyMap<string, string>,
  local: Map<string, string>,
): Promise<void> {
  const resolve = (kind: 'user' | 'group', ref: Ref): string => resolveRef(kind, ref, created, local);
  switch (action.kind) {
    case 'create-user': {
      const user = await w.createUser(tenantId, { ...action.user, active: true }, 'ldap');
      local.set(`user:${action.user.externalId}`, user.id);
      return;
    }
    case 'update-user':
      await w.updateUser(tenantId, action.id, (current) => ({ ...current, ...action.changes }));
      return;
    case 'deactivate-user':
      await w.setActive(tenantId, action.id, false);
      return;
    case 'reactivate-user':
      await w.setActive(tenantId, action.id, true);
      return;
    case 'create-group': {
      const group = await w.createGroup(
        tenantId,
        { displayName: action.displayName, externalId: action.externalId },
        'ldap',
      );
      local.set(`group:${action.externalId}`, group.id);
      return;
    }
    case 'update-group':
      await w.updateGroup(tenantId, action.id, (current) => ({ ...current, ...action.changes }));
      return;
    case 'add-member':
      await w.addMembers(tenantId, resolve('group', action.group), [resolve('user', action.user)]);
      return;
    case 'remove-member':
      await w.removeMembers(tenantId, action.groupId, [action.userId]);
      return;
    case 'delete-group':
      await w.deleteGroup(tenantId, action.id);
      return;
  }
}

function describe(action: SyncAction): string {
  switch (action.kind) {
    case 'create-user':
      return `user ${action.user.userName}`;
    case 'update-user':
    case 'deactivate-user':
    case 'reactivate-user':
      return `user ${action.userName}`;
    case 'create-group':
      return `group ${action.displayName}`;
    case 'update-group':
      return `group ${action.id}`;
    case 'delete-group':
      return `group ${action.displayName}`;
    case 'add-member':
      return `membership of ${action.user.id ?? action.user.externalId} in ${action.group.id ?? action.group.externalId}`;
    case 'remove-member':
      return `membership of ${action.userId} in ${action.groupId}`;
  }
}
