import { UnavailableError } from '../../core/errors.ts';
import type { AuditService } from '../../audit/service.ts';
import type { LoginEvent, LoginLog } from '../contracts.ts';
import type { BreakGlassSessions } from './break-glass.ts';

/**
 * Stand-ins for the edge sessions (id-edge) and the login log (id-local)
 * until their modules are merged: break-glass links are refused with a
 * reason, and login events go to the audit log. Replaced in services.ts.
 */
export const noEdgeSessions: BreakGlassSessions<{ readonly sid: string }> = {
  open: () => Promise.reject(new UnavailableError('edge sessions are not built into this Steward yet')),
  revokeSession: () => Promise.resolve(false),
};

export function auditLoginLog(
  audit: AuditService,
  tenantSlug: (tenantId: string) => Promise<string | null>,
): LoginLog {
  return {
    async record(event: LoginEvent): Promise<void> {
      await audit.recordAlone({
        actor: event.userName ?? 'unknown',
        action: `login.${event.method}`,
        target: `stage/${event.stage ?? '-'}`,
        tenant: await tenantSlug(event.tenantId),
        outcome: event.outcome,
        address: event.address,
        details: { reason: event.reason, detail: event.detail },
      });
    },
  };
}
