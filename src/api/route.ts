import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ForbiddenError, UnauthorizedError } from '../core/errors.ts';
import {
  can,
  isAccountRoute,
  tenantAdminRefusal,
  type Permission,
  type Principal,
  type TokenScope,
} from '../core/policy.ts';
import { parseInput } from '../core/validation.ts';
import { consoleCookieValue, cookieRefusal } from '../console/session.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The client's address when the request came through Steward's own data
     * plane (the console host): HAProxy names it, vouched for by the edge key
     * (api/server.ts). Unset: the connection's own address.
     */
    edgeClientAddress?: string;
  }
}

/** Who sent the request: the address the lockout, the login log and the audit log record. */
export function clientAddress(request: FastifyRequest): string {
  return request.edgeClientAddress ?? request.ip;
}
import { contractOf, errorBodySchema } from './contracts/index.ts';
import { isPageQuery, pageHeaders } from './pagination.ts';
import { routeSecurity } from './openapi-security.ts';

/**
 * One way to declare a route: zod schemas parse the input (and become the
 * OpenAPI document), a permission guards it, and the handler calls a service.
 */
export interface RouteContext<B, Q, P> {
  readonly body: B;
  readonly query: Q;
  readonly params: P;
  readonly principal: Principal;
  readonly address: string;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

export interface RouteSpec<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly url: string;
  readonly summary: string;
  readonly tags: readonly string[];
  /** `public` routes need no token (login, health, the OpenAPI document). */
  readonly permission: Permission | 'public' | 'authenticated';
  /** Tokens of this scope may call it (besides unscoped ones); a scoped token may call nothing else. */
  readonly scope?: TokenScope;
  /**
   * A tenant admin (a principal scoped to one tenant, issue 13) may call this route for its own
   * tenant: the route's `:tenant` path parameter. Routes without it refuse tenant admins.
   */
  readonly tenantAdmin?: true;
  readonly body?: B;
  readonly query?: Q;
  readonly params?: P;
  readonly status?: number;
  /** Bytes of body this route accepts, above the server's default (for uploads). */
  readonly bodyLimit?: number;
  handler(context: RouteContext<z.output<B>, z.output<Q>, z.output<P>>): Promise<unknown>;
}

export type Authenticator = (token: string, address: string) => Promise<Principal>;

const anonymous = (address: string): Principal => ({
  kind: 'operator',
  operatorId: null,
  username: 'anonymous',
  role: 'auditor',
  tokenId: null,
  address,
  accountAccess: false,
});

/**
 * Who asks: resolved from the Authorization header, or without one from the
 * console's session cookie (whose changes need its CSRF token and this
 * origin). It runs in each route's onRequest hook, before Fastify reads a
 * byte of the body, so an anonymous or unauthorised 256 MiB upload is
 * refused at its headers.
 */
async function principalOf(
  request: FastifyRequest,
  reply: FastifyReply,
  authenticate: Authenticator,
  spec: Pick<RouteSpec<z.ZodType, z.ZodType, z.ZodType>, 'url' | 'permission' | 'scope' | 'tenantAdmin'>,
): Promise<Principal> {
  const { permission, scope } = spec;
  const address = clientAddress(request);
  if (permission === 'public') return anonymous(address);
  // Refused before its body is read: the connection closes rather than drain an upload nobody may send.
  const refuse = (error: Error): Error => {
    if (!bodyless(request)) void reply.header('connection', 'close');
    return error;
  };
  const token = credentialOf(request);
  if (token.kind === 'none') {
    throw refuse(
      new UnauthorizedError(
        'this request needs an API token: send "Authorization: Bearer stw_…" (the CLI reads it from client.json or STEWARD_TOKEN), or sign in to the console (POST /api/v1/console/login)',
      ),
    );
  }
  if (token.kind === 'cookie') {
    // Checked before the token is looked up: a forged request changes nothing, not even a last-used time.
    const refusal = cookieRefusal({
      method: request.method,
      sessionToken: token.token,
      host: request.headers.host,
      origin: request.headers.origin,
      secFetchSite: header(request, 'sec-fetch-site'),
      csrfToken: header(request, 'x-csrf-token'),
    });
    if (refusal) throw refuse(new ForbiddenError(refusal.message, { field: refusal.field }));
  }
  let principal: Principal;
  try {
    principal = await authenticate(token.token, address);
  } catch (error) {
    throw refuse(error as Error);
  }
  try {
    checkScope(principal, scope);
  } catch (error) {
    throw refuse(error as Error);
  }
  // A tenant admin: only routes marked for it, only for its own tenant (the path parameter, known before the body).
  const refusal = tenantAdminRefusal(principal, spec, request.params as Record<string, unknown>);
  if (refusal !== undefined) throw refuse(new ForbiddenError(refusal));
  if (permission !== 'authenticated' && !can(principal.role, permission)) {
    throw refuse(new ForbiddenError(`role ${principal.role} may not do this (needs ${permission})`));
  }
  return principal;
}

