import { z } from 'zod';
import { maintenanceKinds } from '../../maintenance/plan.ts';
import { muteWindowSchema } from './alerts.ts';
import type { MaintenanceWindowView } from '../../maintenance/store.ts';
import type { TenantMaintenanceView } from '../../maintenance/tenant-view.ts';
import type { ContractMap } from './index.ts';
import type { Conforms, Expect } from './wire.ts';

/** Maintenance windows, planned and emergency (maintenance/store.ts). */
export const maintenanceWindowViewSchema = muteWindowSchema.extend({
  /** Who ended it early (or cancelled it). */
  endedBy: z.string().nullable(),
  kind: z.enum(maintenanceKinds),
  timeZone: z.string(),
  announceDays: z.number(),
  /** When the announcement to the tenant's contacts was enqueued; null: not (yet) announced. */
  announcedAt: z.string().nullable(),
  cancelledAt: z.string().nullable(),
  cancelledBy: z.string().nullable(),
});

/** A window as the tenant's admins see it (maintenance/tenant-view.ts): no operators' names. */
export const tenantMaintenanceViewSchema = z.strictObject({
  id: z.string(),
  stage: z.string().nullable(),
  reason: z.string(),
  startsAt: z.string(),
  endsAt: z.string(),
  kind: z.enum(maintenanceKinds),
  timeZone: z.string(),
  announcedAt: z.string().nullable(),
  cancelledAt: z.string().nullable(),
});

export type MaintenanceContractChecks = [
  Expect<Conforms<MaintenanceWindowView, typeof maintenanceWindowViewSchema>>,
  Expect<Conforms<TenantMaintenanceView, typeof tenantMaintenanceViewSchema>>,
];

export const maintenanceContracts = {
  'GET /api/v1/maintenance-windows': z.strictObject({ windows: z.array(maintenanceWindowViewSchema) }),
  'GET /api/v1/tenants/:tenant/maintenance-windows': z.strictObject({
    windows: z.array(tenantMaintenanceViewSchema),
  }),
  'POST /api/v1/maintenance-windows/plan': maintenanceWindowViewSchema,
  'POST /api/v1/maintenance-windows': maintenanceWindowViewSchema,
  'POST /api/v1/maintenance-windows/:id/end': maintenanceWindowViewSchema,
  'POST /api/v1/maintenance-windows/:id/cancel': maintenanceWindowViewSchema,
} satisfies ContractMap;
