/** What the SLA API returns (the fields this page shows). */
export interface SlaFigures {
  readonly period: string;
  readonly timeZone: string;
  readonly from: string;
  readonly to: string;
  readonly asOf: string;
  readonly closed: boolean;
  readonly availability: number | null;
  readonly target: number;
  readonly status: string;
  readonly budgetLeftMinutes: number;
  readonly projected: { readonly measured: number; readonly availability: number | null } | null;
  readonly minutes: { readonly measured: number; readonly countedDowntime: number };
}

export interface OutageRow {
  readonly start: string;
  readonly end: string;
  readonly downMinutes: number;
  readonly ongoing: boolean;
  readonly clause: string;
  readonly inPeriod: {
    readonly counted: number;
    readonly maintenance: number;
    readonly outsideServiceTime: number;
  };
}

export interface SlaReport {
  readonly tenant: string;
  readonly period: string;
  readonly generatedAt: string;
  readonly figures: SlaFigures;
  readonly outages: readonly OutageRow[];
  readonly inputsSha256: string;
  readonly frozen: {
    readonly frozenAt: string;
    readonly frozenBy: string;
    readonly inputsSha256: string;
    readonly evidenceChanged: boolean;
    readonly recomputed: SlaFigures | null;
  } | null;
  readonly freezesAt: string | null;
}

export interface PolicyVersion {
  readonly version: number;
  readonly effectiveFrom: string;
  readonly target: number;
  readonly period: string;
  readonly timeZone: string;
  readonly serviceTime: string;
}

export interface SlaPolicy {
  readonly tenant: string;
  readonly current: PolicyVersion | null;
  readonly versions: readonly PolicyVersion[];
}

export interface Exclusion {
  readonly id: string;
  readonly from: string;
  readonly until: string;
  readonly reason: string;
  readonly by: string;
}

/** The report's address: the same GET for JSON, HTML and PDF (a tenant admin's cookie works too). */
export function reportUrl(tenant: string, period: string, format: 'json' | 'html' | 'pdf'): string {
  return `/api/v1/tenants/${encodeURIComponent(tenant)}/sla/reports/${encodeURIComponent(period)}?format=${format}`;
}
