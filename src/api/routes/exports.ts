import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import type { ExportSecret } from '../../backups/logical/index.ts';
import { stageNameSchema } from '../../tenants/schemas.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendPage } from '../pagination.ts';

/** The media type of an export upload (an age-encrypted Steward export). */
export const exportMediaType = 'application/vnd.steward.export';

// Path parameters are checked for shape only: a malformed name simply names nothing.
const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const stageParams = z
  .object({ tenant: z.string().min(1).max(100), stage: z.string().min(1).max(100) })
  .strict();
const idParams = z.object({ id: z.string().min(1).max(100) }).strict();
const tenantIdParams = z
  .object({ tenant: z.string().min(1).max(100), id: z.string().min(1).max(100) })
  .strict();

const setKeySchema = z
  .object({
    recipient: z.string().min(1).max(200).optional(),
    generate: z.enum(['identity', 'passphrase']).optional(),
  })
  .strict()
  .refine((b) => (b.recipient === undefined) !== (b.generate === undefined), {
    message:
      'field "recipient": give either "recipient" (an age1… public key) or "generate" (identity or passphrase), not both or neither',
    path: ['recipient'],
  });

const importQuery = z.object({ stage: stageNameSchema }).strict();

const exportListQuery = pageQuery({ sorts: ['created'], order: 'desc' });

export function exportRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  // The upload stays a stream: it is written to disk as it arrives, never held in memory.
  app.addContentTypeParser(exportMediaType, (_request, payload, done) => {
    done(null, payload);
  });

  route(app, auth, {
    method: 'PUT',
    url: '/api/v1/tenants/:tenant/export-key',
    summary:
      "Set the tenant's export key: an age recipient, or a generated identity or passphrase (shown once, in this answer only)",
    tags: ['exports'],
    permission: 'tenants.write',
    params: tenantParams,
    body: setKeySchema,
    handler: ({ params, body, principal }) =>
      services.exports.setKey(
        params.tenant,
        body.recipient !== undefined
          ? { recipient: body.recipient }
          : { generate: body.generate ?? 'identity' },
        principal,
      ),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/export-key',
    summary: "Show the kind of the tenant's export key and its public recipient",
    tags: ['exports'],
    permission: 'tenants.read',
    params: tenantParams,
    handler: ({ params }) => services.exports.key(params.tenant),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages/:stage/exports',
    summary:
      "Start an encrypted logical export of a stage's database and files (poll GET /api/v1/exports/:id)",
    tags: ['exports'],
    permission: 'tenants.write',
    params: stageParams,
    status: 202,
    handler: ({ params, principal }) => services.exports.create(params.tenant, params.stage, principal),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/stages/:stage/exports',
    summary: "List a stage's exports, newest first",
    tags: ['exports'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: stageParams,
    query: exportListQuery,
    handler: async ({ params, query, request, reply }) => {
      const page = pageRequest(query);
      const found = await services.exports.listPage(params.tenant, params.stage, page);
      return sendPage({ request, reply }, page, found, (items) => ({ exports: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/exports',
    summary: "List a tenant's exports, newest first",
    tags: ['exports'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantParams,
    query: exportListQuery,
    handler: async ({ params, query, request, reply }) => {
      const page = pageRequest(query);
      const found = await services.exports.listPage(params.tenant, undefined, page);
      return sendPage({ request, reply }, page, found, (items) => ({ exports: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/exports/:id',
    summary: 'Show an export: status, size, sha256 of the encrypted file',
    tags: ['exports'],
    permission: 'tenants.read',
    params: idParams,
    handler: ({ params }) => services.exports.show(params.id),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/exports/:id',
    summary: 'Show an export of this tenant',
    tags: ['exports'],
    permission: 'tenants.read',
    tenantAdmin: true,
    params: tenantIdParams,
    handler: ({ params }) => services.exports.show(params.id, params.tenant),
  });
  for (const url of ['/api/v1/exports/:id/download', '/api/v1/tenants/:tenant/exports/:id/download']) {
    route(app, auth, {
      method: 'GET',
      url,
      summary: 'Download the encrypted export file (data portability; audited)',
      tags: ['exports'],
      permission: 'exports.download',
      // A tenant admin downloads its own tenant's exports (the route that names the tenant).
      ...(url.includes(':tenant') ? { tenantAdmin: true as const } : {}),
      params: url.includes(':tenant') ? tenantIdParams : idParams,
      handler: async ({ params, principal, reply }) => {
        const tenant = 'tenant' in params ? (params as { tenant: string }).tenant : undefined;
        const { view, stream } = await services.exports.download(params.id, principal, tenant);
        void reply
          .header('content-type', 'application/octet-stream')
          .header('content-length', String(view.sizeBytes ?? 0))
          .header('content-disposition', `attachment; filename="${view.filename}"`)
          .header('x-steward-sha256', view.sha256 ?? '');
        return reply.send(stream);
      },
    });
  }
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/exports/:id',
    summary: 'Remove an export and its file',
    tags: ['exports'],
    permission: 'tenants.write',
    params: idParams,
    handler: ({ params, principal }) => services.exports.remove(params.id, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/imports',
    summary: `Import an export into a new stage: the encrypted file as the body (${exportMediaType}), the key in the header x-steward-identity or x-steward-passphrase`,
    tags: ['exports'],
    permission: 'tenants.write',
    params: tenantParams,
    query: importQuery,
    status: 201,
    handler: async ({ params, query, principal, request }) => {
      const secret = importSecret(request.headers);
      const body = request.body as Readable | undefined;
      if (!body || typeof (body as { pipe?: unknown }).pipe !== 'function') {
        throw new InputError(`send the export file as the body with content type ${exportMediaType}`, {
          field: 'body',
        });
      }
      return services.exports.import(params.tenant, query.stage, body, secret, principal);
    },
  });
}

function importSecret(headers: Record<string, string | string[] | undefined>): ExportSecret {
  const one = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const identity = one('x-steward-identity')?.trim();
  const passphrase = one('x-steward-passphrase');
  if (identity && passphrase) {
    throw new InputError('field "identity": give either an identity or a passphrase, not both', {
      field: 'identity',
    });
  }
  if (identity) return { identity };
  if (passphrase) return { passphrase };
  throw new InputError(
    'field "identity": the key is missing; send the age identity in the x-steward-identity header or the passphrase in x-steward-passphrase',
    { field: 'identity' },
  );
}
