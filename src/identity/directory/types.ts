/**
 * The people and groups of a tenant, as every identity module sees them
 * (SCIM, directory sync, local accounts, OIDC sign-ins). Plain data: the
 * Directory (directory.ts) reads and writes them, nobody else.
 */

/** Who created a user or group; stored in `source`. */
export const directorySources = ['local', 'scim', 'ldap', 'oidc'] as const;
export type DirectorySource = (typeof directorySources)[number];

/** Attribute values as SCIM sent them (emails, phoneNumbers, the enterprise extension, ...). */
export type Attributes = Readonly<Record<string, unknown>>;

export interface DirectoryUser {
  /** Opaque and stable: the SCIM id, the `sub` of the identity JWT. */
  readonly id: string;
  readonly tenantId: string;
  /** Unique per tenant without regard to case. */
  readonly userName: string;
  /** The IdP's id for the user, unique per tenant when set. */
  readonly externalId: string | null;
  /** Lower case: the primary (or first work) e-mail address. */
  readonly email: string | null;
  readonly displayName: string | null;
  readonly givenName: string | null;
  readonly familyName: string | null;
  /** False: deactivated (soft deleted); kept with its memberships, cannot sign in. */
  readonly active: boolean;
  readonly source: DirectorySource;
  readonly attributes: Attributes;
  /** Bumped on every change: SCIM's meta.version. */
  readonly version: number;
  readonly lastSignInAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** What a user is made of, written whole on create and on every update. */
export interface UserFields {
  readonly userName: string;
  readonly externalId?: string | null | undefined;
  readonly email?: string | null | undefined;
  readonly displayName?: string | null | undefined;
  readonly givenName?: string | null | undefined;
  readonly familyName?: string | null | undefined;
  readonly active?: boolean | undefined;
  readonly attributes?: Attributes | undefined;
}

export interface DirectoryGroup {
  readonly id: string;
  readonly tenantId: string;
  /** Unique per tenant without regard to case. */
  readonly displayName: string;
  readonly externalId: string | null;
  readonly source: DirectorySource;
  readonly attributes: Attributes;
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface GroupFields {
  readonly displayName: string;
  readonly externalId?: string | null | undefined;
  readonly attributes?: Attributes | undefined;
}

/** A member as a group lists it. */
export interface GroupMember {
  readonly userId: string;
  readonly userName: string;
  readonly displayName: string | null;
}

/** A group as a user's `groups` list shows it. */
export interface GroupRef {
  readonly id: string;
  readonly displayName: string;
}

/** One page of a list, ordered by (created_at, id): stable while users are added. */
export interface Page<T> {
  readonly total: number;
  /** 1-based, as SCIM counts. */
  readonly startIndex: number;
  readonly items: readonly T[];
}

export interface PageRequest {
  /** 1-based; below 1 is read as 1 (RFC 7644 §3.4.2.4). */
  readonly startIndex?: number | undefined;
  /** 0 returns only the total. */
  readonly count?: number | undefined;
}

/** Told after the transaction that deactivated or deleted a user commits. */
export interface UserGone {
  readonly kind: 'deactivated' | 'deleted';
  readonly tenantId: string;
  readonly userId: string;
}

export type UserGoneListener = (event: UserGone) => Promise<void> | void;

/** How one user is looked up: userName (case-insensitive) or externalId (exact). */
export type UserKey = { readonly userName: string } | { readonly externalId: string };

export type GroupKey = { readonly displayName: string } | { readonly externalId: string };
