import type { AuditService } from '../../audit/service.ts';
import { NotFoundError, showValue } from '../../core/errors.ts';
import {
  maxPageSize,
  VersionMismatchError,
  type Directory,
  type DirectoryWriter,
  type Filter,
  type GroupRef,
  type Page,
  type PageRequest,
} from '../directory/index.ts';
import { parseFilter } from './filter-parse.ts';
import { applyUserPatch, parsePatchRequest, planGroupPatch, ScimInputError } from './patch.ts';
import {
  canonical,
  groupFields,
  groupResource,
  isObject,
  memberIdsOf,
  project,
  userDoc,
  userFields,
  userResource,
  type Doc,
} from './resources.ts';
import { WriteBatcher } from './batch.ts';
import { listSchema } from './schema.ts';
import type { ScimCaller } from './tokens.ts';

/**
 * SCIM's Users and Groups over the Directory, for one caller (a tenant's
 * token). Every write is one transaction with one audit event (actor
 * `scim:<token name>`): a PATCH of a thousand members is one event that
 * counts them, not a thousand.
 */
export interface ListQuery {
  readonly filter?: string | undefined;
  readonly startIndex?: number | undefined;
  readonly count?: number | undefined;
  readonly attributes: readonly string[];
  readonly excludedAttributes: readonly string[];
}

/** A resource and its version (the ETag). */
export interface Versioned {
  readonly resource: Doc;
  readonly version: number;
}

export const defaultPageSize = 100;

interface GroupPatchSummary {
  id: string;
  displayName: string;
  added: number;
  removed: number;
  replaced: number | null;
}

export class ScimService {
  readonly #directory: Directory;
  readonly #audit: AuditService;
  readonly #groupPatches: WriteBatcher<GroupPatchSummary>;