/**
 * The request's credential: the bearer token of its Authorization header, or
 * (without that header) the console's session cookie.
 */
export function credentialOf(
  request: FastifyRequest,
): { kind: 'bearer' | 'cookie'; token: string } | { kind: 'none' } {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    return authorization.startsWith('Bearer ')
      ? { kind: 'bearer', token: authorization.slice(7).trim() }
      : { kind: 'none' };
  }
  const cookie = consoleCookieValue(request.headers.cookie);
  return cookie === undefined ? { kind: 'none' } : { kind: 'cookie', token: cookie };
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A scoped token may call only the routes of its scope (core/policy.ts tokenScopes). */
export function checkScope(principal: Principal, scope: TokenScope | undefined): void {
  if (principal.scope && principal.scope !== scope) {
    throw new ForbiddenError(
      `this token is scoped to ${principal.scope}: it may only call the ${principal.scope} routes`,
    );
  }
}

function bodyless(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

export function route<
  B extends z.ZodType = z.ZodUndefined,
  Q extends z.ZodType = z.ZodObject,
  P extends z.ZodType = z.ZodObject,
>(app: FastifyInstance, authenticate: Authenticator, spec: RouteSpec<B, Q, P>): void {
  if (spec.tenantAdmin && !spec.url.includes('/:tenant') && !isAccountRoute(spec)) {
    // A tenant admin's routes name its tenant (or are its own account's): anything else could reach another tenant.
    throw new Error(`route ${spec.method} ${spec.url}: tenantAdmin needs a :tenant path parameter`);
  }
  const schema: Record<string, unknown> = { summary: spec.summary, tags: spec.tags };
  if (spec.body) schema.body = z.toJSONSchema(spec.body, { io: 'input', unrepresentable: 'any' });
  if (spec.query) schema.querystring = z.toJSONSchema(spec.query, { io: 'input', unrepresentable: 'any' });
  if (spec.params) schema.params = z.toJSONSchema(spec.params, { io: 'input', unrepresentable: 'any' });
  if (spec.permission !== 'public') schema.security = routeSecurity(spec.method);
  const contract = contractOf(spec.method, spec.url);
  if (contract) {
    schema.response = {
      [String(spec.status ?? 200)]: {
        ...z.toJSONSchema(contract, { io: 'output', unrepresentable: 'any' }),
        // A list's next page is in its headers (api/pagination.ts).
        ...(isPageQuery(spec.query) ? { headers: pageHeaders } : {}),
      },
      '4XX': errorJsonSchema,
    };
  }
  // Which routes a tenant admin may call (for its own tenant), in the OpenAPI document too.
  if (spec.tenantAdmin) schema['x-tenant-admin'] = true;
  // Each request's principal, from its onRequest hook to its handler.
  const principals = new WeakMap<FastifyRequest, Principal>();
  app.route({
    method: spec.method,
    url: spec.url,
    schema,
    ...(spec.bodyLimit ? { bodyLimit: spec.bodyLimit } : {}),
    onRequest: async (request, reply) => {
      principals.set(request, await principalOf(request, reply, authenticate, spec));
    },
    handler: async (request, reply) => {
      const address = clientAddress(request);
      const principal = principals.get(request);
      // The hook sets one for every request it lets through.
      if (!principal) throw new UnauthorizedError('this request was not authenticated');
      const params = spec.params ? parseInput(spec.params, request.params, 'path') : ({} as z.output<P>);
      const query = spec.query ? parseInput(spec.query, request.query, 'query') : ({} as z.output<Q>);
      const body = spec.body ? parseInput(spec.body, request.body ?? {}, 'body') : (undefined as z.output<B>);
      const result = await spec.handler({ body, query, params, principal, address, request, reply });
      // A handler may choose its status (201 created, 200 already there); else the spec's.
      if (spec.status !== undefined) reply.code(spec.status);
      if (contract && checkResponses && !reply.sent) checkContract(spec, contract, result);
      return result;
    },
  });
}

const errorJsonSchema = z.toJSONSchema(errorBodySchema, { io: 'output' });

/** Under vitest (vitest.config.ts sets it), every response is checked against its route's contract. */
const checkResponses = process.env.STEWARD_CHECK_RESPONSES === '1';

class ContractMismatch extends Error {}

/** Fails the request (500) with what differs, so a test that called the route fails and says why. */
function checkContract(
  spec: Pick<RouteSpec<z.ZodType, z.ZodType, z.ZodType>, 'method' | 'url'>,
  contract: z.ZodType,
  result: unknown,
): void {
  if (result === undefined) return;
  const wire: unknown = JSON.parse(JSON.stringify(result));
  const parsed = contract.safeParse(wire);
  if (parsed.success) return;
  const issues = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
    .join('; ');
  throw new ContractMismatch(`response of ${spec.method} ${spec.url} breaks its contract: ${issues}`);
}

export function isContractMismatch(error: unknown): error is Error {
  return error instanceof ContractMismatch;
}
