import type { ServerResponse } from 'node:http';
import type { AuthPageContext, AuthPageHandler } from '../pages/index.ts';
import { escapeHtml as esc, page } from '../pages/html.ts';
import { parseCookies } from '../pages/router.ts';
import { sessionCookie } from '../sessions/index.ts';
import type { Enrolment, LocalEnrolment } from './enrolment.ts';
import { minPasswordLength, type LinkKind } from './policy.ts';
import type { LocalWebauthn } from './webauthn.ts';
import { webauthnBrowserBundle, webauthnGlue } from './webauthn-script.ts';

/**
 * The local users' pages under `/.steward/auth/` on a stage's host, added
 * to the sign-in router (pages/, which resolves the place, parses the form
 * and checks CSRF before they run): `invite` and `reset` (from a mailed
 * link: a new password, and TOTP when MFA is due), `mfa-setup` (TOTP
 * enrolment and security keys for a signed-in user; `mfa` is the router's
 * code or key step) and `webauthn/` (a key's registration, and the
 * ceremony's scripts). They
 * only parse, call LocalEnrolment and render. The link's token is in the
 * query (the access log redacts it) and posted back in the form.
 */
export type LocalPageName = 'invite' | 'reset' | 'mfa-setup' | 'webauthn';

/** The directory user signed in on this request (the session cookie, for this host), if any. */
export type CurrentUser = (context: AuthPageContext) => Promise<string | undefined>;

/** The signed-in user of a request: a valid session cookie of this host for a directory user (not break-glass). */
export function sessionUser(
  verify: (token: string) => Promise<{ sub: string; host: string } | undefined>,
): CurrentUser {
  return async (context) => {
    const token = parseCookies(context.req.headers.cookie).get(sessionCookie);
    const claims = token ? await verify(token) : undefined;
    if (!claims || claims.host !== context.place.host || claims.sub.startsWith('operator:')) return undefined;
    return claims.sub;
  };
}

export function localAuthPages(
  enrolment: LocalEnrolment,
  webauthn: LocalWebauthn,
  currentUser: CurrentUser,
): Readonly<Record<LocalPageName, AuthPageHandler>> {
  return {
    invite: (context) => linkPage(enrolment, 'invitation', context),
    reset: (context) => linkPage(enrolment, 'reset', context),
    'mfa-setup': (context) => mfaPage(enrolment, webauthn, currentUser, context),
    webauthn: (context) => webauthnPage(webauthn, currentUser, context),
  };
}

async function linkPage(enrolment: LocalEnrolment, kind: LinkKind, context: AuthPageContext): Promise<void> {
  const { place, form, res } = context;
  const title = kind === 'invitation' ? 'Set up your account' : 'Choose a new password';
  const show = (status: number, body: string): void => send(res, status, page(context.frame(title), body));
  const problem = (message: string): void => show(410, `<p class="err" role="alert">${esc(message)}</p>`);
  const token = (form?.get('token') ?? context.url.searchParams.get('token') ?? '').slice(0, 64);
  const again = async (status: number, message: string | undefined): Promise<void> => {
    const current = await enrolment.linkPage(place, kind, token);
    if (current.kind === 'problem') return problem(current.message);
    show(status, linkForm(context, kind, token, current.userName, current.enrolment, message));
  };
  if (!form) return again(200, undefined);
  const password = form.get('password') ?? '';
  if (password !== (form.get('confirm') ?? '')) return again(400, 'The two passwords differ.');
  const ticket = form.get('ticket');
  const outcome = await enrolment.completeLink(
    place,
    kind,
    token,
    password,
    ticket ? { ticket, code: form.get('code') ?? '' } : undefined,
  );
  if (outcome.kind === 'done') return show(200, donePage(outcome));
  if (!outcome.field) return problem(outcome.message);
  // A password or code to correct: the form again, with a fresh enrolment if one is due.
  return again(400, outcome.message);
}

async function mfaPage(
  enrolment: LocalEnrolment,
  webauthn: LocalWebauthn,
  currentUser: CurrentUser,
  context: AuthPageContext,
): Promise<void> {
  const { place, form, res } = context;
  const title = 'Set up two-step verification';
  const show = (status: number, body: string): void => send(res, status, page(context.frame(title), body));
  const userId = await currentUser(context);
  if (!userId) {
    return show(
      401,
      '<p>Sign in first.</p><p><a href="/.steward/auth/login?rd=%2F.steward%2Fauth%2Fmfa-setup">Sign in</a></p>',
    );
  }
  const again = async (status: number, message: string | undefined): Promise<void> => {
    const started = await enrolment.startMfa(place, userId);
    const keys = await securityKeySection(webauthn, context, userId);
    if ('problem' in started)
      return show(409, `<p class="err" role="alert">${esc(started.problem)}</p>\n${keys}`);
    show(status, `${mfaForm(context, started, message)}\n${keys}`);
  };
  const ticket = form?.get('ticket');
  if (!form || !ticket) return again(200, undefined);
  const outcome = await enrolment.finishMfa(place, userId, { ticket, code: form.get('code') ?? '' });
  if (outcome.kind === 'done') return show(200, donePage(outcome));
  return again(400, outcome.message);
}

