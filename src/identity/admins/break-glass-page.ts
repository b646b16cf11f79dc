import { UnauthorizedError } from '../../core/errors.ts';
import { sessionCookieHeader, type AuthPageHandler } from '../pages/index.ts';
import { escapeHtml, messagePage, page } from '../pages/html.ts';
import type { OpenedSession } from '../sessions/index.ts';
import type { BreakGlassService } from './break-glass.ts';
import { sendPage } from './page-reply.ts';

/**
 * `/.steward/auth/break-glass` on a stage's host: the one-time link of a
 * break-glass grant. A GET only shows a button, so that a mail scanner or a
 * chat preview that fetches the link uses nothing; the POST (past the
 * router's CSRF check) redeems the link and sets the edge session cookie,
 * which ends with the grant.
 */
export function breakGlassPage(service: BreakGlassService<OpenedSession>): AuthPageHandler {
  return async (context) => {
    const { req, res, place, url, form, csrf } = context;
    const frame = context.frame('Operator access');
    const token = (form?.get('token') ?? url.searchParams.get('token') ?? '').slice(0, 100);
    if (req.method !== 'POST') {
      return sendPage(
        res,
        200,
        page(
          frame,
          `<p>This opens a time-limited, audited operator session on ${escapeHtml(place.host)}. The tenant sees it in its login log.</p>
<form method="post" action="/.steward/auth/break-glass"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}"><input type="hidden" name="token" value="${escapeHtml(token)}">
<button type="submit">Open operator access</button></form>`,
        ),
      );
    }
    try {
      const { session } = await service.redeem(place, token);
      res.appendHeader('set-cookie', sessionCookieHeader(session.token, session.notAfter));
      res.writeHead(303, { location: '/', 'cache-control': 'no-store' });
      res.end();
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) throw error;
      sendPage(res, 403, messagePage(frame, `${error.message}. Ask for a new break-glass link.`));
    }
  };
}
