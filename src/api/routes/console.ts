import type { FastifyInstance, FastifyReply } from 'fastify';
import { UnauthorizedError } from '../../core/errors.ts';
import { permissionsOf, type Principal } from '../../core/policy.ts';
import { loginSchema } from '../../identity/schemas.ts';
import type { Services } from '../../services.ts';
import type { ConsoleSession } from '../contracts/console.ts';
import { clearedSessionCookie, csrfTokenOf, sessionCookieHeader } from '../../console/session.ts';
import { credentialOf, route, type Authenticator } from '../route.ts';

/** As POST /api/v1/auth/login; the session's token is the cookie's, never the body's. */
const consoleLoginSchema = loginSchema.omit({ tokenName: true });

/**
 * The console's sign-in: operators and tenant admins (password, TOTP) get a
 * session token as `steward login` does, in a cookie the page's scripts
 * cannot read; the body says who they are, what the console may show them
 * and the CSRF token their changes carry.
 */
export function consoleRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const operators = services.operators;
  const session = async (principal: Principal, token: string): Promise<ConsoleSession> => ({
    username: principal.username,
    role: principal.role,
    tenant: principal.tenant?.slug ?? null,
    mfa: principal.tenant
      ? principal.tenant.mfa
      : principal.operatorId !== null && (await operators.hasMfa(principal.operatorId)),
    csrfToken: csrfTokenOf(token),
    permissions: permissionsOf(principal.role),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/console/login',
    summary: 'Sign in to the console: sets the session cookie; returns the session and its CSRF token',
    tags: ['console'],
    permission: 'public',
    body: consoleLoginSchema,
    handler: async ({ body, address, reply }) => {
      // The lockout, the login log and the audit apply as for any login: it is one.
      const issued = await operators.login({ ...body, tokenName: 'console' }, address).catch(namePassword);
      const principal = await operators.authenticate(issued.token, address);
      noStore(reply).header('set-cookie', sessionCookieHeader(issued.token, body.expiresInHours * 3600));
      return session(principal, issued.token);
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/console/session',
    summary: 'The signed-in session: who, the role, its permissions and the CSRF token (401 when signed out)',
    tags: ['console'],
    permission: 'authenticated',
    tenantAdmin: true,
    handler: ({ principal, request, reply }) => {
      const credential = credentialOf(request);
      // principalOf let the request through, so it carried one.
      if (credential.kind === 'none') throw new UnauthorizedError('this request was not authenticated');
      noStore(reply);
      return session(principal, credential.token);
    },
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/console/logout',
    summary: "Sign out of the console: revokes the session's token and clears the cookie",
    tags: ['console'],
    permission: 'authenticated',
    tenantAdmin: true,
    handler: async ({ principal, reply }) => {
      if (principal.tokenId !== null) await operators.revokeToken(principal, principal.tokenId);
      noStore(reply).header('set-cookie', clearedSessionCookie);
      return { signedOut: true as const };
    },
  });
}

/**
 * The sign-in form shows an error under the field it names: a wrong name or
 * password (one answer for both, no oracle) goes under the password.
 */
function namePassword(error: unknown): never {
  if (error instanceof UnauthorizedError && error.field === undefined) {
    throw new UnauthorizedError(error.message, { field: 'password', cause: error });
  }
  throw error;
}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store');
}
