import { z } from 'zod';
import { signInModes } from '../../identity/sessions/claims.ts';
import { mfaModes } from '../../identity/sessions/settings.ts';
import type { IdentitySettingsView } from '../../identity/sessions/settings.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** One layer of identity settings: null leaves the value to the layer below (identity/sessions/settings.ts). */
const layerSchema = z.strictObject({
  localUsers: z.boolean().nullable(),
  signIn: z.enum(signInModes).nullable(),
  idleMinutes: z.number().nullable(),
  absoluteHours: z.number().nullable(),
  mfa: z.enum(mfaModes).nullable(),
});

/** The settings that apply on a stage. */
const resolvedSchema = z.strictObject({
  localUsers: z.boolean(),
  signIn: z.enum(signInModes),
  idleMinutes: z.number(),
  absoluteHours: z.number(),
  mfa: z.enum(mfaModes),
});

export const identitySettingsViewSchema = z.strictObject({
  tenant: z.string(),
  tenantSettings: layerSchema,
  stages: z.array(z.strictObject({ stage: z.string(), overrides: layerSchema, effective: resolvedSchema })),
});

export type IdentitySettingsContractChecks = [
  Expect<Conforms<IdentitySettingsView, typeof identitySettingsViewSchema>>,
];

export const identitySettingsContracts = {
  'GET /api/v1/tenants/:tenant/identity': identitySettingsViewSchema,
  'PATCH /api/v1/tenants/:tenant/identity': identitySettingsViewSchema,
} satisfies ContractMap;
