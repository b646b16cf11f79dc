import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { normaliseHost } from '../../gateway/routes.ts';
import { readForm } from '../../gateway/form.ts';
import type { LocalSignIn, LoginLog, OidcSignIn, SignInPlace, SignInResult } from '../contracts.ts';
import { safeReturnPath, sessionCookie } from '../sessions/claims.ts';
import type { SessionFor, SessionService } from '../sessions/service.ts';
import type { IdentitySettings } from '../sessions/settings.ts';
import { csrfAccepted, csrfCookie, csrfTokenValid, newCsrfToken } from './csrf.ts';
import {
  loginPage,
  logoutPage,
  messagePage,
  mfaEnrolPage,
  mfaPage,
  recoveryCodesPage,
  type PageFrame,
} from './html.ts';

/**
 * The sign-in pages under `/.steward/auth/` on a stage's own host, and the
 * router other identity modules add sub-paths to (`add(name, handler)`):
 * id-local (invite, reset, MFA enrolment), id-oidc (`oidc/<connection>`,
 * `callback`), id-admin (break-glass, admin-invite). Every POST passes the
 * CSRF check (signed double-submit token and Origin) before any handler
 * sees it; `rd` is only ever a relative path on the same host.
 */

/** A sign-in place with what the pages show: the tenant's display name. */
export interface PagePlace extends SignInPlace {
  readonly tenantName: string;
}

export interface PlaceResolver {
  /** The tenant and stage a (normalised) host is routed to; undefined for any other host. */
  resolve(host: string, address: string): Promise<PagePlace | undefined>;
}

export interface AuthPageContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly place: PagePlace;
  readonly url: URL;
  /** The path after `/.steward/auth/`, split at '/'. */
  readonly segments: readonly string[];
  /** A POST's form, already past the CSRF check (undefined for GET). */
  readonly form: URLSearchParams | undefined;
  /** The CSRF token to put into a form the handler renders (its cookie is set). */
  readonly csrf: string;
  /** The safe return path from `rd`. */
  readonly returnTo: string;
  /** Opens a session (rotating any the browser had), sets the cookie, sends the browser to `returnTo`. */
  signIn(who: SessionFor, amr: readonly string[], returnTo?: string, expiresAt?: Date): Promise<void>;
  /** Renders a result of a sign-in method (signed in, MFA code asked, refused). */
  finish(result: SignInResult, returnTo?: string): Promise<void>;
  frame(title: string): PageFrame;
}

export type AuthPageHandler = (context: AuthPageContext) => Promise<void>;

export interface AuthPagesOptions {
  readonly sessions: SessionService;
  readonly settings: IdentitySettings;
  readonly places: PlaceResolver;
  readonly logger: Logger;
  readonly local?: LocalSignIn;
  readonly oidc?: OidcSignIn;
  /** The login log (id-local): sign-outs are recorded there beside the sign-ins. */
  readonly log?: LoginLog;
}

const builtIn = ['login', 'mfa', 'logout', 'logout-everywhere', 'refresh', 'jwks.json'] as const;
const maxForm = 8 * 1024;

export class AuthPages {
  readonly #o: AuthPagesOptions;
  readonly #handlers = new Map<string, AuthPageHandler>();
  #local: LocalSignIn | undefined;
  #oidc: OidcSignIn | undefined;

  constructor(options: AuthPagesOptions) {
    this.#o = options;
    this.#local = options.local;
    this.#oidc = options.oidc;
  }

  /** Adds a sub-path (`/.steward/auth/<name>/…`) served by another identity module. */
  add(name: string, handler: AuthPageHandler): void {
    this.#checkName(name);
    this.#handlers.set(name, handler);
  }

