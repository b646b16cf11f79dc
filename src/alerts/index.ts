/** Alerts (issue 10 part 3): the contract, the service that implements it, the default pager. */
export * from './contract.ts';
export { AlertService, groupKeyOf, type AlertListQuery, type AlertPassResult } from './service.ts';
export { BroadcastPager, alertNotification, alertGroupNotification, describeAlert } from './pager.ts';
export type { SilenceView, MaintenanceWindowView } from './store.ts';
