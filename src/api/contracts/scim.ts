import { z } from 'zod';
import { directorySources } from '../../identity/directory/types.ts';
import type { IssuedScimToken, ScimTokenView } from '../../identity/scim/tokens.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** A tenant's SCIM tokens (never the tokens themselves but once) and groups (identity/scim/tokens.ts). */
export const scimTokenViewSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  name: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

export const issuedScimTokenSchema = scimTokenViewSchema.extend({
  /** Shown once; only its hash is stored. */
  token: z.string(),
  /** The SCIM base URL to give the identity provider. */
  url: z.string(),
});

export const groupSummarySchema = z.strictObject({
  id: z.string(),
  displayName: z.string(),
  externalId: z.string().nullable(),
  source: z.enum(directorySources),
  members: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export type ScimContractChecks = [
  Expect<Conforms<ScimTokenView, typeof scimTokenViewSchema>>,
  Expect<Conforms<IssuedScimToken, typeof issuedScimTokenSchema>>,
];

export const scimContracts = {
  'POST /api/v1/tenants/:tenant/scim-tokens': issuedScimTokenSchema,
  'GET /api/v1/tenants/:tenant/scim-tokens': z.strictObject({ tokens: z.array(scimTokenViewSchema) }),
  'DELETE /api/v1/tenants/:tenant/scim-tokens/:id': scimTokenViewSchema,
  'GET /api/v1/tenants/:tenant/groups': z.strictObject({
    total: z.number(),
    startIndex: z.number(),
    groups: z.array(groupSummarySchema),
  }),
} satisfies ContractMap;
