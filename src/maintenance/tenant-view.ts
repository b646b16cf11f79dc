import type { MaintenanceKind } from './plan.ts';
import type { MaintenanceWindowView } from './store.ts';

/**
 * A maintenance window as a tenant's admins see it (the console's tenant
 * pages): when, why and what it touches, not which operator planned, ended or
 * cancelled it. A planned window shows once it is announced to the tenant's
 * contacts (or has begun): before that it is the operators' plan, which may
 * still move without telling anyone.
 */
export interface TenantMaintenanceView {
  readonly id: string;
  /** null: every stage of the tenant. */
  readonly stage: string | null;
  readonly reason: string;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly kind: MaintenanceKind;
  readonly timeZone: string;
  readonly announcedAt: string | null;
  readonly cancelledAt: string | null;
}

export function tenantMaintenanceView(
  windows: readonly MaintenanceWindowView[],
  now: Date,
): TenantMaintenanceView[] {
  return windows
    .filter((w) => w.announcedAt !== null || Date.parse(w.startsAt) <= now.getTime())
    .map((w) => ({
      id: w.id,
      stage: w.stage,
      reason: w.reason,
      startsAt: w.startsAt,
      endsAt: w.endsAt,
      kind: w.kind,
      timeZone: w.timeZone,
      announcedAt: w.announcedAt,
      cancelledAt: w.cancelledAt,
    }));
}
