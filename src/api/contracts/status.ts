import { z } from 'zod';
import type { ContractMap } from './index.ts';

/** A tenant's private status-page link (status/service.ts). */
export const statusLinkSchema = z.strictObject({
  tenant: z.string(),
  /** The link with its token: only when a token was made now (first use, rotate); else null. */
  url: z.string().nullable(),
  path: z.string().nullable(),
  /** Which stages the page shows, prod first. */
  stages: z.array(z.string()),
  rotatedAt: z.string(),
});

export const statusContracts = {
  'POST /api/v1/tenants/:tenant/status/link': statusLinkSchema,
} satisfies ContractMap;
