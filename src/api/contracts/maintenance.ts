import { z } from 'zod';
import { maintenanceKinds } from '../../maintenance/plan.ts';
import { muteWindowSchema } from './alerts.ts';
import type { MaintenanceWindowView } from '../../maintenance/store.ts';
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

export type MaintenanceContractChecks = [
  Expect<Conforms<MaintenanceWindowView, typeof maintenanceWindowViewSchema>>,
];

export const maintenanceContracts = {
  'GET /api/v1/maintenance-windows': z.strictObject({ windows: z.array(maintenanceWindowViewSchema) }),
  'POST /api/v1/maintenance-windows/plan': maintenanceWindowViewSchema,
  'POST /api/v1/maintenance-windows': maintenanceWindowViewSchema,
  'POST /api/v1/maintenance-windows/:id/end': maintenanceWindowViewSchema,
  'POST /api/v1/maintenance-windows/:id/cancel': maintenanceWindowViewSchema,
} satisfies ContractMap;
