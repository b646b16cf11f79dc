import { z } from 'zod';
import { operatorRoles, roles, tokenScopes } from '../../core/policy.ts';
import { tokenKinds } from '../../identity/tokens.ts';
import type { IssuedToken, OperatorView, TokenView } from '../../identity/operators.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** What the auth, operators and tokens routes answer (identity/operators.ts, identity/tokens.ts). */
export const tokenViewSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  kind: z.enum(tokenKinds),
  role: z.enum(roles),
  /** Null: every route the role allows; else only the scope's routes. */
  scope: z.enum(tokenScopes).nullable(),
  operator: z.string(),
  prefix: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  createdAt: z.string(),
});

/** A token as it is issued: the secret itself, shown this once. */
export const issuedTokenSchema = tokenViewSchema.extend({ token: z.string() });

export const operatorViewSchema = z.strictObject({
  username: z.string(),
  role: z.enum(operatorRoles),
  mfa: z.boolean(),
  mustChangePassword: z.boolean(),
  lockedUntil: z.string().nullable(),
  lastLoginAt: z.string().nullable(),
  createdAt: z.string(),
});

export const whoamiSchema = z.strictObject({
  username: z.string(),
  role: z.enum(roles),
  tokenId: z.string().nullable(),
  /** A tenant admin's tenant and whether its MFA is enrolled; absent for operators. */
  tenant: z.string().optional(),
  mfa: z.boolean().optional(),
});

export type IdentityContractChecks = [
  Expect<Conforms<TokenView, typeof tokenViewSchema>>,
  Expect<Conforms<IssuedToken, typeof issuedTokenSchema>>,
  Expect<Conforms<OperatorView, typeof operatorViewSchema>>,
];

export const identityContracts = {
  'POST /api/v1/auth/login': issuedTokenSchema.extend({ mustChangePassword: z.literal(false) }),
  'GET /api/v1/auth/whoami': whoamiSchema,
  'POST /api/v1/auth/password': z.strictObject({ changed: z.literal(true) }),
  'POST /api/v1/auth/mfa/enroll': z.strictObject({ secret: z.string(), uri: z.string() }),
  'POST /api/v1/auth/mfa/verify': z.strictObject({ recoveryCodes: z.array(z.string()) }),
  'GET /api/v1/operators': z.strictObject({ operators: z.array(operatorViewSchema) }),
  'POST /api/v1/operators': z.strictObject({
    operator: operatorViewSchema,
    /** The generated one-time password, when none was given. */
    password: z.string().optional(),
  }),
  'DELETE /api/v1/operators/:username': z.strictObject({ removed: z.string() }),
  'POST /api/v1/operators/:username/mfa/reset': z.strictObject({ reset: z.string() }),
  'DELETE /api/v1/operators/:username/tokens/:id': tokenViewSchema,
  'GET /api/v1/tokens': z.strictObject({ tokens: z.array(tokenViewSchema) }),
  'POST /api/v1/tokens': issuedTokenSchema,
  'DELETE /api/v1/tokens/:id': tokenViewSchema,
} satisfies ContractMap;
