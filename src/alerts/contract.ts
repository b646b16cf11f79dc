/**
 * The alerts contract (issue 10): what checks, the notification outbox, the
 * Alertmanager receiver and the watchdog raise; what on-call pages people
 * for; what self-healing acts on. The alert service (src/alerts/service.ts)
 * implements AlertsApi and owns the alert tables' writes; on-call implements
 * Pager; self-healing implements Healer. Types only: no I/O here.
 */
import type { Principal } from '../core/policy.ts';

export const alertSeverities = ['critical', 'warning', 'info'] as const;
export type AlertSeverity = (typeof alertSeverities)[number];

/**
 * pending: the condition holds but not yet for the rule's duration (healing may act, nobody is told);
 * firing: people are told; acknowledged: a person took it; resolved: over (by its resolve
 * condition, healing, or a person).
 */
export const alertStatuses = ['pending', 'firing', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof alertStatuses)[number];

/** Who raised it. */
export const alertSources = ['check', 'alertmanager', 'watchdog', 'notifications'] as const;
export type AlertSource = (typeof alertSources)[number];

export interface AlertView {
  readonly id: string;
  /** The rule that raised it; null for alerts raised from outside a rule (Alertmanager, watchdog, outbox). */
  readonly rule: string | null;
  readonly source: AlertSource;
  /** Stable identity while open: a second raise with the same key is the same alert. */
  readonly dedupKey: string;
  /** Alerts of one group (per tenant and stage by default) are told together. */
  readonly groupKey: string;
  readonly tenant: string | null;
  readonly stage: string | null;
  readonly severity: AlertSeverity;
  readonly status: AlertStatus;
  readonly summary: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly flapping: boolean;
  /** Why nobody is told: a silence's id, a maintenance window's id, or the inhibiting alert's id. */
  readonly mutedBy: string | null;
  readonly startedAt: string;
  readonly firedAt: string | null;
  /** When the first notification about it was delivered (the outbox's delivery time). */
  readonly firstNotifiedAt: string | null;
  readonly acknowledgedAt: string | null;
  readonly acknowledgedBy: string | null;
  readonly resolvedAt: string | null;
  readonly resolvedBy: string | null;
  readonly resolveNote: string | null;
}

/** A raise from outside a rule (Alertmanager, the watchdog, the outbox). */
export interface RaiseRequest {
  readonly source: Exclude<AlertSource, 'check'>;
  readonly dedupKey: string;
  readonly tenant?: string | null;
  readonly stage?: string | null;
  readonly severity: AlertSeverity;
  readonly summary: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /**
   * While open and told, it mutes (inhibits) the alerts of what it covers:
   * every stage when tenant is null (a down shared cluster, Steward's own
   * database), else the tenant's stages (or the one stage).
   */
  readonly inhibits?: boolean;
}

/** What other modules call on the alert service. */
export interface AlertsApi {
  /** Fires at once (no duration) unless one with this source and key is open; returns the open alert. */
  raise(request: RaiseRequest): Promise<AlertView>;
  /** Its resolve condition holds: resolves the open alert with this source and key, if any. */
  clear(source: AlertSource, dedupKey: string, note: string): Promise<AlertView | undefined>;
  acknowledge(id: string, by: Principal): Promise<AlertView>;
  resolve(id: string, by: Principal, note: string): Promise<AlertView>;
  get(id: string): Promise<AlertView>;
}

/**
 * Tells people. The alert service calls it when an alert starts firing (not
 * muted), when it resolves, and when it is acknowledged. The default pager
 * enqueues to every enabled notification channel; on-call replaces it with
 * schedules and escalation.
 */
export interface Pager {
  fired(alert: AlertView): Promise<void>;
  /**
   * Optional: the alerts of one group (same groupKey) that started firing
   * within alerts.groupWaitSeconds, told in one message. Without it, fired()
   * is called for each.
   */
  firedGroup?(alerts: readonly AlertView[]): Promise<void>;
  acknowledged(alert: AlertView): Promise<void>;
  resolved(alert: AlertView): Promise<void>;
}

/**
 * start-ha-member starts the Patroni of an ha cluster's members that do not
 * answer; reinit-ha-member copies a stuck replica afresh from the leader.
 */
export const healActions = [
  'restart-process',
  'restart-stage',
  'rerun-backup',
  'start-ha-member',
  'reinit-ha-member',
] as const;
export type HealAction = (typeof healActions)[number];

/**
 * Self-healing: called when a rule with a heal action goes pending (and again
 * while it stays pending or firing, so the healer's rate limit and cool-down
 * decide). Records its attempts as evidence linked to the alert.
 */
export interface Healer {
  heal(alert: AlertView, action: HealAction): Promise<void>;
}
