import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SignInPlace } from '../contracts.ts';
import type { Enrolment, LinkOutcome, LocalEnrolment } from './enrolment.ts';
import { minPasswordLength, type LinkKind } from './policy.ts';

/**
 * The local users' pages under `/.steward/auth/` on a stage's host:
 * `invite` and `reset` (from a mailed link: a new password, and TOTP when
 * MFA is due) and `mfa` (TOTP enrolment for a signed-in user). The router
 * (sessions/ pages, id-edge) resolves the host to a place and calls these
 * by sub-path; they only parse, call LocalEnrolment and render. Plain HTML
 * forms, no script; the link's token is in the query (the access log
 * redacts it) and never sent on as a Referer.
 */
export type AuthPage = (req: IncomingMessage, res: ServerResponse, place: SignInPlace) => Promise<void>;

/** Who is signed in on this request (the session cookie; sessions/ answers), if anyone. */
export type CurrentUser = (req: IncomingMessage, place: SignInPlace) => Promise<string | undefined>;

const maxFormBytes = 8192;

export function localAuthPages(
  enrolment: LocalEnrolment,
  currentUser: CurrentUser,
): Readonly<Record<'invite' | 'reset' | 'mfa', AuthPage>> {
  return {
    invite: (req, res, place) => linkPage(enrolment, 'invitation', req, res, place),
    reset: (req, res, place) => linkPage(enrolment, 'reset', req, res, place),
    mfa: (req, res, place) => mfaPage(enrolment, currentUser, req, res, place),
  };
}

async function linkPage(
  enrolment: LocalEnrolment,
  kind: LinkKind,
  req: IncomingMessage,
  res: ServerResponse,
  place: SignInPlace,
): Promise<void> {
  const title = kind === 'invitation' ? 'Set up your account' : 'Choose a new password';
  if (req.method === 'GET' || req.method === 'HEAD') {
    const token = new URL(req.url ?? '/', 'https://x').searchParams.get('token') ?? '';
    const page = await enrolment.linkPage(place, kind, token);
    if (page.kind === 'problem') return send(res, 410, title, `<p role="alert">${esc(page.message)}</p>`);
    return send(res, 200, title, linkForm(place, kind, token, page.userName, page.enrolment, undefined));
  }
  if (req.method !== 'POST') return send(res, 405, title, '<p>Use the form.</p>', { allow: 'GET, POST' });
  const form = await readForm(req, place);
  if (!form)
    return send(res, 400, title, '<p role="alert">The form could not be read; open the link again.</p>');
  const token = form.get('token') ?? '';
  const password = form.get('password') ?? '';
  if (password !== (form.get('confirm') ?? '')) {
    const page = await enrolment.linkPage(place, kind, token);
    if (page.kind === 'problem') return send(res, 410, title, `<p role="alert">${esc(page.message)}</p>`);
    return send(
      res,
      400,
      title,
      linkForm(place, kind, token, page.userName, page.enrolment, 'The two passwords differ.'),
    );
  }
  const ticket = form.get('ticket');
  const outcome = await enrolment.completeLink(
    place,
    kind,
    token,
    password,
    ticket ? { ticket, code: form.get('code') ?? '' } : undefined,
  );
  if (outcome.kind === 'done') return send(res, 200, title, donePage(outcome));
  if (!outcome.field) return send(res, 410, title, `<p role="alert">${esc(outcome.message)}</p>`);
  // A password or code to correct: the same form again, with a fresh enrolment if one is due.
  const page = await enrolment.linkPage(place, kind, token);
  if (page.kind === 'problem') return send(res, 410, title, `<p role="alert">${esc(page.message)}</p>`);
  return send(res, 400, title, linkForm(place, kind, token, page.userName, page.enrolment, outcome.message));
}

