import { InputError, UnauthorizedError } from '../../core/errors.ts';
import { newTotpSecret, totpUri } from '../credentials.ts';
import type { AuthPageContext, AuthPageHandler } from '../pages/index.ts';
import { escapeHtml, messagePage, page } from '../pages/html.ts';
import type { TenantAdminService } from './tenant-admins.ts';
import { sendPage } from './page-reply.ts';

/**
 * `/.steward/auth/admin-invite` on the tenant's own host: the link in a
 * tenant admin's invitation mail. One form sets the password and enrols
 * TOTP together (the first code proves the key), so the account never
 * exists without its second factor; the recovery codes are shown once. The
 * router has checked the POST's CSRF token and Origin.
 */
export function adminInvitePage(
  admins: TenantAdminService,
  apiUrl: () => string,
  consoleOrigin: () => string,
): AuthPageHandler {
  return async (context) => {
    const { res, place, url, form } = context;
    const frame = context.frame('Administer this tenant');
    const token = (form?.get('token') ?? url.searchParams.get('token') ?? '').slice(0, 100);
    const email = await admins.invitee(token, place.tenantId);
    if (!email) {
      return sendPage(
        res,
        403,
        messagePage(frame, 'This invitation is unknown, used or expired. Ask for a new one.'),
      );
    }
    const posted = form?.get('secret') ?? '';
    const secret = /^[A-Z2-7]{32}$/.test(posted) ? posted : newTotpSecret();
    if (!form) return sendPage(res, 200, page(frame, inviteForm(context, token, email, secret, undefined)));
    const password = form.get('password') ?? '';
    if (password !== form.get('confirm')) {
      return sendPage(
        res,
        400,
        page(frame, inviteForm(context, token, email, secret, 'The two passwords differ.')),
      );
    }
    try {
      const done = await admins.acceptWithTotp(place, {
        token,
        password,
        secret,
        code: (form.get('code') ?? '').replace(/\s/g, '').slice(0, 8),
      });
      sendPage(res, 200, page(frame, donePage(done, apiUrl(), consoleOrigin())));
    } catch (error) {
      if (error instanceof InputError) {
        return sendPage(res, 400, page(frame, inviteForm(context, token, email, secret, error.message)));
      }
      if (error instanceof UnauthorizedError) return sendPage(res, 403, messagePage(frame, error.message));
      throw error;
    }
  };
}

const hidden = (name: string, value: string): string =>
  `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

function inviteForm(
  context: AuthPageContext,
  token: string,
  email: string,
  secret: string,
  message: string | undefined,
): string {
  return [
    message ? `<p class="err" role="alert" id="err">${escapeHtml(message)}</p>` : '',
    `<p>You were invited to administer this tenant as <strong>${escapeHtml(email)}</strong>.</p>`,
    `<form method="post" action="/.steward/auth/admin-invite">${hidden('csrf', context.csrf)}${hidden('token', token)}${hidden('secret', secret)}`,
    '<label for="password">New password (at least 12 characters)</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="12" maxlength="256" required>',
    '<label for="confirm">The same again</label><input id="confirm" name="confirm" type="password" autocomplete="new-password" maxlength="256" required>',
    '<p>Add this account to your authenticator app (open the link on your phone, or type the key), then enter the code it shows.</p>',
    `<p><a href="${escapeHtml(totpUri(secret, email))}">Add to authenticator app</a></p>`,
    `<p>Key: <code data-totp-secret>${escapeHtml(secret.replace(/(.{4})/g, '$1 ').trim())}</code></p>`,
    '<label for="code">Code from your authenticator app</label><input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" autocomplete="one-time-code" maxlength="6" required>',
    '<button type="submit">Accept</button></form>',
  ].join('\n');
}

function donePage(
  done: { email: string; tenant: string; recoveryCodes: string[] },
  apiUrl: string,
  consoleOrigin: string,
): string {
  const consoleLink = `${consoleOrigin}/t/${encodeURIComponent(done.tenant)}/status`;
  return [
    `<p role="status">Done: <strong>${escapeHtml(done.email)}</strong> administers ${escapeHtml(done.tenant)}.</p>`,
    '<p>Keep these recovery codes somewhere safe. Each signs you in once if you lose your phone; they are shown only now.</p>',
    `<ul data-recovery-codes>${done.recoveryCodes.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('')}</ul>`,
    `<p>Sign in to the console: <a href="${escapeHtml(consoleLink)}">${escapeHtml(consoleLink)}</a></p>`,
    `<p>Or with the Steward CLI: <code>steward --api-url ${escapeHtml(apiUrl)} login -u ${escapeHtml(done.email)} --totp &lt;code&gt;</code></p>`,
  ].join('\n');
}
