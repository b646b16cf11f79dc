import { consoleCookie, csrfHeader, safeMethods } from '../console/session.ts';

/**
 * How the OpenAPI document says a request authenticates: an API token as a
 * bearer, or the console's session cookie, which on a change (POST, PUT,
 * PATCH, DELETE) also needs the session's CSRF token in a header (the rules
 * are console/session.ts's; this only describes them). Public routes declare
 * none.
 */
export const securitySchemes = {
  bearer: {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API token (stw_…) in "Authorization: Bearer": the CLI\'s (client.json or STEWARD_TOKEN) or one made with POST /api/v1/tokens. A request that carries it needs no CSRF token.',
  },
  cookieAuth: {
    type: 'apiKey',
    in: 'cookie',
    name: consoleCookie,
    description: `The console's session, set by POST /api/v1/console/login (HttpOnly, Secure, SameSite=Strict, host-only) and ended by POST /api/v1/console/logout; used when there is no Authorization header. A change made with it also needs ${csrfHeader} (csrfToken) and an Origin or Sec-Fetch-Site header naming this origin.`,
  },
  csrfToken: {
    type: 'apiKey',
    in: 'header',
    name: csrfHeader,
    description: `The session's CSRF token: csrfToken in the answer of POST /api/v1/console/login or GET /api/v1/console/session. Every change (POST, PUT, PATCH, DELETE) authenticated by the session cookie sends it; without it, or with another, the change is a 403 naming ${csrfHeader}.`,
  },
} as const;

export type SecurityScheme = keyof typeof securitySchemes;

/**
 * What an authenticated route accepts, as alternatives: an API token, or the
 * session cookie (with the CSRF header when the method changes something).
 */
export function routeSecurity(method: string): Partial<Record<SecurityScheme, []>>[] {
  return safeMethods.includes(method.toUpperCase())
    ? [{ bearer: [] }, { cookieAuth: [] }]
    : [{ bearer: [] }, { cookieAuth: [], csrfToken: [] }];
}
