import { InputError, showValue } from '../../core/errors.ts';

/**
 * The edge session as plain data: the cookie's name and the claims of the
 * signed token it carries (the same token the app receives as
 * X-Steward-Identity), and the pure decisions around it: what a token says,
 * whether a session may be refreshed, and what HAProxy does with a request
 * (the rules in src/dataplane/auth-rules.ts do exactly this; the table test
 * of edgeDecision is their specification).
 */

/** The session cookie: host-only (`__Host-`), so no other host of the tenant ever receives it. */
export const sessionCookie = '__Host-steward-session';
/** The identity header the app receives: the session's token, verified by the edge. */
export const identityHeader = 'x-steward-identity';
export const sessionIssuer = 'steward';
/** How long one token is good for: the edge refuses it after this; refresh (through Steward) mints the next. */
export const tokenLifetimeSeconds = 300;
/** Past this many groups, `groups` is cut and `groups_overage: true` says so (the cookie stays under 4 KiB). */
export const maxTokenGroups = 40;
const maxGroupNameLength = 64;

export const signInModes = ['required', 'optional', 'off'] as const;
export type SignInMode = (typeof signInModes)[number];

export interface IdentityClaims {
  readonly iss: typeof sessionIssuer;
  /** A directory user's id, or `operator:<name>` for break-glass access. */
  readonly sub: string;
  readonly sid: string;
  readonly tenant: string;
  readonly stage: string;
  readonly host: string;
  readonly iat: number;
  readonly exp: number;
  readonly email: string | null;
  readonly name: string | null;
  readonly user_name: string | null;
  readonly groups: readonly string[];
  readonly groups_overage?: true;
  readonly roles: readonly string[];
  readonly amr: readonly string[];
}

/** Who a session is for, as the token names them. */
export interface SessionSubject {
  readonly subject: string;
  readonly userName: string | null;
  readonly email: string | null;
  readonly name: string | null;
  readonly groups: readonly string[];
  readonly roles: readonly string[];
}

export interface ClaimsInput extends SessionSubject {
  readonly sid: string;
  readonly tenant: string;
  readonly stage: string;
  readonly host: string;
  readonly amr: readonly string[];
  readonly now: Date;
  /** The session's absolute end: no token outlives it. */
  readonly notAfter: Date;
}

/** The claims of one token: short-lived, bounded in size (groups cut past maxTokenGroups; roles always whole). */
export function buildClaims(input: ClaimsInput): IdentityClaims {
  const iat = Math.floor(input.now.getTime() / 1000);
  const exp = Math.min(iat + tokenLifetimeSeconds, Math.floor(input.notAfter.getTime() / 1000));
  const groups = [...new Set(input.groups.filter((group) => group.length <= maxGroupNameLength))].sort();
  const overage = groups.length > maxTokenGroups || groups.length < new Set(input.groups).size;
  return {
    iss: sessionIssuer,
    sub: input.subject,
    sid: input.sid,
    tenant: input.tenant,
    stage: input.stage,
    host: input.host,
    iat,
    exp,
    email: input.email,
    name: input.name,
    user_name: input.userName,
    groups: groups.slice(0, maxTokenGroups),
    ...(overage ? { groups_overage: true as const } : {}),
    roles: [...new Set(input.roles)].sort(),
    amr: input.amr,
  };
}

/** A session row as the decisions below need it. */
export interface SessionState {
  readonly revokedAt: Date | null;
  readonly idleExpiresAt: Date;
  readonly absoluteExpiresAt: Date;
}

export type RefreshPlan =
  | { readonly kind: 'mint' }
  | {
      readonly kind: 'sign-in-again';
      readonly why: 'revoked' | 'idle' | 'expired' | 'inactive' | 'unknown';
      /** The row to revoke now (the user was deactivated or removed), if not revoked yet. */
      readonly revoke?: 'deactivated' | 'deleted' | 'expired';
    };

/** Whether a refresh mints a new token: the row not revoked and within both timeouts, the user still active. */
export function planRefresh(
  session: SessionState | undefined,
  user: { readonly active: boolean } | undefined | 'not-a-user',
  now: Date,
): RefreshPlan {
  if (!session) return { kind: 'sign-in-again', why: 'unknown' };
  if (session.revokedAt !== null) return { kind: 'sign-in-again', why: 'revoked' };
  if (now >= session.absoluteExpiresAt) return { kind: 'sign-in-again', why: 'expired', revoke: 'expired' };
  if (now >= session.idleExpiresAt) return { kind: 'sign-in-again', why: 'idle', revoke: 'expired' };
  if (user === undefined) return { kind: 'sign-in-again', why: 'inactive', revoke: 'deleted' };
  if (user !== 'not-a-user' && !user.active) {
    return { kind: 'sign-in-again', why: 'inactive', revoke: 'deactivated' };
  }
  return { kind: 'mint' };
}

/** What the edge knows of a request to a stage backend. */
export interface EdgeRequest {
  readonly mode: SignInMode;
  readonly method: string;
  /** Sec-Fetch-Mode, when the browser sent one. */
  readonly fetchMode?: string | undefined;
  readonly token: 'none' | 'bad-signature' | 'other-host' | 'other-tenant' | 'revoked' | 'expired' | 'valid';
}

export type EdgeDecision =
  | { readonly kind: 'pass'; readonly identity: boolean }
  | { readonly kind: 'redirect'; readonly to: 'login' | 'refresh' }
  | { readonly kind: 'unauthorized' };

/**
 * HAProxy's decision for a stage request. A valid token passes as the
 * identity header. A page load (GET or HEAD that is not a script's fetch)
 * with a token that is only expired goes to refresh, on any stage that looks
 * at sessions. Otherwise `optional` passes without the header and `required`
 * sends a page load to sign in and answers anything else 401.
 */
export function edgeDecision(request: EdgeRequest): EdgeDecision {
  if (request.mode === 'off') return { kind: 'pass', identity: false };
  if (request.token === 'valid') return { kind: 'pass', identity: true };
  const pageLoad =
    (request.method === 'GET' || request.method === 'HEAD') &&
    (request.fetchMode === undefined || request.fetchMode === 'navigate');
  // A signed-in user whose token only expired is refreshed, on optional stages too.
  if (pageLoad && request.token === 'expired') return { kind: 'redirect', to: 'refresh' };
  if (request.mode === 'optional') return { kind: 'pass', identity: false };
  if (!pageLoad) return { kind: 'unauthorized' };
  return { kind: 'redirect', to: 'login' };
}

/**
 * The `rd` return path of the sign-in pages: only a relative path on the
 * same host (`/…`, not `//…` nor `/\…`), never back into `/.steward/auth/`;
 * anything else is `/`.
 */
export function safeReturnPath(rd: string | null | undefined): string {
  if (!rd || rd.length > 2048) return '/';
  if (!rd.startsWith('/') || rd.startsWith('//') || rd.startsWith('/\\')) return '/';
  // Control characters and backslashes could turn into another host in some browsers.
  if ([...rd].some((c) => c < ' ' || c === '\u007f' || c === '\\')) return '/';
  if (rd.startsWith('/.steward/auth/')) return '/';
  return rd;
}

/** Idle and absolute timeouts of a session. */
export interface SessionTimeouts {
  readonly idleMinutes: number;
  readonly absoluteHours: number;
}

export function checkTimeouts(field: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InputError(
      `${field} ${showValue(value)} is not accepted: use a whole number from 1 to ${max}`,
      {
        field,
      },
    );
  }
  return value;
}
