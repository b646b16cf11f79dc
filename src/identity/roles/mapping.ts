import { InputError, showValue } from '../../core/errors.ts';

/**
 * Groups to app roles, as plain data: what a mapping is, how a group name is
 * compared (without regard to case, the way SCIM and the directory compare
 * display names), and which roles a user's groups give on a stage.
 */
export interface RoleMapping {
  readonly id: string;
  readonly tenant: string;
  /** Null: every stage of the tenant, those added later too. */
  readonly stage: string | null;
  /** The group's display name as the mapping was given. */
  readonly group: string;
  readonly role: string;
  readonly createdBy: string;
  readonly createdAt: string;
  /** Whether the tenant's directory has a group of this name now (a mapping may come before its group). */
  readonly groupKnown: boolean;
}

/** The most mappings a tenant may have: they all land in every identity JWT's `roles` claim at worst. */
export const maxMappingsPerTenant = 200;

const rolePattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const maxGroupLength = 256;

/** What a group name matches by: Unicode lower case of its NFC form. The one definition (stored as group_key). */
export function groupKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/** A group's display name: 1 to 256 characters, no control characters, trimmed. */
export function checkGroupName(value: unknown, field = 'group'): string {
  const trimmed = typeof value === 'string' ? value.trim() : '';
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (trimmed === '' || trimmed.length > maxGroupLength || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new InputError(
      `field "${field}": ${showValue(value ?? null)} is not a group name; use the group's display name, 1 to ${maxGroupLength} characters without control characters`,
      { field },
    );
  }
  return trimmed;
}

/** An app role: what the app checks, so a plain token: letters, digits and _ . : - (1 to 64). */
export function checkRole(value: unknown, field = 'role'): string {
  if (typeof value !== 'string' || !rolePattern.test(value)) {
    throw new InputError(
      `field "${field}": ${showValue(value ?? null)} is not a role name; use 1 to 64 letters, digits, _ . : or -, starting with a letter or digit (e.g. finance.read)`,
      { field },
    );
  }
  return value;
}

/**
 * The roles a user with these groups has on `stage`: those of every mapping
 * of the stage or of all stages whose group is one of the user's, each once,
 * sorted (the JWT is the same for the same groups).
 */
export function resolveRoles(
  mappings: readonly Pick<RoleMapping, 'stage' | 'group' | 'role'>[],
  stage: string,
  groups: readonly string[],
): string[] {
  const keys = new Set(groups.map(groupKey));
  const roles = new Set<string>();
  for (const m of mappings) {
    if ((m.stage === null || m.stage === stage) && keys.has(groupKey(m.group))) roles.add(m.role);
  }
  return [...roles].sort();
}
