/**
 * Who may do what. Owners do everything; operators run tenants but do not
 * manage operators or keys; auditors read.
 */
export const operatorRoles = ['owner', 'operator', 'auditor'] as const;
export type OperatorRole = (typeof operatorRoles)[number];

export const permissions = [
  'tenants.read',
  'tenants.write',
  'releases.write',
  'credentials.read',
  'audit.read',
  'operators.read',
  'operators.write',
  'tokens.self',
  'secrets.rotate',
  'certificates.write',
  'notifications.write',
  /** A tenant's end users, groups, identity settings, SCIM tokens, directory sync and login log. */
  'identity.read',
  'identity.write',
] as const;
export type Permission = (typeof permissions)[number];

const grants: Readonly<Record<OperatorRole, readonly Permission[]>> = {
  owner: permissions,
  operator: [
    'tenants.read',
    'tenants.write',
    'releases.write',
    'credentials.read',
    'audit.read',
    'operators.read',
    'tokens.self',
    'certificates.write',
    'notifications.write',
    'identity.read',
    'identity.write',
  ],
  auditor: ['tenants.read', 'audit.read', 'operators.read', 'tokens.self', 'identity.read'],
};

export function can(role: OperatorRole, permission: Permission): boolean {
  return grants[role].includes(permission);
}

/** A role may hand out tokens for itself or a lesser role, never a greater one. */
export function roleCovers(holder: OperatorRole, requested: OperatorRole): boolean {
  return operatorRoles.indexOf(holder) <= operatorRoles.indexOf(requested);
}

/**
 * A scoped API token may call only the routes of its scope, whatever its
 * role: `alertmanager` only POST /api/alerts/alertmanager, so the token kept
 * in Alertmanager's config can raise alerts and do nothing else.
 */
export const tokenScopes = ['alertmanager'] as const;
export type TokenScope = (typeof tokenScopes)[number];

/** Who did it: an operator through a token, or Steward itself. */
export interface Principal {
  readonly kind: 'operator' | 'system';
  readonly operatorId: string | null;
  readonly username: string;
  readonly role: OperatorRole;
  readonly tokenId: string | null;
  readonly address: string | null;
  /**
   * The token is one of the operator's own sign-ins (a login session, or the
   * local CLI token of the machine) and carries the operator's whole role:
   * only such a token may change the account (password, MFA, tokens).
   */
  readonly accountAccess: boolean;
  /** Set for a scoped token: only routes of this scope. */
  readonly scope?: TokenScope | null;
}

export const systemPrincipal: Principal = {
  kind: 'system',
  operatorId: null,
  username: 'steward',
  role: 'owner',
  tokenId: null,
  address: null,
  accountAccess: false,
};

export function actorName(principal: Principal): string {
  return principal.kind === 'system' ? 'system' : `operator:${principal.username}`;
}
