import { InputError } from '../core/errors.ts';
import { intersect, normalize, subtract, total, type Span } from './intervals.ts';
import { periodSpan, type Period } from './period.ts';
import { serviceSpans } from './service-time.ts';
import type { PolicyVersion } from './terms.ts';
import { mergeOutages, timeline, type OutageEvent, type StateInterval, type Timeline } from './timeline.ts';
import { qualifyMaintenance, type MaintenanceWindow } from './maintenance-clause.ts';

export type { StateInterval } from './timeline.ts';
export type { MaintenanceWindow } from './maintenance-clause.ts';
export { formatDuration, qualifyMaintenance } from './maintenance-clause.ts';
export { mergeOutages, timeline } from './timeline.ts';

/**
 * SLA accounting: availability from time, never from counts. Pure: the
 * evidence (state intervals, maintenance, exclusions), the policy versions
 * and "now" in, the figures out.
 *
 * Every instant of the period in service time gets exactly one class, in this
 * order of precedence:
 *   1. announced maintenance that qualifies (notice, caps)   - excluded
 *   2. an operator's exclusion (outside the vendor's control) - excluded
 *   3. the evaluated checks' state at that instant:
 *      down within a short outage (clause "outages up to N")  - excluded
 *      down otherwise                                         - downtime
 *      degraded                                               - partialWeight of it is downtime
 *      unknown (nobody was probing)                           - left out of the measured time,
 *                                                               or downtime with unknownCountsAsDown
 *      up                                                     - up
 * Excluded time leaves the measured time: availability = (measured - counted
 * downtime) / measured, and the budget is measured x (1 - target).
 */

/** A span an operator excluded: a cause outside the vendor's control. */
export interface OperatorExclusion {
  readonly id: string;
  readonly start: number;
  readonly end: number;
  readonly reason: string;
  readonly by: string;
}

export interface AccountInput {
  readonly policies: readonly PolicyVersion[];
  readonly period: Period;
  readonly now: number;
  /** The evaluated checks' intervals; include some before and after the period, so outages across its edges are whole. */
  readonly states: readonly StateInterval[];
  /** From the start of the contract period that holds the report's start (caps count from there). */
  readonly maintenance: readonly MaintenanceWindow[];
  readonly exclusions: readonly OperatorExclusion[];
}

/** Minutes of each class; fractions of a minute are kept to the millisecond (3 decimals). */
export interface Minutes {
  /** In service time (and covered by a policy version). */
  readonly scope: number;
  readonly maintenance: number;
  readonly operatorExcluded: number;
  readonly shortOutages: number;
  readonly unknown: number;
  readonly down: number;
  readonly degraded: number;
  readonly up: number;
  /** scope minus every exclusion (and minus unknown unless it counts as down). */
  readonly measured: number;
  /** down + partialWeight x degraded (+ unknown when it counts as down). */
  readonly countedDowntime: number;
  /** measured x (1 - target); for a period not yet ended, of the whole period (projected measured). */
  readonly budget: number;
}

export interface PartFigures {
  readonly version: number;
  readonly from: string;
  readonly to: string;
  readonly target: number;
  readonly minutes: Minutes;
}

export type OutageClause = 'counted' | 'short-outage';

/** One outage: consecutive down runs less than mergeGap apart, merged. */
export interface Outage {
  readonly version: number;
  readonly start: string;
  readonly end: string;
  /** From the first down to the last, gaps included: what the short-outage clause compares. */
  readonly spanMinutes: number;
  /** Down time in the whole outage, also outside the period. */
  readonly downMinutes: number;
  /** Still down at `now`: never treated as short until it has ended. */
  readonly ongoing: boolean;
  readonly clause: OutageClause;
  /** Of its down time inside the period: where each minute went. */
  readonly inPeriod: {
    readonly outsideServiceTime: number;
    readonly maintenance: number;
    readonly operatorExcluded: number;
    readonly shortOutage: number;
    readonly counted: number;
  };
  /** The check_states rows (ids) that make it up: the evidence. */
  readonly stateIds: readonly string[];
}

