/** Maintenance windows (issue 11 part 4): planned and announced to tenants' contacts; they mute alerts. */
export { MaintenanceService, type AddMaintenanceRequest, type PlanMaintenanceRequest } from './service.ts';
export { listMaintenanceWindows, type MaintenanceWindowView } from './store.ts';
export { maintenanceKinds, type MaintenanceKind } from './plan.ts';
export { tenantMaintenanceView, type TenantMaintenanceView } from './tenant-view.ts';
