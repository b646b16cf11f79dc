import type { IncomingMessage, ServerResponse } from 'node:http';
import { isStewardError } from '../../core/errors.ts';
import type { OidcSignIn, SignInPlace, SignInResult } from '../contracts.ts';

/**
 * The two pages of an OIDC sign-in under `/.steward/auth/` on the stage's own
 * host (the auth router of src/identity/pages/ resolves the place and calls
 * them): `oidc/<connection>` starts it (sets the sealed flow cookie,
 * redirects to the IdP), `callback` completes it (clears the cookie; a
 * signed-in user goes to `signedIn`, which opens the session).
 */
export type AuthPage = (req: IncomingMessage, res: ServerResponse, place: SignInPlace) => Promise<void>;

export const flowCookieName = '__Host-steward-oidc';

export interface OidcPagesOptions {
  readonly oidc: OidcSignIn;
  /** Opens the session for a signed-in user and answers the browser (a redirect to `returnTo`). */
  readonly signedIn: (
    req: IncomingMessage,
    res: ServerResponse,
    place: SignInPlace,
    result: Extract<SignInResult, { kind: 'signed-in' }>,
    returnTo: string,
  ) => Promise<void>;
}

export function oidcPages(options: OidcPagesOptions): {
  readonly start: AuthPage;
  readonly callback: AuthPage;
} {
  return {
    async start(req, res, place) {
      const url = new URL(req.url ?? '/', 'https://steward.invalid');
      const name = decodeURIComponent(url.pathname.split('/').pop() ?? '');
      try {
        const { redirectTo, flowCookie } = await options.oidc.begin(
          place,
          name,
          url.searchParams.get('rd') ?? '/',
        );
        res.writeHead(302, {
          location: redirectTo,
          'set-cookie': `${flowCookieName}=${flowCookie}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600`,
          'cache-control': 'no-store',
        });
        res.end();
      } catch (error) {
        if (!isStewardError(error)) throw error;
        page(res, error.status, 'Sign-in is not available', error.message);
      }
    },
    async callback(req, res, place) {
      const url = new URL(req.url ?? '/', `https://${place.host}`);
      const result = await options.oidc.complete(place, url, cookie(req, flowCookieName));
      const clear = `${flowCookieName}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`;
      res.setHeader('set-cookie', clear);
      if (result.kind === 'signed-in')
        return options.signedIn(req, res, place, result, result.returnTo ?? '/');
      const message = result.kind === 'refused' ? result.message : 'The sign-in could not be completed.';
      page(res, 403, 'Sign-in failed', message);
    },
  };
}

/** One cookie's value from the request's Cookie header. */
export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function page(res: ServerResponse, status: number, title: string, message: string): void {
  const escape = (text: string): string =>
    text.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? '&#39;',
    );
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>` +
      `<body><h1>${escape(title)}</h1><p>${escape(message)}</p><p><a href="/.steward/auth/login">Sign in again</a></p></body></html>\n`,
  );
}