export interface MaintenanceVerdict {
  readonly id: string;
  readonly version: number;
  readonly start: string;
  readonly end: string;
  readonly reason: string;
  readonly announcedAt: string | null;
  /** excluded: all of it; partly: up to the cap; counted: not excluded (why says why). */
  readonly verdict: 'excluded' | 'partly' | 'counted';
  readonly why: string;
  /** Minutes excluded from this period's service time. */
  readonly excludedMinutes: number;
}

export interface ExclusionVerdict {
  readonly id: string;
  readonly start: string;
  readonly end: string;
  readonly reason: string;
  readonly by: string;
  /** Minutes of service time in this period it excluded. */
  readonly excludedMinutes: number;
}

export type SlaStatus = 'met' | 'missed' | 'on-track' | 'at-risk' | 'not-measured';

export interface SlaFigures {
  readonly period: string;
  readonly timeZone: string;
  readonly from: string;
  readonly to: string;
  /** The end of what was measured: the period's end, or now. */
  readonly asOf: string;
  readonly closed: boolean;
  readonly parts: readonly PartFigures[];
  readonly minutes: Minutes;
  /** (measured - counted) / measured, in percent, 4 decimals; null when nothing was measured. */
  readonly availability: number | null;
  /** The target over the whole period: each version's target weighted by its measured time. */
  readonly target: number;
  /** met/missed for a closed period; on-track/at-risk (or missed: budget spent) for one not yet ended. */
  readonly status: SlaStatus;
  readonly budgetLeftMinutes: number;
  /** For a period not yet ended: the whole period, if nothing is down from now on. */
  readonly projected: { readonly measured: number; readonly availability: number | null } | null;
  readonly outages: readonly Outage[];
  readonly maintenance: readonly MaintenanceVerdict[];
  readonly exclusions: readonly ExclusionVerdict[];
  /** Minutes of the period before the first policy version took effect: not accounted. */
  readonly uncoveredMinutes: number;
}

/** ms to minutes, kept to the millisecond. */
export function minutes(ms: number): number {
  return Math.round(ms / 60) / 1000;
}

const iso = (ms: number): string => new Date(ms).toISOString();

interface PartResult {
  readonly figures: PartFigures;
  readonly ms: MsFigures;
  /** Measured time of the whole part: to date, plus the service time still to come less announced maintenance. */
  readonly projectedMs: number;
  readonly outages: Outage[];
  readonly maintenance: MaintenanceVerdict[];
  readonly exclusions: { id: string; ms: number }[];
}

interface MsFigures {
  scope: number;
  maintenance: number;
  operatorExcluded: number;
  shortOutages: number;
  unknown: number;
  down: number;
  degraded: number;
  up: number;
  measured: number;
  countedDowntime: number;
  budget: number;
}

function toMinutes(ms: MsFigures): Minutes {
  return {
    scope: minutes(ms.scope),
    maintenance: minutes(ms.maintenance),
    operatorExcluded: minutes(ms.operatorExcluded),
    shortOutages: minutes(ms.shortOutages),
    unknown: minutes(ms.unknown),
    down: minutes(ms.down),
    degraded: minutes(ms.degraded),
    up: minutes(ms.up),
    measured: minutes(ms.measured),
    countedDowntime: minutes(ms.countedDowntime),
    budget: minutes(ms.budget),
  };
}