  /** The directory user signed in on this request (a valid session cookie for this host), if any. */
  async currentUser(req: IncomingMessage, place: SignInPlace): Promise<string | undefined> {
    const token = parseCookies(req.headers.cookie).get(sessionCookie);
    const claims = token ? await this.#o.sessions.verify(token) : undefined;
    if (
      !claims ||
      claims.host !== place.host ||
      claims.tenant !== place.tenant ||
      claims.sub.startsWith('operator:')
    ) {
      return undefined;
    }
    return (await this.#o.sessions.isLive(claims.sid)) ? claims.sub : undefined;
  }

  #checkName(name: string): void {
    if (
      !/^[a-z][a-z0-9-]{0,40}$/.test(name) ||
      (builtIn as readonly string[]).includes(name) ||
      this.#handlers.has(name)
    ) {
      throw new Error(`auth page ${JSON.stringify(name)} is taken or not a lower-case name`);
    }
  }

  /** The tenant and stage of a host (for others' flows that start outside a page: break-glass, tests). */
  place(host: string, address: string): Promise<PagePlace | undefined> {
    return this.#o.places.resolve(host, address);
  }

  useLocal(local: LocalSignIn): void {
    this.#local = local;
  }

  useOidc(oidc: OidcSignIn): void {
    this.#oidc = oidc;
  }

