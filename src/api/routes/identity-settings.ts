import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { identitySettingsPatch } from '../../identity/sessions/index.ts';
import type { Services } from '../../services.ts';
import { stageNameSchema } from '../../tenants/schemas.ts';
import { route, type Authenticator } from '../route.ts';

const tenantParams = z.object({ tenant: z.string().min(1).max(100) }).strict();
const settingsBody = identitySettingsPatch.extend({ stage: stageNameSchema.optional() }).strict();

/** A tenant's identity settings for hosted apps (issue 13): local users, sign-in mode, session timeouts. */
export function identitySettingsRoutes(app: FastifyInstance, auth: Authenticator, services: Services): void {
  const settings = services.identitySettings;
  route(app, auth, {
    method: 'GET',
    url: '/api/v1/tenants/:tenant/identity',
    summary: "A tenant's identity settings and, per stage, its overrides and what applies",
    tags: ['identity'],
    permission: 'identity.read',
    tenantAdmin: true,
    params: tenantParams,
    handler: ({ params }) => settings.show(params.tenant),
  });
  route(app, auth, {
    method: 'PATCH',
    url: '/api/v1/tenants/:tenant/identity',
    summary:
      "Set a tenant's identity settings, or with `stage` one stage's overrides (null clears an override): local users, sign-in required | optional | off, idle and absolute session timeouts",
    tags: ['identity'],
    permission: 'identity.write',
    tenantAdmin: true,
    params: tenantParams,
    body: settingsBody,
    handler: ({ params, body, principal }) => {
      const { stage, ...patch } = body;
      return settings.set(params.tenant, stage, patch, principal);
    },
  });
}