  constructor(options: { directory: Directory; audit: AuditService }) {
    this.#directory = options.directory;
    this.#audit = options.audit;
    this.#groupPatches = new WriteBatcher(options.directory, (w, caller, summaries) =>
      this.#recordGroupPatches(w, caller, summaries),
    );
  }

  async #record(
    w: DirectoryWriter,
    caller: ScimCaller,
    action: string,
    target: string,
    details: Record<string, unknown>,
  ) {
    await this.#audit.record(w.tx, {
      actor: `scim:${caller.name}`,
      action,
      target: `tenant/${caller.tenant}/${target}`,
      tenant: caller.tenant,
      details,
    });
  }

  // --- users

  async listUsers(caller: ScimCaller, base: string, query: ListQuery): Promise<Doc> {
    const page = await this.#directory.listUsers(caller.tenantId, pageRequest(query));
    const wantGroups = wants(query, 'groups');
    const groups = wantGroups
      ? await this.#directory.groupsOfUsers(
          caller.tenantId,
          page.items.map((u) => u.id),
        )
      : new Map<string, GroupRef[]>();
    return listResponse(page, query, (u) => userResource(u, groups.get(u.id) ?? [], base));
  }

  async getUser(caller: ScimCaller, base: string, id: string, query?: ListQuery): Promise<Versioned> {
    const user = await this.#directory.getUser(caller.tenantId, id);
    if (!user) throw notFound('User', id);
    const groups = await this.#directory.groupsOf(caller.tenantId, id);
    return versioned(userResource(user, groups, base), user.version, query);
  }

  async createUser(caller: ScimCaller, base: string, body: unknown): Promise<Versioned> {
    const fields = userFields(canonical('User', bodyObject(body)));
    const user = await this.#directory.write(async (w) => {
      const created = await w.createUser(caller.tenantId, fields, 'scim');
      await this.#record(w, caller, 'scim.user.create', `user/${created.id}`, { userName: created.userName });
      return created;
    });
    return { resource: userResource(user, [], base), version: user.version };
  }

  async replaceUser(
    caller: ScimCaller,
    base: string,
    id: string,
    body: unknown,
    ifVersion?: number,
  ): Promise<Versioned> {
    const fields = userFields(canonical('User', bodyObject(body)));
    await this.#directory.write(async (w) => {
      const updated = await w.updateUser(caller.tenantId, id, () => fields, { ifVersion });
      await this.#record(w, caller, 'scim.user.replace', `user/${id}`, {
        userName: updated.userName,
        active: updated.active,
      });
    });
    return this.getUser(caller, base, id);
  }

  async patchUser(
    caller: ScimCaller,
    base: string,
    id: string,
    body: unknown,
    ifVersion?: number,
  ): Promise<Versioned> {
    const ops = parsePatchRequest(body);
    await this.#directory.write(async (w) => {
      const updated = await w.updateUser(
        caller.tenantId,
        id,
        (current) => userFields(applyUserPatch(userDoc(current), ops)),
        {
          ifVersion,
        },
      );
      await this.#record(w, caller, 'scim.user.patch', `user/${id}`, {
        userName: updated.userName,
        active: updated.active,
        operations: ops.map((o) => `${o.op} ${o.path ?? '(attributes)'}`).slice(0, 20),
      });
    });
    return this.getUser(caller, base, id);
  }

  async deleteUser(caller: ScimCaller, id: string, ifVersion?: number): Promise<void> {
    await this.#directory.write(async (w) => {
      const user = await w.lockUser(caller.tenantId, id);
      checkVersion(ifVersion, user.version, 'User', id);
      await w.deleteUser(caller.tenantId, id);
      await this.#record(w, caller, 'scim.user.delete', `user/${id}`, { userName: user.userName });
    });
  }

  // --- groups

  async listGroups(caller: ScimCaller, base: string, query: ListQuery): Promise<Doc> {
    const page = await this.#directory.listGroups(caller.tenantId, pageRequest(query));
    const members = wants(query, 'members')
      ? await this.#directory.membersOfGroups(
          caller.tenantId,
          page.items.map((g) => g.id),
        )
      : undefined;
    return listResponse(page, query, (g) => groupResource(g, members?.get(g.id) ?? null, base));
  }

  async getGroup(caller: ScimCaller, base: string, id: string, query?: ListQuery): Promise<Versioned> {
    const group = await this.#directory.getGroup(caller.tenantId, id);
    if (!group) throw notFound('Group', id);
    const members =
      !query || wants(query, 'members') ? await this.#directory.membersOf(caller.tenantId, id) : null;
    return versioned(groupResource(group, members, base), group.version, query);
  }

  async createGroup(caller: ScimCaller, base: string, body: unknown): Promise<Versioned> {
    const doc = canonical('Group', bodyObject(body));
    const fields = groupFields(doc);
    const ids = memberIdsOf(doc.members);
    const group = await this.#directory.write(async (w) => {
      const created = await w.createGroup(caller.tenantId, fields, 'scim');
      if (ids.length > 0) await w.addMembers(caller.tenantId, created.id, ids);
      await this.#record(w, caller, 'scim.group.create', `group/${created.id}`, {
        displayName: created.displayName,
        members: ids.length,
      });
      return w.lockGroup(caller.tenantId, created.id);
    });
    return this.getGroup(caller, base, group.id);
  }

  async replaceGroup(
    caller: ScimCaller,
    base: string,
    id: string,
    body: unknown,
    ifVersion?: number,
  ): Promise<Versioned> {
    const doc = canonical('Group', bodyObject(body));
    const fields = groupFields(doc);
    const ids = memberIdsOf(doc.members);
    await this.#directory.write(async (w) => {
      const updated = await w.updateGroup(caller.tenantId, id, () => fields, { ifVersion });
      await w.replaceMembers(caller.tenantId, id, ids);
      await this.#record(w, caller, 'scim.group.replace', `group/${id}`, {
        displayName: updated.displayName,
        members: ids.length,
      });
    });
    return this.getGroup(caller, base, id);
  }

  /**
   * A group PATCH: fields, then member steps, each one statement; 204 (the
   * members are not sent back). PATCHes arriving together share a
   * transaction and an audit event (batch.ts).
   */
  async patchGroup(caller: ScimCaller, id: string, body: unknown, ifVersion?: number): Promise<void> {
    const ops = parsePatchRequest(body);
    const plan = planGroupPatch(ops, { id });
    await this.#groupPatches.submit({
      caller,
      run: async (w) => {
        const group = await w.lockGroup(caller.tenantId, id);
        checkVersion(ifVersion, group.version, 'Group', id);
        if (plan.displayName !== undefined || plan.externalId !== undefined) {
          await w.updateGroup(caller.tenantId, id, (cur) => ({
            ...cur,
            displayName: plan.displayName ?? cur.displayName,
            externalId: plan.externalId === undefined ? cur.externalId : plan.externalId,
          }));
        }
        const summary: GroupPatchSummary = {
          id,
          displayName: plan.displayName ?? group.displayName,
          added: 0,
          removed: 0,
          replaced: null,
        };
        for (const step of plan.members) {
          if (step.kind === 'add') summary.added += await w.addMembers(caller.tenantId, id, step.ids);
          else if (step.kind === 'remove')
            summary.removed += await w.removeMembers(caller.tenantId, id, step.ids);
          else {
            await w.replaceMembers(caller.tenantId, id, step.ids);
            summary.replaced = step.ids.length;
          }
        }
        return summary;
      },
    });
  }

  /** One audit event for a batch of group PATCHes: per group what changed (the first 100 named), and the totals. */
  async #recordGroupPatches(w: DirectoryWriter, caller: ScimCaller, summaries: readonly GroupPatchSummary[]) {
    const one = summaries.length === 1 ? summaries[0] : undefined;
    await this.#record(w, caller, 'scim.group.patch', one ? `group/${one.id}` : 'groups', {
      requests: summaries.length,
      added: summaries.reduce((n, s) => n + s.added, 0),
      removed: summaries.reduce((n, s) => n + s.removed, 0),
      groups: summaries.slice(0, 100),
    });
  }

  async deleteGroup(caller: ScimCaller, id: string, ifVersion?: number): Promise<void> {
    await this.#directory.write(async (w) => {
      const group = await w.lockGroup(caller.tenantId, id);
      checkVersion(ifVersion, group.version, 'Group', id);
      await w.deleteGroup(caller.tenantId, id);
      await this.#record(w, caller, 'scim.group.delete', `group/${id}`, { displayName: group.displayName });
    });
  }
}

