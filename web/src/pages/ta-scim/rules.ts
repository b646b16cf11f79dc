import type { ScimTokenRow } from '../ta-common/types.ts';

/** Whether a SCIM token still works: revoked and expired ones are refused. */
export function tokenState(token: ScimTokenRow, now: number): 'active' | 'revoked' | 'expired' {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt && Date.parse(token.expiresAt) <= now) return 'expired';
  return 'active';
}
