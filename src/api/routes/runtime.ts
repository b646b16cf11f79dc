import { open } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InputError } from '../../core/errors.ts';
import { keepSince } from '../../runtime/log-lines.ts';
import { stageNameSchema } from '../../tenants/schemas.ts';
import type { Services } from '../../services.ts';
import { route, type Authenticator } from '../route.ts';
import { pageQuery, pageRequest, sendPage } from '../pagination.ts';

const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const stageParams = z.object({ tenant: z.string().min(1).max(100), stage: stageNameSchema }).strict();
const deploymentListQuery = pageQuery({
  sorts: ['id'],
  order: 'desc',
  filters: { stage: stageNameSchema.optional() },
});
const deployBody = z
  .object({
    version: z.string().min(1).max(64),
    app: z.string().min(1).max(64).optional(),
  })
  .strict();
const promoteBody = z.object({ from: stageNameSchema, to: stageNameSchema }).strict();
const rollbackBody = z.object({ to: z.string().min(1).max(64).optional() }).strict();
const logsQuery = z
  .object({
    process: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/)
      .optional(),
    lines: z.coerce.number().int().min(1).max(10_000).default(100),
    follow: z.enum(['true', 'false']).default('false'),
    /** Only lines whose own timestamp is at or after this time; lines without one are then left out. */
    since: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();
const stageSettings = z
  .object({
    scaleToZeroSeconds: z
      .number()
      .int()
      .min(10)
      .max(86_400 * 30)
      .nullable()
      .optional(),
    filesQuotaBytes: z.number().int().min(1).nullable().optional(),
  })
  .strict();

export function runtimeRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const { deployments, runtime, runtimeView } = services;
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages/:stage/deployments',
    summary: 'Deploy a release to a stage (migrate, start, wait for health, hand over, drain)',
    tags: ['runtime'],
    permission: 'releases.write',
    params: stageParams,
    body: deployBody,
    status: 202,
    handler: ({ params, body, principal }) =>
      deployments.deploy(params.tenant, params.stage, body.version, principal, { app: body.app }),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/deployments',
    summary: "A tenant's deployments (or one stage's), newest first",
    tags: ['runtime'],
    permission: 'tenants.read',
    params: tenantParams,
    query: deploymentListQuery,
    handler: async ({ params, query, request, reply }) => {
      const page = pageRequest(query);
      const found = await deployments.listPage({ tenant: params.tenant, stage: query.stage }, page);
      return sendPage({ request, reply }, page, found, (items) => ({ deployments: items }));
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/deployments/:id',
    summary: 'One deployment and its status',
    tags: ['runtime'],
    permission: 'tenants.read',
    params: z.object({ id: z.string().regex(/^\d{1,18}$/) }).strict(),
    handler: ({ params }) => deployments.get(params.id),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/promote',
    summary: 'Deploy the release that runs in one stage to another',
    tags: ['runtime'],
    permission: 'releases.write',
    params: tenantParams,
    body: promoteBody,
    status: 202,
    handler: ({ params, body, principal }) =>
      deployments.promote(params.tenant, body.from, body.to, principal),
  });
  route(app, auth, {
    method: 'POST',
    url: '/api/v1/tenants/:tenant/stages/:stage/rollback',
    summary: 'Return a stage to the release it ran before, or (to) to an earlier release it ran',
    tags: ['runtime'],
    permission: 'releases.write',
    params: stageParams,
    body: rollbackBody,
    status: 202,
    handler: ({ params, body, principal }) =>
      deployments.rollback(params.tenant, params.stage, principal, body.to),
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/ps',
    summary: "The processes of a tenant's stages: pids, restarts, health, uptime",
    tags: ['runtime'],
    permission: 'tenants.read',
    params: tenantParams,
    handler: async ({ params }) => ({ stages: await runtimeView.ps(params.tenant) }),
  });
  route(app, auth, {
    method: 'PATCH',
    url: '/api/v1/tenants/:tenant/stages/:stage/runtime',
    summary: 'Scale to zero after idle seconds (null: never); files quota in bytes (null: none)',
    tags: ['runtime'],
    permission: 'tenants.write',
    params: stageParams,
    body: stageSettings,
    handler: async ({ params, body, principal }) => {
      const [view] = await runtimeView.ps(params.tenant, params.stage);
      if (!view) throw new InputError(`unknown stage ${params.stage}`, { field: 'stage' });
      await runtime.configure(params.tenant, params.stage, body, principal);
      return (await runtimeView.ps(params.tenant, params.stage))[0];
    },
  });
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/stages/:stage/logs',
    summary:
      "The stage's process logs as NDJSON lines ({process, instance, line}); follow=true streams; since=<ISO time> keeps lines with a timestamp at or after it",
    tags: ['runtime'],
    permission: 'tenants.read',
    params: stageParams,
    query: logsQuery,
    handler: async ({ params, query, reply, request }) => {
      const since = query.since === undefined ? undefined : Date.parse(query.since);
      const lines = await runtimeView.logs(params.tenant, params.stage, {
        lines: query.lines,
        ...(query.process ? { process: query.process } : {}),
        ...(since === undefined ? {} : { since }),
      });
      const ndjson = lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : '');
      if (query.follow !== 'true') {
        void reply.header('content-type', 'application/x-ndjson');
        return ndjson;
      }
      // Follow: send what is there, then new lines as the files grow, until the client goes away.
      const files = await runtimeView.logFiles(params.tenant, params.stage, query.process);
      const offsets = new Map<string, number>();
      for (const file of files) {
        const handle = await open(file.path, 'r').catch(() => undefined);
        offsets.set(file.path, (await handle?.stat())?.size ?? 0);
        await handle?.close();
      }
      reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      reply.raw.write(ndjson);
      let open_ = true;
      request.raw.on('close', () => (open_ = false));
      const partial = new Map<string, string>();
      while (open_) {
        for (const file of files) {
          const handle = await open(file.path, 'r').catch(() => undefined);
          if (!handle) continue;
          try {
            const { size } = await handle.stat();
            let offset = offsets.get(file.path) ?? 0;
            if (size < offset) offset = 0; // rotated
            if (size > offset) {
              const buffer = Buffer.alloc(Math.min(size - offset, 1024 * 1024));
              await handle.read(buffer, 0, buffer.length, offset);
              offsets.set(file.path, offset + buffer.length);
              const text = (partial.get(file.path) ?? '') + buffer.toString('utf8');
              const parts = text.split('\n');
              partial.set(file.path, parts.pop() ?? '');
              for (const line of parts.filter((l) => keepSince(l, since))) {
                reply.raw.write(
                  `${JSON.stringify({ process: file.process, instance: file.instance, line })}\n`,
                );
              }
            }
          } finally {
            await handle.close();
          }
        }
        await new Promise((r) => setTimeout(r, 300));
      }
      reply.raw.end();
      return reply;
    },
  });
}
