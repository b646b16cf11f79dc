import { z } from 'zod';
import { showValue } from '../../core/errors.ts';
import { ruled } from '../../core/validation.ts';
import { emailPattern } from '../../status/subscriptions.ts';

/** A tenant user's name as people type it: 1 to 256 printable characters, no space at either end. */
export const userNameSchema = ruled((value) =>
  /^[^\s\p{C}](?:[^\p{C}]{0,254}[^\s\p{C}])?$/u.test(value)
    ? undefined
    : `user name ${showValue(value)} is not accepted: use 1 to 256 printable characters without a space at either end`,
);

export const userEmailSchema = ruled((value) =>
  emailPattern.test(value)
    ? undefined
    : `e-mail address ${showValue(value)} is not accepted: use name@domain.example`,
);

export const addUserSchema = z
  .object({
    userName: userNameSchema,
    email: userEmailSchema,
    name: z.string().min(1).max(256).optional(),
    /** TOTP is set up with the invitation and asked at every sign-in (besides the tenant's setting). */
    requireMfa: z.boolean().optional(),
  })
  .strict();

export const tenantUserParams = z
  .object({ tenant: z.string().min(1).max(100), userName: z.string().min(1).max(256) })
  .strict();

export const loginLogQuerySchema = z
  .object({
    since: z.string().max(40).optional(),
    user: z.string().min(1).max(256).optional(),
    outcome: z.enum(['success', 'failure']).optional(),
    before: z.string().max(20).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();
