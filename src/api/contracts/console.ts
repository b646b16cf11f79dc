import { z } from 'zod';
import { permissions, roles } from '../../core/policy.ts';
import type { ContractMap } from './index.ts';

/** Who is signed in to the console, what the console may show them, and the CSRF token for their changes. */
export const consoleSessionSchema = z.object({
  username: z.string(),
  role: z.enum(roles),
  /** A tenant admin's tenant (slug); null for Steward's operators. */
  tenant: z.string().nullable(),
  /** Whether the account has enrolled TOTP (a tenant admin manages its tenant only with it). */
  mfa: z.boolean(),
  /** Send it as `x-csrf-token` with every change (POST, PUT, PATCH, DELETE) the session cookie authenticates. */
  csrfToken: z.string(),
  /** What the role may do: the console hides the rest (the API enforces every route). */
  permissions: z.array(z.enum(permissions)),
});
export type ConsoleSession = z.output<typeof consoleSessionSchema>;

export const consoleContracts = {
  'POST /api/v1/console/login': consoleSessionSchema,
  'GET /api/v1/console/session': consoleSessionSchema,
  'POST /api/v1/console/logout': z.object({ signedOut: z.literal(true) }),
} satisfies ContractMap;
