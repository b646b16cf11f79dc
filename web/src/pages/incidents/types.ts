/** What the incidents API returns (the fields these pages show). */
export interface Deadline {
  readonly party: 'customers' | 'authority';
  readonly due: string;
  readonly state: 'open' | 'missed' | 'notified' | 'notified-late';
  readonly notifiedAt: string | null;
  readonly notifiedWho: string | null;
}

export interface Postmortem {
  readonly cause: string;
  readonly impact: { readonly slaMinutes: number; readonly summary: string };
  readonly actions: readonly { readonly what: string; readonly owner: string; readonly due: string }[];
  readonly checks: readonly { readonly what: string; readonly why?: string }[];
}

export interface IncidentRow {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string | null;
  readonly severity: number;
  readonly severityName: string;
  readonly title: string;
  readonly status: string;
  readonly owner: string | null;
  readonly security: boolean;
  readonly openedBy: string;
  readonly openedAt: string;
  readonly resolvedAt: string | null;
  readonly closedAt: string | null;
  readonly closedBy: string | null;
  readonly postmortem: Postmortem | null;
  readonly postmortemAt: string | null;
  readonly postmortemBy: string | null;
  readonly postmortemRequired: boolean;
  readonly breachConfirmedAt: string | null;
  readonly deadlines: readonly Deadline[];
  readonly alerts: readonly { readonly id: string; readonly checkId: string | null }[];
}

export interface TimelineEntry {
  readonly at: string;
  readonly source: string;
  readonly kind: string;
  readonly text: string;
  readonly by: string | null;
  readonly public: boolean;
  readonly ref: string;
}

export interface IncidentDetail extends IncidentRow {
  readonly timeline: readonly TimelineEntry[];
}

export interface SeverityRule {
  readonly level: number;
  readonly name: string;
}

export const incidentStatuses = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export const severityLevels = [1, 2, 3, 4] as const;

/** An incident's shown state: closed once closed, else its status. */
export const stateOf = (i: Pick<IncidentRow, 'status' | 'closedAt'>): string =>
  i.closedAt ? 'closed' : i.status;
