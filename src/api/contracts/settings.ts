import { z } from 'zod';
import {
  limitGroups,
  limitSources,
  limitUnits,
  type LimitsView,
  type RegionsView,
} from '../../settings/index.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

const limitSchema = z.strictObject({
  group: z.enum(limitGroups),
  name: z.string(),
  description: z.string(),
  value: z.number().nullable(),
  default: z.number().nullable(),
  unit: z.enum(limitUnits),
  source: z.enum(limitSources),
  /** The config field path (source config), the stage setting or the app definition's field; null: built in. */
  field: z.string().nullable(),
  changed: z.boolean(),
});

const limitsSchema = z.strictObject({
  editable: z.literal(false),
  howToChange: z.string(),
  limits: z.array(limitSchema),
});

const regionSchema = z.strictObject({
  name: z.string(),
  geography: z.string().nullable(),
  isDefault: z.boolean(),
  configured: z.boolean(),
  tenants: z.number(),
  stages: z.number(),
  backupRepositories: z.array(
    z.strictObject({ name: z.string(), kind: z.enum(['path', 's3']), location: z.string() }),
  ),
  backupResidency: z.string().nullable(),
});

const regionsSchema = z.strictObject({
  defaultRegion: z.string(),
  editable: z.literal(false),
  regions: z.array(regionSchema),
});

export type SettingsContractChecks = [
  Expect<Conforms<LimitsView, typeof limitsSchema>>,
  Expect<Conforms<RegionsView, typeof regionsSchema>>,
];

export const settingsContracts = {
  'GET /api/v1/settings/limits': limitsSchema,
  'GET /api/v1/regions': regionsSchema,
} satisfies ContractMap;