/** The mfa-setup page's part for security keys: the user's keys for this host and the form that adds one. */
async function securityKeySection(
  webauthn: LocalWebauthn,
  context: AuthPageContext,
  userId: string,
): Promise<string> {
  const keys = await webauthn.keys(userId, context.place.host);
  const list = keys.length
    ? `<ul data-security-keys>${keys.map((k) => `<li>${esc(k.name)}</li>`).join('')}</ul>`
    : '<p>No security key yet.</p>';
  const started = await webauthn.startRegistration(context.place, userId);
  const form =
    started.kind === 'problem'
      ? `<p>${esc(started.message)}</p>`
      : [
          `<form method="post" action="/.steward/auth/webauthn/register" data-webauthn="register" data-options="${esc(started.options)}">`,
          `${hidden('csrf', context.csrf)}${hidden('keyTicket', started.ticket)}${hidden('response', '')}`,
          '<p class="err" role="alert" data-webauthn-error hidden></p>',
          '<label for="key-name">Name of the key</label><input id="key-name" name="name" maxlength="64" value="Security key" required>',
          '<button type="submit" class="alt">Add a security key</button></form>',
          scripts,
        ].join('\n');
  return `<h2>Security keys</h2>\n${list}\n${form}`;
}

const scripts =
  '<script src="/.steward/auth/webauthn/browser.js"></script><script src="/.steward/auth/webauthn/glue.js"></script>';

/** `/.steward/auth/webauthn/…`: the ceremony's scripts (GET) and a key's registration (POST `register`). */
async function webauthnPage(
  webauthn: LocalWebauthn,
  currentUser: CurrentUser,
  context: AuthPageContext,
): Promise<void> {
  const { place, form, res, segments } = context;
  const what = segments.length === 2 ? segments[1] : undefined;
  if (!form && (what === 'browser.js' || what === 'glue.js')) {
    const body = what === 'glue.js' ? webauthnGlue : await webauthnBrowserBundle();
    res.writeHead(200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=300',
      'x-content-type-options': 'nosniff',
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
    return;
  }
  const title = 'Add a security key';
  const show = (status: number, body: string): void => send(res, status, page(context.frame(title), body));
  if (what !== 'register' || !form)
    return send(res, 404, page(context.frame('Not found'), '<p>Not found.</p>'));
  const userId = await currentUser(context);
  if (!userId) {
    return show(
      401,
      '<p>Sign in first.</p><p><a href="/.steward/auth/login?rd=%2F.steward%2Fauth%2Fmfa-setup">Sign in</a></p>',
    );
  }
  // The CSRF check has matched Origin against this Host header: the origin the browser sees.
  const origin = `https://${String(context.req.headers.host ?? '').toLowerCase()}`;
  const outcome = await webauthn.finishRegistration(place, origin, userId, {
    ticket: (form.get('keyTicket') ?? '').slice(0, 4096),
    response: form.get('response') ?? '',
    name: form.get('name') ?? '',
  });
  if (outcome.kind === 'problem') {
    return show(
      400,
      `<p class="err" role="alert">${esc(outcome.message)}</p><p><a href="/.steward/auth/mfa-setup">Back</a></p>`,
    );
  }
  return show(200, donePage(outcome));
}

const hidden = (name: string, value: string): string =>
  `<input type="hidden" name="${name}" value="${esc(value)}">`;

const error = (message: string | undefined): string =>
  message ? `<p class="err" role="alert" id="err">${esc(message)}</p>` : '';

function linkForm(
  context: AuthPageContext,
  kind: LinkKind,
  token: string,
  userName: string,
  totp: Enrolment | undefined,
  message: string | undefined,
): string {
  const action = kind === 'invitation' ? 'invite' : 'reset';
  return [
    error(message),
    `<p>User name: <strong>${esc(userName)}</strong></p>`,
    `<form method="post" action="/.steward/auth/${action}">${hidden('csrf', context.csrf)}${hidden('token', token)}`,
    `<input name="username" value="${esc(userName)}" autocomplete="username" hidden>`,
    `<label for="password">New password (at least ${minPasswordLength} characters)</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="${minPasswordLength}" maxlength="256" required>`,
    '<label for="confirm">The same again</label><input id="confirm" name="confirm" type="password" autocomplete="new-password" maxlength="256" required>',
    totp ? totpFields(totp) : '',
    '<button type="submit">Save</button></form>',
  ].join('\n');
}

function mfaForm(context: AuthPageContext, totp: Enrolment, message: string | undefined): string {
  return [
    error(message),
    `<form method="post" action="/.steward/auth/mfa-setup">${hidden('csrf', context.csrf)}`,
    totpFields(totp),
    '<button type="submit">Turn on</button></form>',
  ].join('\n');
}

function totpFields(totp: Enrolment): string {
  return [
    '<p>Add this account to your authenticator app (open the link on your phone, or type the key), then enter the code it shows.</p>',
    `<p><a href="${esc(totp.uri)}">Add to authenticator app</a></p>`,
    `<p>Key: <code data-totp-secret>${esc(totp.secret.replace(/(.{4})/g, '$1 ').trim())}</code></p>`,
    hidden('ticket', totp.ticket),
    '<label for="code">Code from your authenticator app</label><input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" maxlength="6" required>',
  ].join('\n');
}

function donePage(outcome: {
  readonly userName: string;
  readonly recoveryCodes: readonly string[] | undefined;
}): string {
  const codes = outcome.recoveryCodes
    ? [
        '<p>Keep these recovery codes somewhere safe. Each signs you in once if you lose your phone; they are shown only now.</p>',
        `<ul data-recovery-codes>${outcome.recoveryCodes.map((c) => `<li><code>${esc(c)}</code></li>`).join('')}</ul>`,
      ].join('\n')
    : '';
  return `<p role="status">Done. You can sign in as <strong>${esc(outcome.userName)}</strong> now.</p>\n${codes}\n<p><a href="/.steward/auth/login">Sign in</a></p>`;
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
    'content-security-policy':
      "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    // The link's token is in this page's address: it goes to no other site.
    'referrer-policy': 'no-referrer',
  });
  res.end(res.req.method === 'HEAD' ? undefined : html);
}
