import type { paths } from '../../../../src/api/client/schema.ts';
import type { ListItem, ResponseBody } from '../../../../src/api/client/typed.ts';

/** What the alerts, silences, checks and on-call pages API returns: the types generated from its contracts. */
export type AlertRow = ResponseBody<paths, '/api/v1/alerts/{id}'>;
export type SilenceRow = ListItem<paths, '/api/v1/silences'>;
export type CheckRow = ListItem<paths, '/api/v1/tenants/{tenant}/checks'>;

/** Alert states the list filters by; `open` is every state but resolved. */
export const alertStatuses = ['pending', 'firing', 'acknowledged', 'resolved'] as const;
export const alertSeverities = ['critical', 'warning', 'info'] as const;

/** Whether a person can still take (acknowledge) or end (resolve) the alert. */
export const canAcknowledge = (a: Pick<AlertRow, 'status'>): boolean =>
  a.status === 'firing' || a.status === 'pending';
export const canResolve = (a: Pick<AlertRow, 'status'>): boolean => a.status !== 'resolved';
