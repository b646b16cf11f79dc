import type { PeriodKind } from './period.ts';
import type { ServiceTime } from './service-time.ts';

/** The clauses of one SLA policy version, resolved (durations in ms). */
export interface SlaTerms {
  /** Availability promised, in percent: 99.5. */
  readonly target: number;
  /** What the contract measures over; caps on announced maintenance count per such period. */
  readonly period: PeriodKind;
  /** IANA zone of the periods and the service time. */
  readonly timeZone: string;
  readonly serviceTime: ServiceTime;
  /** Outages (after merging) up to this long do not count; 0: the clause is off. */
  readonly excludeOutagesUpToMs: number;
  /** Outages less than this apart are one outage before the clause above applies. */
  readonly mergeGapMs: number;
  /** How much of degraded time counts as downtime: 0 (none) to 1 (all). */
  readonly partialWeight: number;
  /** Announced maintenance is excluded when announced at least this long before it starts; null: the clause is off. */
  readonly maintenanceNoticeMs: number | null;
  /** At most this much announced maintenance per contract period is excluded; null: no cap. */
  readonly maintenanceMaxMs: number | null;
  /** At most this many announced maintenance windows per contract period are excluded; null: no cap. */
  readonly maintenanceMaxCount: number | null;
  /** false (the default): time not monitored is left out of the measured time; true: it counts as down. */
  readonly unknownCountsAsDown: boolean;
}

/** One version of a tenant's policy: it applies from effectiveFrom until the next version's. */
export interface PolicyVersion extends SlaTerms {
  readonly version: number;
  /** Epoch ms. */
  readonly effectiveFrom: number;
}

export const defaultTerms = {
  period: 'calendar-year',
  timeZone: 'UTC',
  excludeOutagesUpToMs: 0,
  mergeGapMs: 5 * 60_000,
  partialWeight: 0.5,
  maintenanceNoticeMs: null,
  maintenanceMaxMs: null,
  maintenanceMaxCount: null,
  unknownCountsAsDown: false,
} as const;
