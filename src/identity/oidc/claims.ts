/**
 * What Steward reads from a verified ID token: the join value, the groups and
 * whether the IdP left groups out (Entra's overage). Pure, table-tested.
 * Nothing else of the token is kept, logged or passed on.
 */
export type Claims = Readonly<Record<string, unknown>>;

/** A claim name as a connection may configure it (join claim, groups claim). */
export const claimNamePattern = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;

/** At most this many groups are taken from a token or from Graph. */
export const maxGroups = 2000;

/** The join value: the configured claim as a trimmed, bounded string; undefined when absent or not a string. */
export function joinValue(claims: Claims, claim: string): string | undefined {
  const value = claims[claim];
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed.length > 0 && trimmed.length <= 256 ? trimmed : undefined;
}

/**
 * Whether the join value may be trusted as an e-mail address: an IdP that
 * says `email_verified: false` names an address nobody proved to own, and
 * joining on it would let anyone who types a victim's address sign in as them.
 */
export function joinValueVerified(claims: Claims, claim: string): boolean {
  return claim !== 'email' || claims.email_verified !== false;
}

export type GroupsClaim =
  | { readonly kind: 'listed'; readonly groups: readonly string[] }
  /** Entra left the groups out (more than fit a token): Graph has them. */
  | { readonly kind: 'overage'; readonly groups: readonly string[] }
  | { readonly kind: 'none' };

/**
 * The groups of a token. Entra's overage is signalled by a distributed claim
 * (`_claim_names.groups` pointing into `_claim_sources`) or, in implicit and
 * hybrid flows, by `hasgroups: true`; the groups claim is then absent.
 */
export function groupsClaim(claims: Claims, claim: string): GroupsClaim {
  const names = claims._claim_names;
  const distributed =
    typeof names === 'object' &&
    names !== null &&
    typeof (names as Record<string, unknown>)[claim] === 'string';
  const listed = strings(claims[claim]);
  if (distributed || claims.hasgroups === true || claims.hasgroups === 'true') {
    return { kind: 'overage', groups: listed };
  }
  if (claims[claim] === undefined) return { kind: 'none' };
  return { kind: 'listed', groups: listed };
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) return [];
  return value
    .filter((v): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256)
    .slice(0, maxGroups);
}

/** The Entra object id of the user (Graph's key), when it is one. */
export function entraObjectId(claims: Claims): string | undefined {
  const oid = claims.oid;
  return typeof oid === 'string' && /^[0-9a-f-]{36}$/.test(oid) ? oid : undefined;
}

/** The display name an IdP gives, bounded. */
export function displayName(claims: Claims): string | null {
  const name = claims.name;
  return typeof name === 'string' && name.trim().length > 0 ? name.trim().slice(0, 256) : null;
}

/** The verified e-mail address of a token, lower case. */
export function verifiedEmail(claims: Claims): string | null {
  const email = claims.email;
  if (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email) || email.length > 320) return null;
  return claims.email_verified === false ? null : email.toLowerCase();
}
