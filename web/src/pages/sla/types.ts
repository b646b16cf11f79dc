import type { paths } from '../../../../src/api/client/schema.ts';
import type { ResponseBody } from '../../../../src/api/client/typed.ts';

/** What the SLA API returns: the types generated from its contracts (src/api/contracts/sla.ts). */
export type SlaReport = ResponseBody<paths, '/api/v1/tenants/{tenant}/sla/reports/{period}'>;
export type SlaFigures = SlaReport['figures'];
export type OutageRow = SlaReport['outages'][number];
export type SlaPolicy = ResponseBody<paths, '/api/v1/tenants/{tenant}/sla/policy'>;
export type PolicyVersion = SlaPolicy['versions'][number];
export type Exclusion = ResponseBody<paths, '/api/v1/tenants/{tenant}/sla/exclusions'>['exclusions'][number];

/** The report's address: the same GET for JSON, HTML and PDF (a tenant admin's cookie works too). */
export function reportUrl(tenant: string, period: string, format: 'json' | 'html' | 'pdf'): string {
  return `/api/v1/tenants/${encodeURIComponent(tenant)}/sla/reports/${encodeURIComponent(period)}?format=${format}`;
}
