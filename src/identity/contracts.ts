/**
 * The seams between the identity modules for hosted apps (issue 13), fixed
 * first so that each can be built and tested against the others' shape:
 *
 * - directory/ owns the people and groups of a tenant (tenant_users,
 *   tenant_groups, tenant_group_members); SCIM, directory sync, local
 *   accounts and OIDC sign-ins all write through it.
 * - sessions/ owns end-user sessions: the signed cookie HAProxy verifies at
 *   the edge, refresh, logout, revocation; and the sign-in pages under
 *   `/.steward/auth/` on the tenant's own hosts, which call the sign-in
 *   methods below and then open a session for the user they name.
 * - local/ and oidc/ are sign-in methods: each turns what the browser sent
 *   into a DirectoryUser's id, or a refusal with a reason for the login log.
 * - login-log (local/) owns login_events: every sign-in, failure, MFA change
 *   and break-glass access, readable by the tenant's admins.
 *
 * Plain data only: no class here, no I/O.
 */

/** Where a sign-in happens: the tenant and stage of the host it came to. */
export interface SignInPlace {
  readonly tenantId: string;
  readonly tenant: string;
  readonly stage: string;
  /** The host the browser used (lower case, no port): cookies and redirects stay on it. */
  readonly host: string;
  /** The client's address as HAProxy saw it (X-Forwarded-For set by the edge). */
  readonly address: string;
}

/** Why a sign-in was refused, as the login log records it. */
export const signInFailureReasons = [
  'bad_password',
  'unknown_user',
  'mfa_failed',
  'locked',
  'inactive',
  'idp_error',
  'not_allowed',
  'bad_request',
] as const;
export type SignInFailureReason = (typeof signInFailureReasons)[number];

/** The methods a user can sign in with; `break_glass` is an operator's time-limited access. */
export const signInMethods = [
  'password',
  'totp',
  'webauthn',
  'oidc',
  'break_glass',
  'invitation',
  'reset',
] as const;
export type SignInMethod = (typeof signInMethods)[number];

export type SignInResult =
  | {
      readonly kind: 'signed-in';
      readonly userId: string;
      readonly method: SignInMethod;
      readonly amr: readonly string[];
      /** Recovery codes of a second factor just set up at sign-in: shown once, before going on. */
      readonly recoveryCodes?: readonly string[];
    }
  /**
   * The password was right, MFA is required and the user has no second factor: show the TOTP
   * set-up (this secret) and send the first code back with the challenge (no session before).
   */
  | {
      readonly kind: 'mfa-enrol';
      readonly challenge: string;
      readonly secret: string;
      readonly uri: string;
    }
  /** The password was right and the user has MFA: show the code form with this opaque, signed, short-lived challenge. */
  | {
      readonly kind: 'mfa-required';
      readonly challenge: string;
      /** The user has a security key for this host: the WebAuthn request options (JSON) for the key step. */
      readonly webauthn?: string;
    }
  /** `message` is safe to show the user (it never says whether the user exists). */
  | { readonly kind: 'refused'; readonly reason: SignInFailureReason; readonly message: string };

/** local/: passwords (argon2id), TOTP, lockout with backoff. Records every outcome in the login log. */
export interface LocalSignIn {
  /** Whether local accounts may sign in at this place (the tenant's identity settings). */
  enabled(place: SignInPlace): Promise<boolean>;
  password(place: SignInPlace, userName: string, password: string): Promise<SignInResult>;
  totp(place: SignInPlace, challenge: string, code: string): Promise<SignInResult>;
  /**
   * The key step instead of a code: the browser's WebAuthn assertion (JSON) for the challenge;
   * `origin` is `https://<host>[:port]` as the browser sent it (the pages checked Origin).
   */
  webauthn?(place: SignInPlace, origin: string, challenge: string, assertion: string): Promise<SignInResult>;
}

/** One OIDC connection as the sign-in page lists it (a button). */
export interface OidcChoice {
  readonly name: string;
  readonly label: string;
}

/** oidc/: authorization code + PKCE against the tenant's connections. Records every outcome in the login log. */
export interface OidcSignIn {
  choices(place: SignInPlace): Promise<readonly OidcChoice[]>;
  /**
   * Where to send the browser, and a cookie value (state, nonce, PKCE verifier, sealed) that the
   * pages set as `__Host-steward-oidc` (HttpOnly, Secure, SameSite=Lax, Path=/, 10 minutes).
   */
  begin(
    place: SignInPlace,
    connection: string,
    returnTo: string,
  ): Promise<{ readonly redirectTo: string; readonly flowCookie: string }>;
  /** The callback: the full callback URL as the browser requested it, and the flow cookie. */
  complete(
    place: SignInPlace,
    callbackUrl: URL,
    flowCookie: string | undefined,
  ): Promise<SignInResult & { readonly returnTo?: string }>;
}

/** What the app learns of the signed-in user (the identity JWT's claims, see sessions/). */
export interface SignedInUser {
  readonly userId: string;
  readonly userName: string;
  readonly email: string | null;
  readonly name: string | null;
  /** The user's groups (display names). */
  readonly groups: readonly string[];
  /** The app roles these groups map to on this stage (roles/). */
  readonly roles: readonly string[];
}

/** roles/: which app roles a user has on a stage, from the tenant's group-to-role mappings. */
export interface RoleResolver {
  rolesOf(tenantId: string, stage: string, groups: readonly string[]): Promise<readonly string[]>;
}

/** One line of the login log (local/login-log.ts owns the table; everyone records through it). */
export interface LoginEvent {
  readonly tenantId: string;
  readonly stage: string | null;
  readonly userId: string | null;
  /** What the person typed or the IdP asserted, bounded; for an unknown user too. */
  readonly userName: string | null;
  readonly method: SignInMethod | 'mfa_enrolled' | 'mfa_reset' | 'password_reset' | 'logout';
  readonly outcome: 'success' | 'failure';
  readonly reason: SignInFailureReason | null;
  readonly address: string | null;
  /** Free text without secrets: the IdP's error code, the break-glass reason, the connection's name. */
  readonly detail: string | null;
}

export interface LoginLog {
  record(event: LoginEvent): Promise<void>;
}