function accountPart(
  terms: PolicyVersion,
  part: Span,
  measuredTo: number,
  input: AccountInput,
  line: Timeline,
  exclusionSpans: readonly { id: string; span: Span }[],
): PartResult {
  const toDate: Span = { start: part.start, end: Math.min(part.end, measuredTo) };
  const scope = toDate.end > toDate.start ? serviceSpans(terms.serviceTime, toDate, terms.timeZone) : [];
  const qualified = qualifyMaintenance(input.maintenance, terms);
  const maintenanceSet = normalize(qualified.flatMap((q) => (q.excluded ? [q.excluded] : [])));
  const maint = intersect(scope, maintenanceSet);
  const rest1 = subtract(scope, maint);
  const operatorSet = normalize(exclusionSpans.map((e) => e.span));
  const oper = intersect(rest1, operatorSet);
  const rest2 = subtract(rest1, oper);

  const events = mergeOutages(line.downRuns, terms.mergeGapMs, input.now);
  const isShort = (e: OutageEvent): boolean =>
    terms.excludeOutagesUpToMs > 0 && !e.ongoing && e.span.end - e.span.start <= terms.excludeOutagesUpToMs;
  const shortSet = normalize(events.filter(isShort).map((e) => e.span));
  const down = intersect(line.down, rest2);
  const shortDown = intersect(down, shortSet);
  const countedDown = subtract(down, shortSet);
  const degraded = intersect(line.degraded, rest2);
  const unknown = intersect(line.unknown, rest2);
  const up = subtract(subtract(subtract(rest2, line.down), line.degraded), line.unknown);

  const ms: MsFigures = {
    scope: total(scope),
    maintenance: total(maint),
    operatorExcluded: total(oper),
    shortOutages: total(shortDown),
    unknown: total(unknown),
    down: total(countedDown),
    degraded: total(degraded),
    up: total(up),
    measured: 0,
    countedDowntime: 0,
    budget: 0,
  };
  ms.measured = total(rest2) - ms.shortOutages - (terms.unknownCountsAsDown ? 0 : ms.unknown);
  ms.countedDowntime =
    ms.down + terms.partialWeight * ms.degraded + (terms.unknownCountsAsDown ? ms.unknown : 0);
  // The budget is of the whole part: the service time still to come, less the maintenance already announced for it.
  let projected = ms.measured;
  if (part.end > toDate.end) {
    const future: Span = { start: Math.max(toDate.end, part.start), end: part.end };
    const futureScope = serviceSpans(terms.serviceTime, future, terms.timeZone);
    projected += total(subtract(futureScope, maintenanceSet));
  }
  ms.budget = projected * (1 - terms.target / 100);

  const periodDown = (e: OutageEvent): Span[] => intersect(intersect(line.down, [e.span]), [toDate]);
  const outages: Outage[] = events
    .filter((e) => e.span.end > toDate.start && e.span.start < toDate.end)
    .map((e) => {
      const inPeriod = periodDown(e);
      const inMaint = intersect(inPeriod, maint);
      const inOper = intersect(inPeriod, oper);
      const inRest = intersect(inPeriod, rest2);
      const short = isShort(e);
      return {
        version: terms.version,
        start: iso(e.span.start),
        end: iso(e.span.end),
        spanMinutes: minutes(e.span.end - e.span.start),
        downMinutes: minutes(e.down),
        ongoing: e.ongoing,
        clause: short ? 'short-outage' : 'counted',
        inPeriod: {
          outsideServiceTime: minutes(total(subtract(inPeriod, scope))),
          maintenance: minutes(total(inMaint)),
          operatorExcluded: minutes(total(inOper)),
          shortOutage: short ? minutes(total(inRest)) : 0,
          counted: short ? 0 : minutes(total(inRest)),
        },
        stateIds: e.ids,
      };
    });
  const maintenance: MaintenanceVerdict[] = qualified
    .filter((q) => q.window.end > part.start && q.window.start < part.end)
    .map((q) => ({
      id: q.window.id,
      version: terms.version,
      start: iso(q.window.start),
      end: iso(q.window.end),
      reason: q.window.reason,
      announcedAt: q.window.announcedAt === null ? null : iso(q.window.announcedAt),
      verdict: q.verdict,
      why: q.why,
      excludedMinutes: minutes(total(intersect(maint, q.excluded ? [q.excluded] : []))),
    }));
  const exclusions = exclusionSpans.map((e) => ({ id: e.id, ms: total(intersect(oper, [e.span])) }));
  return {
    figures: {
      version: terms.version,
      from: iso(part.start),
      to: iso(part.end),
      target: terms.target,
      minutes: toMinutes(ms),
    },
    ms,
    projectedMs: projected,
    outages,
    maintenance,
    exclusions,
  };
}

/** The policy version that applies at an instant (the latest that took effect by then), if any. */
export function versionAt<P extends PolicyVersion>(policies: readonly P[], instant: number): P | undefined {
  let found: P | undefined;
  for (const p of [...policies].sort((a, b) => a.effectiveFrom - b.effectiveFrom))
    if (p.effectiveFrom <= instant) found = p;
  return found;
}

