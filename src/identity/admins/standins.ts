import type { AuditService } from '../../audit/service.ts';
import type { LoginEvent, LoginLog } from '../contracts.ts';

/** A stand-in for the login log (id-local) until it is merged: login events go to the audit log. */
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