async function mfaPage(
  enrolment: LocalEnrolment,
  currentUser: CurrentUser,
  req: IncomingMessage,
  res: ServerResponse,
  place: SignInPlace,
): Promise<void> {
  const title = 'Set up two-factor authentication';
  const userId = await currentUser(req, place);
  if (!userId) {
    return send(
      res,
      401,
      title,
      '<p>Sign in first.</p><p><a href="/.steward/auth/login?rd=%2F.steward%2Fauth%2Fmfa">Sign in</a></p>',
    );
  }
  if (req.method === 'GET' || req.method === 'HEAD') {
    const started = await enrolment.startMfa(place, userId);
    if ('problem' in started) return send(res, 409, title, `<p role="alert">${esc(started.problem)}</p>`);
    return send(res, 200, title, mfaForm(started, undefined));
  }
  if (req.method !== 'POST') return send(res, 405, title, '<p>Use the form.</p>', { allow: 'GET, POST' });
  const form = await readForm(req, place);
  const ticket = form?.get('ticket');
  if (!form || !ticket)
    return send(res, 400, title, '<p role="alert">The form could not be read; start again.</p>');
  const outcome = await enrolment.finishMfa(place, userId, { ticket, code: form.get('code') ?? '' });
  if (outcome.kind === 'done') return send(res, 200, title, donePage(outcome));
  const again = await enrolment.startMfa(place, userId);
  if ('problem' in again) return send(res, 409, title, `<p role="alert">${esc(again.problem)}</p>`);
  return send(res, 400, title, mfaForm(again, outcome.message));
}

function linkForm(
  place: SignInPlace,
  kind: LinkKind,
  token: string,
  userName: string,
  totp: Enrolment | undefined,
  problem: string | undefined,
): string {
  const action = kind === 'invitation' ? 'invite' : 'reset';
  return [
    problem ? `<p role="alert">${esc(problem)}</p>` : '',
    `<p>User name: <strong>${esc(userName)}</strong> at ${esc(place.host)}</p>`,
    `<form method="post" action="/.steward/auth/${action}">`,
    `<input type="hidden" name="token" value="${esc(token)}">`,
    `<input type="text" name="username" value="${esc(userName)}" autocomplete="username" hidden>`,
    `<label>New password (at least ${minPasswordLength} characters)<br><input type="password" name="password" autocomplete="new-password" minlength="${minPasswordLength}" maxlength="256" required></label><br>`,
    `<label>The same again<br><input type="password" name="confirm" autocomplete="new-password" required></label><br>`,
    totp ? totpFields(totp) : '',
    '<button type="submit">Save</button>',
    '</form>',
  ].join('\n');
}

function mfaForm(totp: Enrolment, problem: string | undefined): string {
  return [
    problem ? `<p role="alert">${esc(problem)}</p>` : '',
    '<form method="post" action="/.steward/auth/mfa">',
    totpFields(totp),
    '<button type="submit">Turn on</button>',
    '</form>',
  ].join('\n');
}

function totpFields(totp: Enrolment): string {
  return [
    '<fieldset><legend>Two-factor authentication</legend>',
    '<p>Add this account to your authenticator app (open the link on your phone, or type the key), then enter the code it shows.</p>',
    `<p><a href="${esc(totp.uri)}">Add to authenticator app</a></p>`,
    `<p>Key: <code data-totp-secret>${esc(totp.secret.replace(/(.{4})/g, '$1 ').trim())}</code></p>`,
    `<input type="hidden" name="ticket" value="${esc(totp.ticket)}">`,
    '<label>Code<br><input type="text" name="code" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" required></label>',
    '</fieldset>',
  ].join('\n');
}

function donePage(outcome: Extract<LinkOutcome, { kind: 'done' }>): string {
  const codes = outcome.recoveryCodes
    ? [
        '<p>Keep these recovery codes somewhere safe. Each one signs you in once if you lose your phone; they are shown only now.</p>',
        `<ul data-recovery-codes>${outcome.recoveryCodes.map((c) => `<li><code>${esc(c)}</code></li>`).join('')}</ul>`,
      ].join('\n')
    : '';
  return `<p role="status">Done. You can sign in as <strong>${esc(outcome.userName)}</strong> now.</p>\n${codes}\n<p><a href="/.steward/auth/login">Sign in</a></p>`;
}

/** The form's fields, or undefined: too large, not a form, or posted from another origin. */
async function readForm(req: IncomingMessage, place: SignInPlace): Promise<URLSearchParams | undefined> {
  if (!sameOrigin(req.headers.origin, place.host)) return undefined;
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxFormBytes) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** A browser says where a form came from: only this host's own pages may post it. */
function sameOrigin(origin: string | undefined, host: string): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).hostname === host;
  } catch {
    return false;
  }
}

function send(
  res: ServerResponse,
  status: number,
  title: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  const html = `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title></head>\n<body><main><h1>${esc(title)}</h1>\n${body}\n</main></body></html>\n`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'content-security-policy':
      "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ...headers,
  });
  res.end(html);
}

function esc(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}
