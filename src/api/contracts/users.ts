import { z } from 'zod';
import type { UserView } from '../../identity/local/users.ts';
import type { LoginEventView } from '../../identity/local/login-log.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** A tenant's end users and its login log (identity/local/users.ts, identity/local/login-log.ts). */
export const userViewSchema = z.strictObject({
  id: z.string(),
  userName: z.string(),
  email: z.string().nullable(),
  displayName: z.string().nullable(),
  active: z.boolean(),
  /** local, scim, ldap or oidc: who manages the user. */
  source: z.string(),
  groups: z.array(z.string()),
  /** TOTP enrolled. */
  mfa: z.boolean(),
  /** WebAuthn security keys added. */
  securityKeys: z.number(),
  mfaRequired: z.boolean(),
  passwordSet: z.boolean(),
  invitationPending: z.boolean(),
  lockedUntil: z.string().nullable(),
  lastSignInAt: z.string().nullable(),
});

/** A mailed invitation or password reset link: to whom, and until when it works. */
export const mailedLinkSchema = z.strictObject({ sentTo: z.string(), expiresAt: z.string() });

export const loginEventViewSchema = z.strictObject({
  id: z.string(),
  at: z.string(),
  stage: z.string().nullable(),
  userId: z.string().nullable(),
  userName: z.string().nullable(),
  method: z.string(),
  outcome: z.enum(['success', 'failure']),
  reason: z.string().nullable(),
  address: z.string().nullable(),
  detail: z.string().nullable(),
});

export type UserContractChecks = [
  Expect<Conforms<UserView, typeof userViewSchema>>,
  Expect<Conforms<LoginEventView, typeof loginEventViewSchema>>,
];

export const userContracts = {
  'GET /api/v1/tenants/:tenant/users': z.strictObject({ users: z.array(userViewSchema) }),
  'GET /api/v1/tenants/:tenant/users/:userName': userViewSchema,
  'POST /api/v1/tenants/:tenant/users': z.strictObject({
    user: userViewSchema,
    invitation: mailedLinkSchema,
  }),
  'POST /api/v1/tenants/:tenant/users/:userName/invite': mailedLinkSchema,
  'POST /api/v1/tenants/:tenant/users/:userName/reset-password': mailedLinkSchema,
  'POST /api/v1/tenants/:tenant/users/:userName/reset-mfa': userViewSchema,
  'POST /api/v1/tenants/:tenant/users/:userName/disable': userViewSchema,
  'POST /api/v1/tenants/:tenant/users/:userName/enable': userViewSchema,
  'POST /api/v1/tenants/:tenant/users/:userName/revoke-sessions': z.strictObject({ revoked: z.number() }),
  'DELETE /api/v1/tenants/:tenant/users/:userName': z.strictObject({ deleted: z.string() }),
  'GET /api/v1/tenants/:tenant/login-log': z.strictObject({
    events: z.array(loginEventViewSchema),
    /** The `before` of the next older page; null on the last. */
    nextBefore: z.string().nullable(),
  }),
} satisfies ContractMap;