  /** The handler StewardPages calls for `/.steward/auth/…`. */
  readonly handler = (req: IncomingMessage, res: ServerResponse): void => {
    this.#handle(req, res).catch((error: unknown) => {
      this.#o.logger.error({ err: error }, 'sign-in page failed');
      if (!res.headersSent)
        send(res, 500, 'text/plain; charset=utf-8', 'Something went wrong. Please try again.\n');
      else res.destroy();
    });
  };

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://steward.invalid');
    const segments = url.pathname.slice('/.steward/auth/'.length).split('/');
    const name = segments[0] ?? '';
    if (name === 'jwks.json' && segments.length === 1) {
      const body = await this.#o.sessions.jwks();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' });
      res.end(body);
      return;
    }
    const host = normaliseHost(req.headers.host);
    const address =
      String(req.headers['x-forwarded-for'] ?? req.socket.remoteAddress ?? '')
        .split(',')[0]
        ?.trim() ?? '';
    const place = host === undefined ? undefined : await this.#o.places.resolve(host, address);
    if (!place) return send(res, 404, 'text/plain; charset=utf-8', 'Not found\n');
    const key = await this.#o.sessions.keys.pagesKey();
    const cookies = parseCookies(req.headers.cookie);
    const heldCsrf = cookies.get(csrfCookie);
    const csrf =
      csrfTokenValid(key, place.host, heldCsrf) && heldCsrf ? heldCsrf : newCsrfToken(key, place.host);
    if (csrf !== heldCsrf)
      res.appendHeader('set-cookie', `${csrfCookie}=${csrf}; Path=/; Secure; HttpOnly; SameSite=Strict`);
    let form: URLSearchParams | undefined;
    if (req.method === 'POST') {
      form = await readForm(req, maxForm);
      const accepted =
        form !== undefined &&
        csrfAccepted(key, {
          host: place.host,
          hostHeader: String(req.headers.host ?? ''),
          origin: req.headers.origin,
          cookie: heldCsrf,
          form: form.get('csrf') ?? undefined,
        });
      if (!accepted) return this.#refuseForm(res, place);
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed\n');
    }
    const context = this.#context(req, res, place, url, segments, form, csrf, cookies);
    switch (name) {
      case 'login':
        return req.method === 'POST' ? this.#password(context) : this.#loginPage(context, 200);
      case 'mfa':
        return req.method === 'POST'
          ? this.#mfa(context)
          : redirect(res, `/.steward/auth/login?rd=${encodeURIComponent(context.returnTo)}`);
      case 'refresh':
        return this.#refresh(context, cookies.get(sessionCookie));
      case 'logout':
      case 'logout-everywhere':
        return this.#logout(context, cookies.get(sessionCookie), name === 'logout-everywhere');
    }
    const handler = this.#handlers.get(name);
    if (!handler) return send(res, 404, 'text/plain; charset=utf-8', 'Not found\n');
    return handler(context);
  }

  #refuseForm(res: ServerResponse, place: PagePlace): void {
    const frame = { title: 'Please try again', tenantName: place.tenantName };
    send(
      res,
      403,
      html,
      messagePage(
        frame,
        'This form expired or did not come from this page. Go back, reload it and try again.',
      ),
    );
  }

  #context(
    req: IncomingMessage,
    res: ServerResponse,
    place: PagePlace,
    url: URL,
    segments: readonly string[],
    form: URLSearchParams | undefined,
    csrf: string,
    cookies: Map<string, string>,
  ): AuthPageContext {
    const returnTo = safeReturnPath(form?.get('rd') ?? url.searchParams.get('rd'));
    const frame = (title: string): PageFrame => ({ title, tenantName: place.tenantName });
    const signIn = async (
      who: SessionFor,
      amr: readonly string[],
      to = returnTo,
      expiresAt?: Date,
      recoveryCodes?: readonly string[],
    ): Promise<void> => {
      // Login rotates: the session this browser had (if any, on this host) ends.
      const old = cookies.get(sessionCookie);
      const claims = old ? await this.#o.sessions.verify(old, { ignoreExpiry: true }) : undefined;
      if (claims && claims.host === place.host) await this.#o.sessions.revokeSession(claims.sid, 'rotated');
      const session = await this.#o.sessions.open(place, who, amr, expiresAt);
      res.appendHeader('set-cookie', sessionCookieHeader(session.token, session.notAfter));
      if (recoveryCodes) {
        return send(
          res,
          200,
          html,
          recoveryCodesPage(frame('Two-step verification'), { codes: recoveryCodes, rd: safeReturnPath(to) }),
        );
      }
      redirect(res, safeReturnPath(to), 303);
    };
    const finish = async (result: SignInResult, to = returnTo): Promise<void> => {
      if (result.kind === 'signed-in') {
        return signIn(
          { kind: 'user', userId: result.userId },
          result.amr,
          to,
          undefined,
          result.recoveryCodes,
        );
      }
      if (result.kind === 'mfa-enrol') {
        const { challenge, secret, uri } = result;
        return send(
          res,
          200,
          html,
          mfaEnrolPage(frame('Set up two-step verification'), { csrf, rd: to, challenge, secret, uri }),
        );
      }
      if (result.kind === 'mfa-required') {
        return send(
          res,
          200,
          html,
          mfaPage(frame('Two-step verification'), {
            csrf,
            rd: to,
            challenge: result.challenge,
            ...(result.webauthn ? { webauthn: result.webauthn } : {}),
          }),
        );
      }
      return this.#loginPage(context, 401, result.message);
    };
    const context: AuthPageContext = {
      req,
      res,
      place,
      url,
      segments,
      form,
      csrf,
      returnTo,
      signIn,
      finish,
      frame,
    };
    return context;
  }

  async #loginPage(context: AuthPageContext, status: number, message?: string): Promise<void> {
    const { place } = context;
    const settings = await this.#o.settings.resolve(place.tenantId, place.stage);
    const local = settings.localUsers && this.#local !== undefined && (await this.#local.enabled(place));
    const oidc = this.#oidc ? await this.#oidc.choices(place) : [];
    const userName = context.form?.get('username') ?? undefined;
    send(
      context.res,
      status,
      html,
      loginPage(context.frame('Sign in'), {
        csrf: context.csrf,
        rd: context.returnTo,
        local,
        oidc,
        ...(userName ? { userName: userName.slice(0, 256) } : {}),
        ...(message ? { message } : {}),
      }),
    );
  }

  async #password(context: AuthPageContext): Promise<void> {
    const { place, form } = context;
    const settings = await this.#o.settings.resolve(place.tenantId, place.stage);
    if (!settings.localUsers || !this.#local || !(await this.#local.enabled(place))) {
      return this.#loginPage(context, 403, 'Signing in with a password is not enabled here.');
    }
    const userName = (form?.get('username') ?? '').trim().slice(0, 256);
    const password = (form?.get('password') ?? '').slice(0, 1024);
    if (!userName || !password) return this.#loginPage(context, 400, 'Enter your user name and password.');
    await context.finish(await this.#local.password(place, userName, password));
  }

  async #mfa(context: AuthPageContext): Promise<void> {
    if (!this.#local) return this.#loginPage(context, 403, 'Signing in with a password is not enabled here.');
    const challenge = (context.form?.get('challenge') ?? '').slice(0, 4096);
    if (context.form?.get('method') === 'webauthn' && this.#local.webauthn) {
      // The CSRF check has matched Origin against this Host header: the origin the browser sees.
      const origin = `https://${String(context.req.headers.host ?? '').toLowerCase()}`;
      const assertion = context.form.get('response') ?? '';
      return context.finish(await this.#local.webauthn(context.place, origin, challenge, assertion));
    }
    // Six digits, or a recovery code (xxxxx-xxxxx-xxxxx-xxxxx).
    const code = (context.form?.get('code') ?? '').replace(/\s/g, '').slice(0, 32);
    const result = await this.#local.totp(context.place, challenge, code);
    if (result.kind === 'refused' && result.reason === 'mfa_failed') {
      return send(
        context.res,
        401,
        html,
        mfaPage(context.frame('Two-step verification'), {
          csrf: context.csrf,
          rd: context.returnTo,
          challenge,
          message: result.message,
        }),
      );
    }
    await context.finish(result);
  }

  async #refresh(context: AuthPageContext, token: string | undefined): Promise<void> {
    const login = `/.steward/auth/login?rd=${encodeURIComponent(context.returnTo)}`;
    if (!token) return redirect(context.res, login);
    const outcome = await this.#o.sessions.refresh(context.place, token);
    if (outcome.kind === 'sign-in-again') {
      context.res.appendHeader('set-cookie', clearedSessionCookie);
      // Where sign-in is optional the page is open to everyone: back to it, signed out.
      const { signIn } = await this.#o.settings.resolve(context.place.tenantId, context.place.stage);
      return redirect(context.res, signIn === 'optional' ? context.returnTo : login);
    }
    context.res.appendHeader(
      'set-cookie',
      sessionCookieHeader(outcome.session.token, outcome.session.notAfter),
    );
    redirect(context.res, context.returnTo);
  }

  async #logout(context: AuthPageContext, token: string | undefined, everywhere: boolean): Promise<void> {
    const claims = token ? await this.#o.sessions.verify(token, { ignoreExpiry: true }) : undefined;
    const ours = claims !== undefined && claims.host === context.place.host;
    if (context.req.method !== 'POST') {
      return send(
        context.res,
        200,
        html,
        logoutPage(context.frame('Sign out'), { csrf: context.csrf, signedIn: ours }),
      );
    }
    if (ours) {
      const subject = claims.sub.startsWith('operator:') ? null : claims.sub;
      await this.#o.log?.record({
        tenantId: context.place.tenantId,
        stage: context.place.stage,
        userId: subject,
        userName: claims.user_name,
        method: 'logout',
        outcome: 'success',
        reason: null,
        address: context.place.address,
        detail: everywhere ? 'every device' : null,
      });
      if (everywhere) {
        const held = await this.#o.sessions.subjectOf(claims.sid);
        if (held) await this.#o.sessions.revokeUser(held.tenantId, held.subject, 'logout_everywhere');
      } else {
        await this.#o.sessions.revokeSession(claims.sid, 'logout');
      }
    }
    context.res.appendHeader('set-cookie', clearedSessionCookie);
    send(
      context.res,
      200,
      html,
      messagePage(
        context.frame('Signed out'),
        everywhere ? 'You are signed out on every device.' : 'You are signed out.',
      ),
    );
  }
}

const html = 'text/html; charset=utf-8';

export function sessionCookieHeader(token: string, notAfter: Date): string {
  const maxAge = Math.max(0, Math.floor((notAfter.getTime() - Date.now()) / 1000));
  return `${sessionCookie}=${token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`;
}

const clearedSessionCookie = `${sessionCookie}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0`;

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'content-security-policy':
      "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; form-action 'self' https:; frame-ancestors 'none'",
    'referrer-policy': 'same-origin',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function redirect(res: ServerResponse, location: string, status = 302): void {
  res.writeHead(status, { location, 'cache-control': 'no-store' });
  res.end();
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    // The first one wins, as browsers send the most specific cookie first.
    if (!out.has(name)) out.set(name, part.slice(at + 1).trim());
  }
  return out;
}
