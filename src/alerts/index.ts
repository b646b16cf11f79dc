/** Alerts (issue 10 part 3): the contract, the service that implements it, the default pager. */
export * from './contract.ts';
export { AlertService, type AlertListQuery, type AlertPassResult } from './service.ts';
export { alertSorts, groupKeyOf, type AlertSort } from './store.ts';
export { alertRuleSchema, defaultRules, type AlertRule } from './rules.ts';
export { CheckAlerts, type CheckReader } from './check-alerts.ts';
export { BroadcastPager, alertNotification, alertGroupNotification, describeAlert } from './pager.ts';
export type { SilenceView } from './store.ts';
export { SilenceService, type MuteRequest } from './silences.ts';
