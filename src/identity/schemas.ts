import { z } from 'zod';
import { operatorNamePattern, operatorNameRule } from '../core/names.ts';
import { operatorRoles, tokenScopes } from '../core/policy.ts';
import { showValue } from '../core/errors.ts';
import { passwordProblem } from './credentials.ts';
import { ruled } from '../core/validation.ts';

export const usernameSchema = ruled((value) =>
  operatorNamePattern.test(value)
    ? undefined
    : `username ${showValue(value)} is not accepted: use ${operatorNameRule}`,
);
export const passwordSchema = ruled(passwordProblem);

export const loginSchema = z
  .object({
    username: z.string().min(1).max(128),
    password: z.string().min(1).max(256),
    totp: z.string().max(16).optional(),
    recoveryCode: z.string().max(64).optional(),
    newPassword: passwordSchema.optional(),
    tokenName: z.string().min(1).max(64).default('login'),
    expiresInHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(12),
  })
  .strict();
export type LoginInput = z.output<typeof loginSchema>;

export const addOperatorSchema = z
  .object({
    username: usernameSchema,
    role: z.enum(operatorRoles),
    password: passwordSchema.optional(),
  })
  .strict();
export type AddOperatorInput = z.output<typeof addOperatorSchema>;

export const createTokenSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9 ._-]+$/),
    role: z.enum(operatorRoles).optional(),
    scope: z.enum(tokenScopes).optional(),
    expiresInDays: z.number().int().min(1).max(3650).optional(),
  })
  .strict();
export type CreateTokenInput = z.output<typeof createTokenSchema>;

export const changePasswordSchema = z
  .object({ currentPassword: z.string().min(1).max(256), newPassword: passwordSchema })
  .strict();

export const mfaVerifySchema = z.object({ code: z.string().regex(/^\d{6}$/) }).strict();
