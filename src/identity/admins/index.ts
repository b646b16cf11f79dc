export { TenantAdminService, type TenantAdminView, type InviteInput } from './tenant-admins.ts';
export { BreakGlassService, type BreakGlassSessions, type BreakGlassView } from './break-glass.ts';
export { grantState, redeemRefusal, maxBreakGlassMinutes, maxInvitationHours } from './rules.ts';
export { breakGlassPage } from './break-glass-page.ts';
export { adminInvitePage } from './admin-invite-page.ts';