/** The report's arithmetic: one period, every policy version applied to its own part. */
export function account(input: AccountInput): SlaFigures {
  const policies = [...input.policies].sort((a, b) => a.effectiveFrom - b.effectiveFrom);
  const first = policies[0];
  if (!first)
    throw new InputError('the tenant has no SLA policy; "steward sla policy set" sets one', {
      field: 'policy',
    });
  // The period's edges are local midnights in the zone of the version in force at its start (or the first one).
  const zoneGuess = periodSpan(input.period, first.timeZone);
  const timeZone = (versionAt(policies, zoneGuess.start) ?? first).timeZone;
  const span = periodSpan(input.period, timeZone);
  if (input.now <= span.start) {
    throw new InputError(`field "period": ${input.period.name} has not started yet`, { field: 'period' });
  }
  const measuredTo = Math.min(span.end, input.now);
  const closed = input.now >= span.end;
  const line = timeline(input.states, { start: span.start, end: measuredTo }, input.now);
  const exclusionSpans = input.exclusions.map((e) => ({ id: e.id, span: { start: e.start, end: e.end } }));

  const parts: PartResult[] = [];
  for (let i = 0; i < policies.length; i++) {
    const p = policies[i] as PolicyVersion;
    const nextFrom = policies[i + 1]?.effectiveFrom ?? Number.POSITIVE_INFINITY;
    const part = { start: Math.max(p.effectiveFrom, span.start), end: Math.min(nextFrom, span.end) };
    if (part.end <= part.start) continue;
    parts.push(accountPart(p, part, measuredTo, input, line, exclusionSpans));
  }
  const coveredFrom = parts.length > 0 ? Date.parse(parts[0]?.figures.from ?? '') : span.end;

  const sum: MsFigures = {
    scope: 0,
    maintenance: 0,
    operatorExcluded: 0,
    shortOutages: 0,
    unknown: 0,
    down: 0,
    degraded: 0,
    up: 0,
    measured: 0,
    countedDowntime: 0,
    budget: 0,
  };
  let projectedMeasured = 0;
  for (const part of parts) {
    for (const key of Object.keys(sum) as (keyof MsFigures)[]) sum[key] += part.ms[key];
    projectedMeasured += part.projectedMs;
  }
  const availability =
    sum.measured > 0 ? round4(((sum.measured - sum.countedDowntime) / sum.measured) * 100) : null;
  const target =
    projectedMeasured > 0
      ? round4((1 - sum.budget / projectedMeasured) * 100)
      : (parts.at(-1)?.figures.target ?? first.target);
  const spent = sum.countedDowntime > sum.budget;
  const status: SlaStatus =
    sum.measured === 0
      ? 'not-measured'
      : spent
        ? 'missed'
        : closed
          ? 'met'
          : sum.countedDowntime <= (sum.measured * (100 - target)) / 100
            ? 'on-track'
            : 'at-risk';
  const exclusionMs = new Map<string, number>();
  for (const part of parts)
    for (const e of part.exclusions) exclusionMs.set(e.id, (exclusionMs.get(e.id) ?? 0) + e.ms);
  return {
    period: input.period.name,
    timeZone,
    from: iso(span.start),
    to: iso(span.end),
    asOf: iso(measuredTo),
    closed,
    parts: parts.map((p) => p.figures),
    minutes: toMinutes(sum),
    availability,
    target,
    status,
    budgetLeftMinutes: minutes(sum.budget - sum.countedDowntime),
    projected: closed
      ? null
      : {
          measured: minutes(projectedMeasured),
          availability:
            projectedMeasured > 0
              ? round4(((projectedMeasured - sum.countedDowntime) / projectedMeasured) * 100)
              : null,
        },
    outages: parts.flatMap((p) => p.outages),
    maintenance: parts.flatMap((p) => p.maintenance),
    exclusions: input.exclusions
      .filter((e) => e.end > span.start && e.start < span.end)
      .map((e) => ({
        id: e.id,
        start: iso(e.start),
        end: iso(e.end),
        reason: e.reason,
        by: e.by,
        excludedMinutes: minutes(exclusionMs.get(e.id) ?? 0),
      })),
    uncoveredMinutes: minutes(Math.max(0, Math.min(coveredFrom, measuredTo) - span.start)),
  };
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
