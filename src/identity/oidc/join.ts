import type { SignInFailureReason } from '../contracts.ts';

/**
 * How an OIDC sign-in finds its directory user (the join), decided by a pure
 * function of what was looked up:
 *
 * 1. The IdP subject (connection, issuer, `sub`) joined before, in
 *    user_identities: that user, whatever its userName or e-mail became.
 * 2. Else the connection's join claim (default `email`; for Entra
 *    `preferred_username`, the UPN; `upn` or any other claim if configured)
 *    against the directory's userName and e-mail, without regard to case. A
 *    userName match wins over an e-mail match; two users with that e-mail and
 *    no userName match are ambiguous and refused. An `email` join claim the
 *    IdP marks `email_verified: false` is never joined on.
 * 3. No user: refused `not_allowed`, unless the connection provisions (then a
 *    new user of source `oidc`, userName = the join value).
 *
 * A found user that is inactive is refused (`inactive`). A user found by
 * claim is then joined to the subject, so step 1 finds it next time.
 */
export interface JoinUser {
  readonly id: string;
  readonly userName: string;
  readonly email: string | null;
  readonly active: boolean;
}

/** What the join needs of the directory (src/identity/directory/ answers it). */
export interface OidcDirectory {
  user(tenantId: string, id: string): Promise<JoinUser | undefined>;
  /** Users whose userName (case-insensitively) or e-mail (lower case) is `value`. */
  matching(tenantId: string, value: string): Promise<readonly JoinUser[]>;
  /** A new user of source `oidc`. */
  provision(
    tenantId: string,
    fields: { readonly userName: string; readonly email: string | null; readonly displayName: string | null },
  ): Promise<JoinUser>;
}

export interface JoinObserved {
  /** The user the subject was joined to before (undefined: none, or deleted since). */
  readonly linked: JoinUser | undefined;
  readonly claim: string;
  /** The join claim's value, when the token had a usable one. */
  readonly value: string | undefined;
  readonly verified: boolean;
  /** The users matching `value` (empty when not looked up). */
  readonly candidates: readonly JoinUser[];
  readonly provision: boolean;
}

export type JoinPlan =
  | { readonly kind: 'user'; readonly user: JoinUser; readonly link: boolean }
  | { readonly kind: 'provision'; readonly userName: string }
  | { readonly kind: 'refuse'; readonly reason: SignInFailureReason; readonly detail: string };

export function planJoin(o: JoinObserved): JoinPlan {
  if (o.linked) return active(o.linked, false);
  if (o.value === undefined) {
    return {
      kind: 'refuse',
      reason: 'not_allowed',
      detail: `the ID token has no usable ${o.claim} claim to join on`,
    };
  }
  if (!o.verified) {
    return { kind: 'refuse', reason: 'not_allowed', detail: `the IdP says ${o.claim} is not verified` };
  }
  const lower = o.value.toLowerCase();
  const byName = o.candidates.find((u) => u.userName.toLowerCase() === lower);
  if (byName) return active(byName, true);
  const byEmail = o.candidates.filter((u) => u.email === lower);
  if (byEmail.length > 1) {
    return {
      kind: 'refuse',
      reason: 'not_allowed',
      detail: `${byEmail.length} users have the e-mail address of ${o.claim}`,
    };
  }
  const [single] = byEmail;
  if (single) return active(single, true);
  if (o.provision) return { kind: 'provision', userName: o.value };
  return { kind: 'refuse', reason: 'not_allowed', detail: `no user of the tenant matches ${o.claim}` };
}

function active(user: JoinUser, link: boolean): JoinPlan {
  if (!user.active) return { kind: 'refuse', reason: 'inactive', detail: 'the user is deactivated' };
  return { kind: 'user', user, link };
}
