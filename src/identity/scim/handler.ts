import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isStewardError, showValue, UnauthorizedError } from '../../core/errors.ts';
import { normaliseHost } from '../../gateway/routes.ts';
import { ScimInputError } from './patch.ts';
import { errorSchema, resourceTypes, schemaResources, serviceProviderConfig } from './schema.ts';
import type { ListQuery, ScimService, Versioned } from './service.ts';
import type { ScimCaller, ScimTokenService } from './tokens.ts';
import { maxPageSize } from '../directory/index.ts';

/**
 * SCIM 2.0 over HTTP at `https://<tenant>.<base>/scim/v2/…`: HAProxy
 * routes the path on a tenant's apex host to Steward's pages (TLS and the
 * edge's checks done), which hand it here. The bearer token must be one of
 * that tenant's; the rest is ScimService.
 */
export const scimPrefix = '/scim/v2';
export const scimMediaType = 'application/scim+json';
/** Bodies past this are refused (413) before they are read: a group PUT of ~15,000 members fits. */
export const defaultMaxBodyBytes = 1024 * 1024;

export interface ScimHandlerOptions {
  readonly service: ScimService;
  readonly tokens: ScimTokenService;
  readonly baseDomain: string;
  readonly logger: Logger;
  readonly maxBodyBytes?: number;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

export function scimHandler(o: ScimHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBody = o.maxBodyBytes ?? defaultMaxBodyBytes;
  const suffix = `.${o.baseDomain.toLowerCase()}`;
  return (req, res) => {
    handle(req).then(
      (reply) => send(res, reply),
      (error: unknown) => send(res, errorReply(error, o.logger)),
    );
  };

  async function handle(req: IncomingMessage): Promise<Reply> {
    const host = normaliseHost(req.headers.host);
    const tenant = host?.endsWith(suffix) ? host.slice(0, -suffix.length) : '';
    // The tenant's apex host only: `<tenant>.<base>`, one label.
    if (tenant === '' || tenant.includes('.'))
      return scimError(404, "SCIM is served on a tenant's own host: https://<tenant>.<base>/scim/v2");
    const header = req.headers.authorization;
    const caller = await o.tokens.authenticate(
      header?.startsWith('Bearer ') ? header.slice(7).trim() : '',
      tenant,
    );
    const url = new URL(req.url ?? '/', 'http://scim');
    const base = `https://${req.headers.host ?? host}${scimPrefix}`;
    const path = url.pathname.slice(scimPrefix.length).replace(/\/+$/, '');
    const [, collection = '', id, extra] = path.split('/');
    const method = req.method ?? 'GET';
    if (extra !== undefined) return scimError(404, `no SCIM endpoint ${showValue(url.pathname)}`);
    const body =
      method === 'POST' || method === 'PUT' || method === 'PATCH' ? await readBody(req, maxBody) : undefined;
    const ifVersion = versionOf(req.headers['if-match']);
    return route(
      caller,
      base,
      method,
      collection,
      id === undefined ? undefined : decodeURIComponent(id),
      url.searchParams,
      body,
      ifVersion,
      req,
    );
  }

  async function route(
    caller: ScimCaller,
    base: string,
    method: string,
    collection: string,
    id: string | undefined,
    params: URLSearchParams,
    body: unknown,
    ifVersion: number | undefined,
    req: IncomingMessage,
  ): Promise<Reply> {
    const s = o.service;
    const resource = (v: Versioned, status = 200): Reply => {
      const etag = `W/"${v.version}"`;
      if (status === 200 && req.method === 'GET' && req.headers['if-none-match'] === etag)
        return { status: 304, headers: { etag } };
      const location = (v.resource.meta as { location?: string } | undefined)?.location;
      return {
        status,
        body: v.resource,
        headers: { etag, ...(status === 201 && location ? { location } : {}) },
      };
    };
    const c = collection.toLowerCase();
    if (c === 'users' || c === 'groups') {
      const users = c === 'users';
      if (id === undefined) {
        if (method === 'GET')
          return {
            status: 200,
            body: await (users
              ? s.listUsers(caller, base, listQuery(params))
              : s.listGroups(caller, base, listQuery(params))),
          };
        if (method === 'POST')
          return resource(
            await (users ? s.createUser(caller, base, body) : s.createGroup(caller, base, body)),
            201,
          );
        return notAllowed(method, 'GET, POST');
      }
      switch (method) {
        case 'GET':
          return resource(
            await (users
              ? s.getUser(caller, base, id, listQuery(params))
              : s.getGroup(caller, base, id, listQuery(params))),
          );
        case 'PUT':
          return resource(
            await (users
              ? s.replaceUser(caller, base, id, body, ifVersion)
              : s.replaceGroup(caller, base, id, body, ifVersion)),
          );
        case 'PATCH':
          if (users) return resource(await s.patchUser(caller, base, id, body, ifVersion));
          await s.patchGroup(caller, id, body, ifVersion);
          return { status: 204 };
        case 'DELETE':
          await (users ? s.deleteUser(caller, id, ifVersion) : s.deleteGroup(caller, id, ifVersion));
          return { status: 204 };
        default:
          return notAllowed(method, 'GET, PUT, PATCH, DELETE');
      }
    }
    if (method !== 'GET') return notAllowed(method, 'GET');
    if (c === 'serviceproviderconfig' && id === undefined) {
      return { status: 200, body: serviceProviderConfig(base, maxPageSize, maxBody) };
    }
    if (c === 'schemas' || c === 'resourcetypes') {
      const all = c === 'schemas' ? schemaResources(base) : resourceTypes(base);
      if (id === undefined)
        return {
          status: 200,
          body: {
            schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
            totalResults: all.length,
            startIndex: 1,
            itemsPerPage: all.length,
            Resources: all,
          },
        };
      const one = all.find((r) => String(r.id).toLowerCase() === id.toLowerCase());
      return one
        ? { status: 200, body: one }
        : scimError(404, `no ${c === 'schemas' ? 'schema' : 'resource type'} ${showValue(id)}`);
    }
    return scimError(
      404,
      `no SCIM endpoint ${showValue(`/${collection}`)}; there are /Users, /Groups, /Schemas, /ResourceTypes and /ServiceProviderConfig`,
    );
  }
}

function listQuery(params: URLSearchParams): ListQuery {
  const int = (name: string): number | undefined => {
    const raw = params.get(name);
    if (raw === null || raw === '') return undefined;
    if (!/^-?\d{1,9}$/.test(raw))
      throw new ScimInputError('invalidValue', `${name} ${showValue(raw)} is not a whole number`, name);
    return Number(raw);
  };
  const list = (name: string) =>
    (params.get(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return {
    filter: params.get('filter') ?? undefined,
    startIndex: int('startIndex'),
    count: int('count'),
    attributes: list('attributes'),
    excludedAttributes: list('excludedAttributes'),
  };
}

function versionOf(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(header);
  if (!match)
    throw new ScimInputError(
      'invalidValue',
      `If-Match ${showValue(header)} is not an ETag this server gave (W/"<version>")`,
      'If-Match',
    );
  return Number(match[1]);
}

class PayloadTooLarge extends Error {}
class UnsupportedMediaType extends Error {}

async function readBody(req: IncomingMessage, max: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== scimMediaType && type !== 'application/json') {
    throw new UnsupportedMediaType(
      `Content-Type ${showValue(type)} is not accepted; send ${scimMediaType} or application/json`,
    );
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw new PayloadTooLarge(`the body is ${declared} bytes; at most ${max}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new PayloadTooLarge(`the body is over ${max} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new ScimInputError('invalidSyntax', 'the body is not JSON', 'body');
  }
}

function scimError(status: number, detail: string, scimType?: string): Reply {
  return {
    status,
    body: { schemas: [errorSchema], status: String(status), ...(scimType ? { scimType } : {}), detail },
  };
}

function notAllowed(method: string, allowed: string): Reply {
  return { ...scimError(405, `${method} is not allowed here; ${allowed}`), headers: { allow: allowed } };
}

/** Errors in SCIM's error schema (RFC 7644 §3.12): status as a string, scimType where one fits. */
function errorReply(error: unknown, logger: Logger): Reply {
  if (error instanceof PayloadTooLarge) return scimError(413, error.message);
  if (error instanceof UnsupportedMediaType) return scimError(415, error.message);
  if (error instanceof ScimInputError) return scimError(400, error.message, error.scimType);
  if (error instanceof UnauthorizedError) {
    return { ...scimError(401, error.message), headers: { 'www-authenticate': 'Bearer realm="scim"' } };
  }
  if (isStewardError(error)) {
    if (error.status === 409) return scimError(409, error.message, 'uniqueness');
    if (error.status === 412) return scimError(412, error.message);
    if (error.status === 400)
      return scimError(400, error.message, error.field === 'filter' ? 'invalidFilter' : 'invalidValue');
    return scimError(error.status, error.message);
  }
  logger.error({ err: error }, 'a SCIM request failed');
  return scimError(500, 'the request failed inside Steward; its log says why');
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...(reply.body === undefined
      ? {}
      : { 'content-type': `${scimMediaType}; charset=utf-8`, 'content-length': Buffer.byteLength(text) }),
    'cache-control': 'no-store',
    ...reply.headers,
  });
  res.end(text);
}
