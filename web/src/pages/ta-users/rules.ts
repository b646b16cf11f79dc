import type { UserRow } from '../ta-common/types.ts';

/** What a tenant admin may do to a user (src/api/routes/users.ts), in the menu's order. */
export const userActions = [
  'invite',
  'reset-password',
  'reset-mfa',
  'revoke-sessions',
  'disable',
  'enable',
  'delete',
] as const;
export type UserAction = (typeof userActions)[number];

/** The actions that make sense for this user now: a local user's password, an active user's disabling. */
export function actionsFor(user: UserRow): UserAction[] {
  return userActions.filter((action) => {
    if (action === 'invite') return user.source === 'local' && !user.passwordSet;
    if (action === 'reset-password') return user.source === 'local' && user.passwordSet;
    if (action === 'reset-mfa') return user.mfa || user.securityKeys > 0;
    if (action === 'disable') return user.active;
    if (action === 'enable') return !user.active;
    return true;
  });
}

export function userState(user: UserRow, now: number): 'active' | 'disabled' | 'invited' | 'locked' {
  if (!user.active) return 'disabled';
  if (user.lockedUntil && Date.parse(user.lockedUntil) > now) return 'locked';
  if (user.invitationPending) return 'invited';
  return 'active';
}
