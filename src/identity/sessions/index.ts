/** Edge sessions and identity settings (issue 13): what the rest of Steward may use. */
export {
  buildClaims,
  edgeDecision,
  identityHeader,
  maxTokenGroups,
  planRefresh,
  safeReturnPath,
  sessionCookie,
  signInModes,
  tokenLifetimeSeconds,
  type EdgeDecision,
  type EdgeRequest,
  type IdentityClaims,
  type SignInMode,
} from './claims.ts';
export { jwksOf, SessionKeys, type PublicSessionKey } from './keys.ts';
export {
  sessionDirectory,
  SessionService,
  type EdgeSessionState,
  type OpenedSession,
  type RevokeReason,
  type SessionDirectory,
  type SessionFor,
} from './service.ts';
export {
  identityDefaults,
  IdentitySettings,
  identitySettingsPatch,
  resolveSettings,
  type IdentitySettingsPatch,
  type IdentitySettingsView,
  type ResolvedIdentitySettings,
} from './settings.ts';
