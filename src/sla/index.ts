/** SLA accounting (issue 11 parts 1-3): policies, the arithmetic, reports. */
export * from './account.ts';
export { parsePeriod, periodSpan, periodKinds, type Period, type PeriodKind } from './period.ts';
export { parseRecurring, serviceSpans, always, type ServiceTime, type Recurring } from './service-time.ts';
export type { SlaTerms, PolicyVersion } from './terms.ts';
