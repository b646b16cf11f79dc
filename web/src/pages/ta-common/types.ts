/**
 * What the tenant admin's routes answer (src/api/routes: users, scim,
 * identity-oidc, tenant-admins, exports, sla, incidents, maintenance), as
 * the console reads it after JSON. Only the fields the pages show.
 */
export interface UserRow {
  readonly id: string;
  readonly userName: string;
  readonly email: string | null;
  readonly displayName: string | null;
  readonly active: boolean;
  readonly source: string;
  readonly groups: readonly string[];
  readonly mfa: boolean;
  readonly securityKeys: number;
  readonly mfaRequired: boolean;
  readonly passwordSet: boolean;
  readonly invitationPending: boolean;
  readonly lockedUntil: string | null;
  readonly lastSignInAt: string | null;
}

export interface GroupRow {
  readonly id: string;
  readonly displayName: string;
  readonly externalId: string | null;
  readonly source: string;
  readonly members: number;
  readonly updatedAt: string;
}

export interface RoleMapping {
  readonly stage: string | null;
  readonly group: string;
  readonly role: string;
}

export interface ScimTokenRow {
  readonly id: string;
  readonly name: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
}

export interface IssuedScimToken extends ScimTokenRow {
  readonly token: string;
  readonly url: string;
}

export interface OidcConnectionRow {
  readonly name: string;
  readonly stage: string | null;
  readonly label: string;
  readonly kind: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly provision: boolean;
  readonly redirectPath: string;
}

export interface LoginEventRow {
  readonly id: string;
  readonly at: string;
  readonly stage: string | null;
  readonly userName: string | null;
  readonly method: string;
  readonly outcome: 'success' | 'failure';
  readonly reason: string | null;
  readonly address: string | null;
  readonly detail: string | null;
}

export interface BreakGlassRow {
  readonly id: string;
  readonly stage: string;
  readonly operator: string;
  readonly reason: string;
  readonly state: string;
  readonly openedAt: string;
  readonly expiresAt: string;
  readonly usedAt: string | null;
  readonly closedAt: string | null;
  readonly closedBy: string | null;
}

export interface ExportRow {
  readonly id: string;
  readonly stage: string;
  readonly status: string;
  readonly reason: string;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly filename: string;
}

export interface TenantStatus {
  readonly tenant: string;
  readonly displayName: string;
  readonly region: string;
  readonly phase: string;
  readonly stages: readonly {
    readonly name: string;
    readonly phase: string;
    readonly readyAt: string | null;
    readonly paused: boolean;
  }[];
}

export interface IncidentRow {
  readonly id: string;
  readonly stage: string | null;
  readonly severity: number;
  readonly severityName: string;
  readonly title: string;
  readonly status: string;
  readonly security: boolean;
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  readonly closedAt?: string | null;
  readonly postmortem?: unknown;
}

export interface MaintenanceRow {
  readonly id: string;
  readonly stage: string | null;
  readonly reason: string;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly kind: string;
  readonly timeZone: string;
  readonly announcedAt: string | null;
  readonly cancelledAt: string | null;
}

export interface SlaPolicyRow {
  readonly version: number;
  readonly effectiveFrom: string;
  readonly target: number;
  readonly period: string;
  readonly timeZone: string;
  readonly serviceTime: string;
  readonly excludeOutagesUpToMinutes: number;
}

export interface SlaPolicies {
  readonly current: SlaPolicyRow | null;
  readonly versions: readonly SlaPolicyRow[];
}

export interface SlaOutage {
  readonly start: string;
  readonly end: string;
  readonly downMinutes: number;
  readonly ongoing: boolean;
  readonly clause: string;
}

export interface SlaReportBody {
  readonly period: string;
  readonly generatedAt: string;
  readonly figures: {
    readonly from: string;
    readonly to: string;
    readonly closed: boolean;
    readonly availability: number | null;
    readonly target: number;
    readonly status: string;
    readonly budgetLeftMinutes: number;
    readonly minutes: { readonly measured: number; readonly countedDowntime: number };
  };
  readonly outages: readonly SlaOutage[];
  readonly inputsSha256: string;
  readonly frozen: { readonly frozenAt: string; readonly evidenceChanged: boolean } | null;
  readonly freezesAt: string | null;
}