function bodyObject(body: unknown): Doc {
  if (!isObject(body))
    throw new ScimInputError('invalidSyntax', 'the body is a JSON object (a SCIM resource)', 'body');
  return body;
}

function parsedFilter(text: string | undefined): Filter | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    return parseFilter(text);
  } catch (error) {
    throw new ScimInputError('invalidFilter', (error as Error).message, 'filter');
  }
}

function pageSize(count: number | undefined): number {
  if (count === undefined) return defaultPageSize;
  if (!Number.isInteger(count)) {
    throw new ScimInputError('invalidValue', `count ${showValue(count)} is not a whole number`, 'count');
  }
  return Math.min(Math.max(count, 0), maxPageSize);
}

/** Whether the response should carry `name` (members of a group, groups of a user): they cost a query. */
function wants(query: ListQuery, name: string): boolean {
  const has = (list: readonly string[]) =>
    list.some((a) => a.toLowerCase() === name || a.toLowerCase().startsWith(`${name}.`));
  return query.attributes.length > 0 ? has(query.attributes) : !has(query.excludedAttributes);
}

/** What a list query asks the Directory for; a bad filter or count is refused before any query. */
function pageRequest(query: ListQuery): PageRequest & { filter: Filter | undefined } {
  return { filter: parsedFilter(query.filter), startIndex: query.startIndex, count: pageSize(query.count) };
}

/** A ListResponse of a page, each resource projected to the attributes asked for. */
function listResponse<T>(page: Page<T>, query: ListQuery, resourceOf: (item: T) => Doc): Doc {
  const resources = page.items.map((item) =>
    project(resourceOf(item), query.attributes, query.excludedAttributes),
  );
  return {
    schemas: [listSchema],
    totalResults: page.total,
    startIndex: page.startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

/** A resource and its version; projected when it answers a GET with attributes. */
function versioned(resource: Doc, version: number, query: ListQuery | undefined): Versioned {
  return {
    resource: query ? project(resource, query.attributes, query.excludedAttributes) : resource,
    version,
  };
}

function notFound(kind: 'User' | 'Group', id: string): NotFoundError {
  return new NotFoundError(`${kind} ${showValue(id)} not found`, { field: 'id' });
}

function checkVersion(ifVersion: number | undefined, version: number, kind: string, id: string): void {
  if (ifVersion !== undefined && ifVersion !== version) {
    // The same error the Directory throws for a stale update.
    throw new VersionMismatchError(`${kind} ${id} is at version ${version}, not ${ifVersion}; read it again`);
  }
}
