import { isStewardError } from '../../core/errors.ts';
import type { OidcSignIn } from '../contracts.ts';
import type { AuthPageContext, AuthPages } from '../pages/index.ts';

/**
 * The two pages of an OIDC sign-in on the auth router of src/identity/pages/
 * (under `/.steward/auth/` on the stage's own host): `oidc/<connection>`
 * starts it (a POST from the sign-in page's button, past the router's CSRF
 * check: sets the sealed flow cookie, redirects to the IdP), `callback`
 * completes it (clears the cookie; the router opens the session or shows the
 * refusal on the sign-in page).
 */
export const flowCookieName = '__Host-steward-oidc';

const clearFlow = `${flowCookieName}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`;

export function registerOidcPages(router: Pick<AuthPages, 'add'>, oidc: OidcSignIn): void {
  router.add('oidc', (context) => start(context, oidc));
  router.add('callback', (context) => callback(context, oidc));
}

async function start(context: AuthPageContext, oidc: OidcSignIn): Promise<void> {
  const { req, res, segments, place, returnTo } = context;
  const name = segments[1] ?? '';
  if (req.method !== 'POST' || segments.length !== 2) {
    // Only the sign-in page's button (a POST with its CSRF token) starts a sign-in.
    res.writeHead(303, {
      location: `/.steward/auth/login?rd=${encodeURIComponent(returnTo)}`,
      'cache-control': 'no-store',
    });
    res.end();
    return;
  }
  try {
    const { redirectTo, flowCookie } = await oidc.begin(place, name, returnTo);
    res.writeHead(303, {
      location: redirectTo,
      'set-cookie': `${flowCookieName}=${flowCookie}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600`,
      'cache-control': 'no-store',
    });
    res.end();
  } catch (error) {
    if (!isStewardError(error)) throw error;
    await context.finish({
      kind: 'refused',
      reason: error.code === 'not_found' ? 'bad_request' : 'idp_error',
      message: error.code === 'not_found' ? 'There is no such sign-in here.' : `${error.message}.`,
    });
  }
}

async function callback(context: AuthPageContext, oidc: OidcSignIn): Promise<void> {
  const { req, res, place, url } = context;
  const result = await oidc.complete(place, url, cookie(req.headers.cookie, flowCookieName));
  res.appendHeader('set-cookie', clearFlow);
  await context.finish(result, result.returnTo ?? '/');
}

/** One cookie's value from a Cookie header. */
export function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
