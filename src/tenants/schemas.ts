import { z } from 'zod';
import { stageNameProblem, tenantSlugProblem } from '../core/names.ts';
import { ruled } from '../core/validation.ts';

export const tiers = ['shared', 'dedicated', 'ha'] as const;
export type Tier = (typeof tiers)[number];

export const contactSchema = z
  .object({
    name: z.string().min(1).max(200),
    email: z.email().max(254),
    role: z.enum(['technical', 'billing', 'security', 'privacy']).default('technical'),
  })
  .strict();

export const tenantSlugSchema = ruled(tenantSlugProblem);
export const stageNameSchema = ruled(stageNameProblem);

export const createTenantSchema = z
  .object({
    slug: tenantSlugSchema,
    displayName: z.string().min(1).max(200).optional(),
    region: z.string().min(1).max(64).optional(),
    tier: z.enum(tiers).default('shared'),
    contacts: z.array(contactSchema).max(20).default([]),
    stages: z.array(stageNameSchema).min(1).max(10).optional(),
  })
  .strict();
export type CreateTenantInput = z.output<typeof createTenantSchema>;

export const addStageSchema = z.object({ name: stageNameSchema }).strict();
export type AddStageInput = z.output<typeof addStageSchema>;
