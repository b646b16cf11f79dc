import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The console's session: the API token of a console sign-in, kept in a
 * cookie the page's scripts cannot read, and the CSRF rules for requests that
 * carry it. Pure functions, no I/O: api/route.ts asks them for every request
 * without an Authorization header.
 */
export const consoleCookie = '__Host-steward';

/** The header a cookie-authenticated change must carry the session's CSRF token in. */
export const csrfHeader = 'x-csrf-token';

/**
 * The session's CSRF token: an HMAC keyed with the session token itself. Only
 * who holds the token (the cookie, which no page script and no other site can
 * read) can compute it, every Steward node computes the same one without a
 * shared key or a stored row, and it reveals nothing of the token.
 */
export function csrfTokenOf(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('steward console csrf v1').digest('base64url');
}

/** The console cookie's value from a Cookie header (the first one: browsers send the most specific first). */
export function consoleCookieValue(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === consoleCookie) {
      const value = part.slice(eq + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

/**
 * Sets the session cookie: host-only (`__Host-`, Path=/, no Domain), never
 * sent over plain HTTP, unreadable to scripts, never sent on a request
 * another site starts; it ends when the token does.
 */
export function sessionCookieHeader(token: string, maxAgeSeconds: number): string {
  const maxAge = Math.max(0, Math.floor(maxAgeSeconds));
  return `${consoleCookie}=${token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`;
}

export const clearedSessionCookie = `${consoleCookie}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`;

export const safeMethods: readonly string[] = ['GET', 'HEAD', 'OPTIONS'];

export interface CookieRequest {
  readonly method: string;
  readonly sessionToken: string;
  /** The Host header as sent. */
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
  readonly csrfToken: string | undefined;
}

/**
 * Why a request authenticated by the console cookie is refused, or undefined
 * when it may go on. A read needs nothing more (SameSite=Strict keeps the
 * cookie off other sites' requests, and their scripts cannot read our
 * answers). A change needs the session's CSRF token in `x-csrf-token` and
 * comes from this origin: its Origin names this host over https and its
 * Sec-Fetch-Site (when sent) is same-origin, and at least one of them is sent.
 */
export function cookieRefusal(request: CookieRequest): { message: string; field: string } | undefined {
  if (safeMethods.includes(request.method.toUpperCase())) return undefined;
  const site = request.secFetchSite?.toLowerCase();
  if (site !== undefined && site !== 'same-origin') {
    return {
      message: `a console session may not be used from another site (Sec-Fetch-Site: ${site}; only same-origin is accepted)`,
      field: 'sec-fetch-site',
    };
  }
  if (request.origin !== undefined) {
    const expected = request.host === undefined ? undefined : `https://${request.host.toLowerCase()}`;
    if (request.origin.toLowerCase() !== expected) {
      return {
        message: `a console session may not be used from another origin (Origin: ${request.origin.slice(0, 200)}; only ${expected ?? 'this host'} is accepted)`,
        field: 'origin',
      };
    }
  } else if (site === undefined) {
    return {
      message:
        'a change with a console session needs an Origin or Sec-Fetch-Site header naming this origin (browsers send them); scripts use an API token instead',
      field: 'origin',
    };
  }
  if (request.csrfToken === undefined || request.csrfToken === '') {
    return {
      message: `a change with a console session needs the ${csrfHeader} header: the csrfToken from POST /api/v1/console/login or GET /api/v1/console/session`,
      field: csrfHeader,
    };
  }
  const expected = Buffer.from(csrfTokenOf(request.sessionToken));
  const given = Buffer.from(request.csrfToken);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return {
      message: `the ${csrfHeader} header is not this session's CSRF token; GET /api/v1/console/session gives the current one`,
      field: csrfHeader,
    };
  }
  return undefined;
}
