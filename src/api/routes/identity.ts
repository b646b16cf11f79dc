import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  addOperatorSchema,
  changePasswordSchema,
  createTokenSchema,
  loginSchema,
  mfaVerifySchema,
} from '../../identity/schemas.ts';
import type { Services } from '../../services.ts';
import { tokenSorts } from '../../identity/tokens.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendListPage, sendPage } from '../pagination.ts';

const usernameParams = z.object({ username: z.string().min(1).max(128) }).strict();
const tokenParams = z.object({ id: z.string().min(1).max(20) }).strict();
const operatorListQuery = pageQuery({ sorts: ['username', 'created'] });
const tokenListQuery = pageQuery({ sorts: tokenSorts });

export function identityRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const operators = services.operators;
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/auth/login',
    summary: 'Sign in with username, password and (if enrolled) a TOTP code; returns a token',
    tags: ['auth'],
    permission: 'public',
    body: loginSchema,
    handler: ({ body, address }) => operators.login(body, address),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/auth/whoami',
    summary: 'The operator and role behind the token',
    tags: ['auth'],
    permission: 'authenticated',
    tenantAdmin: true,
    handler: ({ principal }) =>
      Promise.resolve({
        username: principal.username,
        role: principal.role,
        tokenId: principal.tokenId,
        ...(principal.tenant ? { tenant: principal.tenant.slug, mfa: principal.tenant.mfa } : {}),
      }),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/auth/password',
    summary: "Change the calling operator's password",
    tags: ['auth'],
    permission: 'authenticated',
    tenantAdmin: true,
    body: changePasswordSchema,
    handler: async ({ body, principal }) => {
      await operators.changePassword(principal, body.currentPassword, body.newPassword);
      return { changed: true };
    },
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/auth/mfa/enroll',
    summary: 'Start TOTP enrolment: returns the secret and an otpauth:// URI',
    tags: ['auth'],
    permission: 'authenticated',
    tenantAdmin: true,
    handler: ({ principal }) => operators.enrollMfa(principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/auth/mfa/verify',
    summary: 'Confirm TOTP enrolment with a code; returns recovery codes once',
    tags: ['auth'],
    permission: 'authenticated',
    tenantAdmin: true,
    body: mfaVerifySchema,
    handler: ({ body, principal }) => operators.verifyMfa(principal, body.code),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/operators',
    summary: 'List operators',
    tags: ['operators'],
    permission: 'operators.read',
    query: operatorListQuery,
    handler: async ({ query, request, reply }) =>
      sendListPage(
        { query, request, reply },
        await operators.list(),
        (o, sort) => ({ key: sort === 'created' ? o.createdAt : o.username, id: o.username }),
        (items) => ({ operators: items }),
      ),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/operators',
    summary: 'Add an operator (a one-time password is generated when none is given)',
    tags: ['operators'],
    permission: 'operators.write',
    body: addOperatorSchema,
    status: 201,
    handler: ({ body, principal }) => operators.add(body, principal),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/operators/:username',
    summary: 'Remove an operator and their tokens',
    tags: ['operators'],
    permission: 'operators.write',
    params: usernameParams,
    handler: async ({ params, principal }) => {
      await operators.remove(params.username, principal);
      return { removed: params.username };
    },
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/operators/:username/mfa/reset',
    summary: "Turn off an operator's MFA (a lost device)",
    tags: ['operators'],
    permission: 'operators.write',
    params: usernameParams,
    handler: async ({ params, principal }) => {
      await operators.resetMfa(principal, params.username);
      return { reset: params.username };
    },
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/operators/:username/tokens/:id',
    summary: "Revoke another operator's API token",
    tags: ['operators'],
    permission: 'operators.write',
    params: usernameParams.extend(tokenParams.shape),
    handler: ({ params, principal }) => operators.revokeTokenOf(principal, params.username, params.id),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tokens',
    summary: 'List API tokens (owners see all, others their own)',
    tags: ['tokens'],
    permission: 'tokens.self',
    tenantAdmin: true,
    query: tokenListQuery,
    handler: async ({ principal, query, request, reply }) => {
      const page = pageRequest(query);
      const tokens = await operators.listTokens(principal, page);
      return sendPage({ request, reply }, page, tokens, (items) => ({ tokens: items }));
    },
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tokens',
    summary: 'Create an API token; it is shown once',
    tags: ['tokens'],
    permission: 'tokens.self',
    tenantAdmin: true,
    body: createTokenSchema,
    status: 201,
    handler: ({ body, principal }) => operators.createToken(principal, body),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/tokens/:id',
    summary: "Revoke one of the caller's API tokens",
    tags: ['tokens'],
    permission: 'tokens.self',
    tenantAdmin: true,
    params: tokenParams,
    handler: ({ params, principal }) => operators.revokeToken(principal, params.id),
  });
}
