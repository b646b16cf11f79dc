/**
 * Who may do what. Owners do everything; operators run tenants but do not
 * manage operators or keys; auditors read. A tenant admin (the customer's IT,
 * issue 13) is no operator: its account lives beside theirs, scoped to one
 * tenant, and it may call only the routes marked `tenantAdmin` (api/route.ts),
 * for that tenant.
 */
export const operatorRoles = ['owner', 'operator', 'auditor'] as const;
export type OperatorRole = (typeof operatorRoles)[number];
export const roles = [...operatorRoles, 'tenant-admin'] as const;
export type Role = (typeof roles)[number];

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
  /** Download a tenant's export file (data portability). */
  'exports.download',
  /** Steward's own settings (effective limits, regions): operators read them; the config file sets them. */
  'settings.read',
] as const;
export type Permission = (typeof permissions)[number];

const grants: Readonly<Record<Role, readonly Permission[]>> = {
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
    'exports.download',
    'settings.read',
  ],
  auditor: ['tenants.read', 'audit.read', 'operators.read', 'tokens.self', 'identity.read', 'settings.read'],
  /** Only on routes marked `tenantAdmin`, and only for its own tenant (api/route.ts tenantAdminRefusal). */
  'tenant-admin': ['tenants.read', 'tokens.self', 'identity.read', 'identity.write', 'exports.download'],
};

export function can(role: Role, permission: Permission): boolean {
  return grants[role].includes(permission);
}

/** Everything a role may do: the console hides what is not in it (the API still enforces each route). */
export function permissionsOf(role: Role): Permission[] {
  return [...grants[role]];
}

/**
 * A role may hand out tokens for itself or a lesser role, never a greater one.
 * A tenant admin's tokens are tenant admin tokens; no operator's token is one.
 */
export function roleCovers(holder: Role, requested: Role): boolean {
  if (holder === 'tenant-admin' || requested === 'tenant-admin') return holder === requested;
  return operatorRoles.indexOf(holder) <= operatorRoles.indexOf(requested);
}

/**
 * A scoped API token may call only the routes of its scope, whatever its
 * role: `alertmanager` only POST /api/alerts/alertmanager, so the token kept
 * in Alertmanager's config can raise alerts and do nothing else.
 */
export const tokenScopes = ['alertmanager'] as const;
export type TokenScope = (typeof tokenScopes)[number];

/** The tenant a tenant admin is scoped to. */
export interface PrincipalTenant {
  readonly id: string;
  readonly slug: string;
  /** Whether the admin has enrolled TOTP: until then it may only manage its own account. */
  readonly mfa: boolean;
}

/** Who did it: an operator or a tenant admin through a token, or Steward itself. */
export interface Principal {
  readonly kind: 'operator' | 'tenant-admin' | 'system';
  /** The account's id (operators table): an operator's or a tenant admin's. */
  readonly operatorId: string | null;
  readonly username: string;
  readonly role: Role;
  /** Set exactly for kind `tenant-admin`. */
  readonly tenant?: PrincipalTenant | undefined;
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
  if (principal.kind === 'system') return 'system';
  if (principal.kind === 'tenant-admin')
    return `tenant-admin:${principal.tenant?.slug ?? '?'}/${principal.username}`;
  return `operator:${principal.username}`;
}

/** What api/route.ts knows of a route when it asks whether a tenant admin may call it. */
export interface RouteAccess {
  readonly url: string;
  readonly permission: Permission | 'public' | 'authenticated';
  readonly tenantAdmin?: true | undefined;
}

/**
 * The routes a tenant admin may call without naming its tenant: those about
 * its own account (who it is, its password, its MFA, its own tokens).
 */
export function isAccountRoute(route: RouteAccess): boolean {
  return (
    !route.url.includes('/:tenant') &&
    (route.permission === 'authenticated' || route.permission === 'tokens.self')
  );
}

/**
 * Why a tenant admin may not call this route with these path parameters, or
 * undefined when it may: only routes marked `tenantAdmin`, only for its own
 * tenant (the `:tenant` parameter), and only once it has enrolled TOTP (until
 * then, only its own account's routes, so that it can enrol). Operators and
 * Steward itself are not asked here.
 */
export function tenantAdminRefusal(
  principal: Pick<Principal, 'kind' | 'tenant'>,
  route: RouteAccess,
  params: Readonly<Record<string, unknown>>,
): string | undefined {
  if (principal.kind !== 'tenant-admin') return undefined;
  if (!principal.tenant) return 'this tenant admin has no tenant';
  if (route.permission === 'public') return undefined;
  if (route.tenantAdmin !== true)
    return "a tenant admin may not call this route: it is for Steward's operators";
  if (isAccountRoute(route)) return undefined;
  if (!route.url.includes('/:tenant')) return 'a tenant admin may only call routes of its own tenant';
  if (params.tenant !== principal.tenant.slug) {
    return `a tenant admin of ${principal.tenant.slug} may only call routes of tenant ${principal.tenant.slug}`;
  }
  if (!principal.tenant.mfa) {
    return 'enrol MFA first ("steward mfa enroll", then "steward mfa verify"): a tenant admin may manage its tenant only with a second factor';
  }
  return undefined;
}
