import { z } from 'zod';
import { connectionKinds } from '../../identity/oidc/issuer.ts';
import type { OidcConnectionView } from '../../identity/oidc/connections.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** A tenant's OIDC connection, without its client secret (identity/oidc/connections.ts). */
export const oidcConnectionViewSchema = z.strictObject({
  name: z.string(),
  stage: z.string().nullable(),
  label: z.string(),
  kind: z.enum(connectionKinds),
  issuer: z.string(),
  clientId: z.string(),
  scopes: z.array(z.string()),
  allowedTids: z.array(z.string()),
  joinClaim: z.string(),
  groupsClaim: z.string().nullable(),
  graphUrl: z.string().nullable(),
  provision: z.boolean(),
  redirectPath: z.string(),
});

export type IdentityOidcContractChecks = [
  Expect<Conforms<OidcConnectionView, typeof oidcConnectionViewSchema>>,
];

export const identityOidcContracts = {
  'GET /api/v1/tenants/:tenant/identity/oidc': z.strictObject({
    connections: z.array(oidcConnectionViewSchema),
  }),
  'POST /api/v1/tenants/:tenant/identity/oidc': oidcConnectionViewSchema,
  'DELETE /api/v1/tenants/:tenant/identity/oidc/:name': z.strictObject({ removed: z.string() }),
} satisfies ContractMap;
