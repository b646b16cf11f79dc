import type { OidcChoice } from '../contracts.ts';

/**
 * The sign-in pages' HTML: server-rendered, branded like the status page,
 * no inline script (a security key's ceremony loads its scripts from the
 * host), every value escaped. A page names the tenant of the host it is
 * on and nothing else; a refusal never says whether the user exists.
 */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const css = `:root{color-scheme:light}*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#f6f8fa;margin:0}
main{max-width:26rem;margin:10vh auto;padding:1rem}.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:1.5rem}
h1{font-size:1.4rem;margin:0 0 .25rem}.tenant{color:#57606a;margin:0 0 1.25rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}input{width:100%;font:inherit;padding:.5rem;border:1px solid #57606a;border-radius:4px}
button{font:inherit;width:100%;margin-top:1rem;padding:.55rem 1rem;border:0;border-radius:4px;background:#0950a8;color:#fff;cursor:pointer}
button.alt{background:#fff;color:#0950a8;border:1px solid #0950a8}.err{background:#ffebe9;border:1px solid #cf222e;color:#82071e;border-radius:4px;padding:.5rem .75rem}
.or{text-align:center;color:#57606a;margin:1rem 0 0}footer{text-align:center;font-size:.85rem;color:#57606a;margin-top:1rem}`;

export interface PageFrame {
  readonly title: string;
  /** The tenant's display name: the host's own tenant, never another. */
  readonly tenantName: string;
}

export function page(frame: PageFrame, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin"><title>${escapeHtml(frame.title)} · ${escapeHtml(frame.tenantName)}</title><style>${css}</style></head>
<body><main><div class="card"><h1>${escapeHtml(frame.title)}</h1><p class="tenant">${escapeHtml(frame.tenantName)}</p>
${body}</div><footer>Secured by Steward</footer></main></body></html>
`;
}

const hidden = (name: string, value: string): string =>
  `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

const error = (message: string | undefined): string =>
  message ? `<p class="err" role="alert" id="err">${escapeHtml(message)}</p>` : '';

export interface LoginPageInput {
  readonly csrf: string;
  readonly rd: string;
  readonly local: boolean;
  readonly oidc: readonly OidcChoice[];
  readonly userName?: string;
  readonly message?: string;
}

export function loginPage(frame: PageFrame, input: LoginPageInput): string {
  const described = input.message ? ' aria-describedby="err"' : '';
  const local = input.local
    ? `<form method="post" action="/.steward/auth/login">${hidden('csrf', input.csrf)}${hidden('rd', input.rd)}
<label for="username">User name or email</label><input id="username" name="username" autocomplete="username" required maxlength="256" value="${escapeHtml(input.userName ?? '')}"${described}>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"${described}>
<button type="submit">Sign in</button></form>`
    : '';
  const buttons = input.oidc
    .map(
      (choice) =>
        `<form method="post" action="/.steward/auth/oidc/${encodeURIComponent(choice.name)}">${hidden('csrf', input.csrf)}${hidden('rd', input.rd)}<button type="submit" class="alt">Sign in with ${escapeHtml(choice.label)}</button></form>`,
    )
    .join('\n');
  const none =
    !input.local && input.oidc.length === 0
      ? '<p>No way to sign in is set up for this application yet. Ask your administrator.</p>'
      : '';
  return page(
    { ...frame },
    `${error(input.message)}${local}${local && buttons ? '<p class="or">or</p>' : ''}${buttons}${none}`,
  );
}

export function mfaPage(
  frame: PageFrame,
  input: { csrf: string; rd: string; challenge: string; message?: string; webauthn?: string },
): string {
  // A security key (local/webauthn.ts): local/pages.ts serves the scripts that run the ceremony.
  const key = input.webauthn
    ? `<form method="post" action="/.steward/auth/mfa" data-webauthn="authenticate" data-options="${escapeHtml(input.webauthn)}">${hidden('csrf', input.csrf)}${hidden('rd', input.rd)}${hidden('challenge', input.challenge)}${hidden('method', 'webauthn')}${hidden('response', '')}
<p class="err" role="alert" data-webauthn-error hidden></p><button type="submit">Use your security key</button></form>
<script src="/.steward/auth/webauthn/browser.js"></script><script src="/.steward/auth/webauthn/glue.js"></script>
<p class="or">or enter a code</p>`
    : '';
  return page(
    frame,
    `${error(input.message)}${key}<form method="post" action="/.steward/auth/mfa">${hidden('csrf', input.csrf)}${hidden('rd', input.rd)}${hidden('challenge', input.challenge)}
<label for="code">${input.webauthn ? 'Code from your authenticator app, or a recovery code' : 'Code from your authenticator app'}</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9A-Fa-f \\-]{6,32}" required maxlength="32"${input.message ? ' aria-describedby="err"' : ''}>
<button type="submit">Verify</button></form>`,
  );
}

/** MFA required and not set up: the TOTP secret to add, and its first code (posted to the code step). */
export function mfaEnrolPage(
  frame: PageFrame,
  input: { csrf: string; rd: string; challenge: string; secret: string; uri: string },
): string {
  return page(
    frame,
    `<p>This application requires two-step verification. Add this account to your authenticator app (open the link on your phone, or type the key), then enter the code it shows.</p>
<p><a href="${escapeHtml(input.uri)}">Add to authenticator app</a></p>
<p>Key: <code data-totp-secret>${escapeHtml(input.secret.replace(/(.{4})/g, '$1 ').trim())}</code></p>
<form method="post" action="/.steward/auth/mfa">${hidden('csrf', input.csrf)}${hidden('rd', input.rd)}${hidden('challenge', input.challenge)}
<label for="code">Code from your authenticator app</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,8}" required maxlength="8">
<button type="submit">Turn on and sign in</button></form>`,
  );
}

/** Signed in after setting up TOTP: the recovery codes, shown once, then on to the app. */
export function recoveryCodesPage(frame: PageFrame, input: { codes: readonly string[]; rd: string }): string {
  return page(
    frame,
    `<p role="status">Two-step verification is on.</p>
<p>Keep these recovery codes somewhere safe. Each signs you in once if you lose your phone; they are shown only now.</p>
<ul data-recovery-codes>${input.codes.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('')}</ul>
<p><a href="${escapeHtml(input.rd)}">Continue</a></p>`,
  );
}

export function logoutPage(frame: PageFrame, input: { csrf: string; signedIn: boolean }): string {
  if (!input.signedIn)
    return page(
      frame,
      '<p role="status">You are signed out.</p><p><a href="/">Back to the application</a></p>',
    );
  return page(
    frame,
    `<form method="post" action="/.steward/auth/logout">${hidden('csrf', input.csrf)}<button type="submit">Sign out</button></form>
<form method="post" action="/.steward/auth/logout-everywhere">${hidden('csrf', input.csrf)}<button type="submit" class="alt">Sign out on every device</button></form>`,
  );
}

export function messagePage(frame: PageFrame, message: string): string {
  return page(frame, `<p role="status">${escapeHtml(message)}</p>`);
}
