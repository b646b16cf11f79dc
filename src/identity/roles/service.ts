import type { AuditService } from '../../audit/service.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../../core/errors.ts';
import { actorName, type Principal } from '../../core/policy.ts';
import type { ControlDb } from '../../store/db.ts';
import type { TenantView } from '../../tenants/service.ts';
import type { RoleResolver } from '../contracts.ts';
import { findTenantId } from '../tenant-id.ts';
import {
  checkGroupName,
  checkRole,
  groupKey,
  maxMappingsPerTenant,
  resolveRoles,
  type RoleMapping,
} from './mapping.ts';
import {
  countMappings,
  deleteMappings,
  findMapping,
  insertMapping,
  listMappings,
  lockTenantMappings,
  stageMappings,
} from './store.ts';

export interface RoleServiceOptions {
  readonly db: ControlDb;
  readonly audit: AuditService;
  readonly tenants: {
    show(slug: string): Promise<TenantView>;
    /** A present stage's id; NotFoundError naming the stages there are. */
    stageId(slug: string, stage: string): Promise<string>;
  };
}

/** `steward identity roles set`: a group of the tenant's directory gets an app role on a stage (or all). */
export interface SetRoleRequest {
  readonly stage?: unknown;
  readonly group?: unknown;
  readonly role?: unknown;
}

export interface RemoveRoleRequest {
  readonly stage?: unknown;
  readonly group?: unknown;
  /** Without it: every role of the group on that stage (or on all stages). */
  readonly role?: unknown;
}

/**
 * Groups to app roles, per tenant and stage: set, list, remove (each change
 * audited), and the RoleResolver that sessions ask when they mint the
 * identity JWT. Roles are the app's words: Steward only carries them.
 */
export class RoleService implements RoleResolver {
  readonly #o: RoleServiceOptions;

  constructor(options: RoleServiceOptions) {
    this.#o = options;
  }

  /** The tenant's id and, when a stage is named, the stage's; errors name the field and what there is. */
  async #place(
    tenant: string,
    stage: unknown,
  ): Promise<{ tenantId: string; stage: string | null; stageId: string | null }> {
    const tenantId = await findTenantId(this.#o.db, tenant);
    if (tenantId === undefined) {
      await this.#o.tenants.show(tenant); // throws the tenant service's NotFoundError
      throw new NotFoundError(`field "tenant": no tenant ${showValue(tenant)}`, { field: 'tenant' });
    }
    if (stage === undefined || stage === null) return { tenantId, stage: null, stageId: null };
    if (typeof stage !== 'string')
      throw new InputError(`field "stage": ${showValue(stage)} is not a stage name`, { field: 'stage' });
    return { tenantId, stage, stageId: await this.#o.tenants.stageId(tenant, stage) };
  }

  /** Adds the mapping; the same one again changes nothing (`created: false`). */
  async set(
    tenant: string,
    request: SetRoleRequest,
    by: Principal,
  ): Promise<{ readonly mapping: RoleMapping; readonly created: boolean }> {
    const group = checkGroupName(request.group);
    const role = checkRole(request.role);
    const place = await this.#place(tenant, request.stage);
    const key = groupKey(group);
    const id = await this.#o.db.transaction().execute(async (tx) => {
      await lockTenantMappings(tx, place.tenantId);
      const added = await insertMapping(tx, {
        tenantId: place.tenantId,
        stageId: place.stageId,
        group,
        groupKey: key,
        role,
        createdBy: actorName(by),
      });
      if (added === undefined) return undefined;
      if ((await countMappings(tx, place.tenantId)) > maxMappingsPerTenant) {
        throw new ConflictError(
          `tenant ${tenant} has ${maxMappingsPerTenant} role mappings, the most it may have; remove some first ("steward identity roles remove")`,
          { field: 'role' },
        );
      }
      await this.#o.audit.record(tx, {
        actor: actorName(by),
        address: by.address,
        action: 'identity.role.set',
        target: `tenant/${tenant}/role-mapping/${added}`,
        tenant,
        details: { stage: place.stage, group, role },
      });
      return added;
    });
    if (id !== undefined) return { mapping: (await findMapping(this.#o.db, id))!, created: true };
    const [existing] = (await listMappings(this.#o.db, place.tenantId, { groupKey: key })).filter(
      (m) => m.stage === place.stage && m.role === role,
    );
    if (!existing)
      throw new ConflictError(`the mapping of ${showValue(group)} to ${role} changed meanwhile; try again`);
    return { mapping: existing, created: false };
  }

  /** The tenant's mappings; with a stage, those that apply there (its own and those of all stages). */
  async list(tenant: string, stage?: string): Promise<RoleMapping[]> {
    const place = await this.#place(tenant, stage);
    return listMappings(this.#o.db, place.tenantId, place.stage === null ? {} : { stage: place.stage });
  }

  /** Removes the group's mappings on exactly that stage (no stage: the all-stages ones), of one role or all. */
  async remove(
    tenant: string,
    request: RemoveRoleRequest,
    by: Principal,
  ): Promise<{ readonly removed: string[] }> {
    const group = checkGroupName(request.group);
    const role = request.role === undefined || request.role === null ? undefined : checkRole(request.role);
    const place = await this.#place(tenant, request.stage);
    return this.#o.db.transaction().execute(async (tx) => {
      await lockTenantMappings(tx, place.tenantId);
      const removed = await deleteMappings(tx, {
        tenantId: place.tenantId,
        stageId: place.stageId,
        groupKey: groupKey(group),
        role,
      });
      if (removed.length === 0) {
        const where = place.stage === null ? 'on all stages' : `on stage ${place.stage}`;
        const there = (await listMappings(tx, place.tenantId, { groupKey: groupKey(group) })).map(
          (m) => `${m.role} (${m.stage ?? 'all stages'})`,
        );
        throw new NotFoundError(
          `field "${role === undefined ? 'group' : 'role'}": tenant ${tenant} maps group ${showValue(group)} to ${role === undefined ? 'no role' : `no role ${showValue(role)}`} ${where}; its mappings of that group are: ${there.join(', ') || '(none)'}`,
          { field: role === undefined ? 'group' : 'role' },
        );
      }
      await this.#o.audit.record(tx, {
        actor: actorName(by),
        address: by.address,
        action: 'identity.role.remove',
        target: `tenant/${tenant}/role-mappings`,
        tenant,
        details: { stage: place.stage, group, roles: removed },
      });
      return { removed };
    });
  }

  /** RoleResolver: the roles these groups give on the stage (sorted, each once); none for an unknown tenant. */
  async rolesOf(tenantId: string, stage: string, groups: readonly string[]): Promise<readonly string[]> {
    if (groups.length === 0) return [];
    return resolveRoles(await stageMappings(this.#o.db, tenantId, stage), stage, groups);
  }
}
