/** What the alerts, silences, checks and on-call pages APIs return (the fields these pages show). */
export interface AlertRow {
  readonly id: string;
  readonly rule: string | null;
  readonly source: string;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly severity: string;
  readonly status: string;
  readonly summary: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly flapping: boolean;
  readonly mutedBy: string | null;
  readonly startedAt: string;
  readonly firedAt: string | null;
  readonly firstNotifiedAt: string | null;
  readonly acknowledgedAt: string | null;
  readonly acknowledgedBy: string | null;
  readonly resolvedAt: string | null;
  readonly resolvedBy: string | null;
  readonly resolveNote: string | null;
}

export interface SilenceRow {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string | null;
  readonly reason: string;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdBy: string;
  readonly removedAt: string | null;
}

export interface PageRow {
  readonly round: number;
  readonly step: number;
  readonly recipient: string;
  readonly pagedAt: string;
}

export interface CheckRow {
  readonly id: string;
  readonly stage: string | null;
  readonly kind: string;
  readonly origin: 'builtin' | 'operator';
  readonly builtin: string | null;
  readonly target: string;
  readonly intervalSeconds: number;
  readonly state: string;
  readonly since: string;
  readonly lastResult: {
    readonly at: string;
    readonly outcome: string;
    readonly latencyMs: number;
    readonly detail: string;
  } | null;
}

/** Alert states the list filters by; `open` is every state but resolved. */
export const alertStatuses = ['pending', 'firing', 'acknowledged', 'resolved'] as const;
export const alertSeverities = ['critical', 'warning', 'info'] as const;

/** Whether a person can still take (acknowledge) or end (resolve) the alert. */
export const canAcknowledge = (a: Pick<AlertRow, 'status'>): boolean =>
  a.status === 'firing' || a.status === 'pending';
export const canResolve = (a: Pick<AlertRow, 'status'>): boolean => a.status !== 'resolved';
