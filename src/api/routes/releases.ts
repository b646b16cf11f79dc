import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendPage } from '../pagination.ts';
import { releaseSorts } from '../../runtime/releases.ts';

export const releaseUploadLimit = 256 * 1024 * 1024;
export const releaseMediaTypes = ['application/gzip', 'application/octet-stream'] as const;

// The service checks the version's shape and says what is accepted.
const version = z.string().min(1).max(100);
// Path parameters are checked for shape only: a malformed name simply names no release.
const releaseParams = z
  .object({ app: z.string().min(1).max(100), version: z.string().min(1).max(100) })
  .strict();

// By app, then oldest first (its order); or by when they were uploaded.
const releaseListQuery = pageQuery({
  sorts: releaseSorts,
  filters: { app: z.string().min(1).max(100).optional() },
});

export function releaseRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  // Uploads arrive as raw bytes; the route's own body limit lets them be large.
  app.addContentTypeParser([...releaseMediaTypes], { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body);
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/releases',
    summary:
      'Add a release: a .tar.gz of the app with its steward.yaml (201 when added, 200 when the same content is already there)',
    tags: ['releases'],
    permission: 'releases.write',
    query: z.object({ version }).strict(),
    bodyLimit: releaseUploadLimit,
    handler: async ({ query, principal, request, reply }) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw new InputError(
          `send the release as a .tar.gz body with content type ${releaseMediaTypes.join(' or ')}`,
          { field: 'body' },
        );
      }
      const release = await services.releases.add(body, query.version, principal);
      reply.code(release.created ? 201 : 200);
      return release;
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/releases',
    summary: 'List releases, optionally of one app',
    tags: ['releases'],
    permission: 'tenants.read',
    query: releaseListQuery,
    handler: async ({ query, request, reply }) => {
      const page = pageRequest(query);
      const releases = await services.releases.listPage({ app: query.app }, page);
      return sendPage({ request, reply }, page, releases, (items) => ({ releases: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/releases/:app/:version',
    summary: 'Show a release: checksum, size and its app definition',
    tags: ['releases'],
    permission: 'tenants.read',
    params: releaseParams,
    handler: ({ params }) => services.releases.show(params.app, params.version),
  });
  route(app, auth, {
    method: 'DELETE',
    url: '/api/v1/releases/:app/:version',
    summary: 'Remove a release that no stage runs or is being deployed',
    tags: ['releases'],
    permission: 'releases.write',
    params: releaseParams,
    handler: ({ params, principal }) => services.releases.remove(params.app, params.version, principal),
  });
}
