import { z } from 'zod';
import { routeKinds } from '../../gateway/routes.ts';
import type { CertificateView, RouteView, StageAccessView } from '../../gateway/service.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

const routeSchema = z.strictObject({
  host: z.string(),
  kind: z.enum(routeKinds),
  tenant: z.string(),
  stage: z.string(),
  port: z.number(),
  /** CIDRs that may reach the stage; null: everyone. */
  allowFrom: z.array(z.string()).nullable(),
  maintenance: z.boolean(),
});

export const stageAccessSchema = z.strictObject({
  tenant: z.string(),
  stage: z.string(),
  allowFrom: z.array(z.string()).nullable(),
  maintenance: z.boolean(),
  domains: z.array(z.string()),
});

export const certificateSchema = z.strictObject({
  domain: z.string(),
  names: z.array(z.string()),
  notAfter: z.string(),
  updatedAt: z.string(),
});

export type GatewayContractChecks = [
  Expect<Conforms<RouteView, typeof routeSchema>>,
  Expect<Conforms<StageAccessView, typeof stageAccessSchema>>,
  Expect<Conforms<CertificateView, typeof certificateSchema>>,
];

export const gatewayContracts = {
  'GET /api/v1/routes': z.strictObject({ baseDomain: z.string(), routes: z.array(routeSchema) }),
  'GET /api/v1/tenants/:tenant/stages/:stage/gateway': stageAccessSchema,
  'PATCH /api/v1/tenants/:tenant/stages/:stage/gateway': stageAccessSchema,
  'PUT /api/v1/tenants/:tenant/stages/:stage/domains/:domain': stageAccessSchema,
  'DELETE /api/v1/tenants/:tenant/stages/:stage/domains/:domain': stageAccessSchema,
  'GET /api/v1/certificates': z.strictObject({ certificates: z.array(certificateSchema) }),
  'PUT /api/v1/certificates/:domain': certificateSchema,
  'DELETE /api/v1/certificates/:domain': z.strictObject({ removed: z.string() }),
} satisfies ContractMap;
