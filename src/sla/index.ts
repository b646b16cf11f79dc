/** SLA accounting (issue 11 parts 1-3): policies, the arithmetic, reports. */
export * from './account.ts';
export { parsePeriod, periodSpan, periodKinds, type Period, type PeriodKind } from './period.ts';
export { parseRecurring, serviceSpans, always, type ServiceTime, type Recurring } from './service-time.ts';
export type { SlaTerms, PolicyVersion } from './terms.ts';
export { SlaService, excludeSchema, inputsDigest, type SlaReport, type OutageEvidence } from './service.ts';
export { SlaStore } from './store.ts';
export { SlaEvidence } from './evidence.ts';
export { setPolicySchema, type PolicyView, type SetPolicyInput } from './policy.ts';
export { renderReportHtml } from './render-html.ts';
export { htmlToPdf, chromiumPath } from './pdf.ts';
