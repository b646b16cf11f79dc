import { z } from 'zod';
import { grantStates } from '../../identity/admins/rules.ts';
import { stagePhases } from '../../tenants/service.ts';
import { issuedTokenSchema } from './identity.ts';
import type { TenantAdminView } from '../../identity/admins/tenant-admins.ts';
import type { BreakGlassView } from '../../identity/admins/break-glass.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** Tenant admins and operators' break-glass access (identity/admins/). */
export const tenantAdminViewSchema = z.strictObject({
  email: z.string(),
  tenant: z.string(),
  /** invited: the invitation is not accepted yet; active: a password is set. */
  status: z.enum(['invited', 'active']),
  mfa: z.boolean(),
  invitedBy: z.string().nullable(),
  invitationExpiresAt: z.string().nullable(),
  lastLoginAt: z.string().nullable(),
  createdAt: z.string(),
});

export const breakGlassViewSchema = z.strictObject({
  id: z.string(),
  tenant: z.string(),
  stage: z.string(),
  operator: z.string(),
  reason: z.string(),
  state: z.enum(grantStates),
  openedAt: z.string(),
  expiresAt: z.string(),
  usedAt: z.string().nullable(),
  closedAt: z.string().nullable(),
  closedBy: z.string().nullable(),
});

/** A tenant as its admins see it: no database names, no paths. */
export const tenantStatusSchema = z.strictObject({
  tenant: z.string(),
  displayName: z.string(),
  region: z.string(),
  phase: z.enum(stagePhases),
  stages: z.array(
    z.strictObject({
      name: z.string(),
      phase: z.enum(stagePhases),
      readyAt: z.string().nullable(),
      paused: z.boolean(),
    }),
  ),
});

export type TenantAdminContractChecks = [
  Expect<Conforms<TenantAdminView, typeof tenantAdminViewSchema>>,
  Expect<Conforms<BreakGlassView, typeof breakGlassViewSchema>>,
];

export const tenantAdminContracts = {
  'POST /api/v1/tenants/:tenant/admins': tenantAdminViewSchema,
  'GET /api/v1/tenants/:tenant/admins': z.strictObject({ admins: z.array(tenantAdminViewSchema) }),
  'DELETE /api/v1/tenants/:tenant/admins/:email': tenantAdminViewSchema,
  'POST /api/v1/auth/tenant-admin/accept': issuedTokenSchema.extend({ tenant: z.string() }),
  'GET /api/v1/tenants/:tenant/status': tenantStatusSchema,
  'POST /api/v1/tenants/:tenant/stages/:stage/break-glass': z.strictObject({
    grant: breakGlassViewSchema,
    /** The one-time link that opens the session. */
    link: z.string(),
  }),
  'GET /api/v1/tenants/:tenant/break-glass': z.strictObject({ grants: z.array(breakGlassViewSchema) }),
  'POST /api/v1/break-glass/:id/close': breakGlassViewSchema,
} satisfies ContractMap;
