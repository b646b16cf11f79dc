import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AuditService } from '../audit/service.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, InputError, NotFoundError, showValue } from '../core/errors.ts';
import { actorName, type Principal } from '../core/policy.ts';
import { parseInput } from '../core/validation.ts';
import type { TenantService } from '../tenants/service.ts';
import { account, versionAt, type Outage, type SlaFigures } from './account.ts';
import type {
  AlertEvidence,
  EvaluatedCheck,
  IncidentEvidence,
  SlaEvidence,
  StoredState,
} from './evidence.ts';
import type { Span } from './intervals.ts';
import { parsePeriod, periodAt, periodSpan, type Period } from './period.ts';
import { describeServiceTime, resolvePolicy, setPolicySchema, type PolicyView } from './policy.ts';
import type { FrozenReport, SlaStore, StoredPolicy } from './store.ts';
import { localToInstant } from './zone.ts';

/** Intervals this far on each side of the period are read, so that outages across its edges are whole. */
export const lookaroundMs = 86_400_000;

/** The body of POST /api/v1/tenants/:tenant/sla/exclusions. */
export const excludeSchema = z
  .object({
    /** ISO 8601, or "YYYY-MM-DD HH:MM" in the policy's time zone. */
    from: z.string().min(1).max(40),
    until: z.string().min(1).max(40),
    reason: z.string().trim().min(1).max(500),
  })
  .strict();

export interface OutageEvidence extends Outage {
  readonly evidence: {
    /** The intervals of the outage with the probe results that changed the state (check_states.cause). */
    readonly states: readonly {
      id: string;
      checkId: string;
      state: string;
      start: string;
      end: string;
      cause: unknown;
    }[];
    readonly alerts: readonly AlertEvidence[];
    /** Incidents linked to those alerts, or opened on the evaluated stage during the outage. */
    readonly incidents: readonly IncidentEvidence[];
    readonly healing: readonly Record<string, unknown>[];
    readonly maintenance: readonly string[];
    readonly exclusions: readonly string[];
  };
}

export interface SlaReport {
  readonly tenant: string;
  readonly period: string;
  readonly generatedAt: string;
  readonly checks: readonly EvaluatedCheck[];
  readonly policies: readonly PolicyView[];
  /** How time nobody probed was treated, in words. */
  readonly unknownTreatment: string;
  /** The figures of the report: the frozen ones for a frozen period. */
  readonly figures: SlaFigures;
  readonly outages: readonly OutageEvidence[];
  /** SHA-256 of the canonical inputs as they are now. */
  readonly inputsSha256: string;
  readonly frozen: {
    readonly frozenAt: string;
    readonly frozenBy: string;
    readonly inputsSha256: string;
    /** The inputs today hash differently: the evidence changed since the period was frozen. */
    readonly evidenceChanged: boolean;
    /** With evidenceChanged: what the records say now. */
    readonly recomputed: SlaFigures | null;
  } | null;
  /** A closed period not yet frozen: when the next report freezes it. */
  readonly freezesAt: string | null;
}

export interface SlaServiceOptions {
  readonly store: SlaStore;
  readonly evidence: SlaEvidence;
  readonly tenants: TenantService;
  readonly audit: AuditService;
  readonly clock: Clock;
}

function view(p: StoredPolicy): PolicyView {
  return {
    version: p.version,
    effectiveFrom: new Date(p.effectiveFrom).toISOString(),
    target: p.target,
    period: p.period,
    timeZone: p.timeZone,
    serviceTime: describeServiceTime(p.serviceTime),
    excludeOutagesUpToMinutes: p.excludeOutagesUpToMs / 60_000,
    mergeGapMinutes: p.mergeGapMs / 60_000,
    partialWeight: p.partialWeight,
    maintenanceNoticeHours: p.maintenanceNoticeMs === null ? null : p.maintenanceNoticeMs / 3_600_000,
    maintenanceMaxHours: p.maintenanceMaxMs === null ? null : p.maintenanceMaxMs / 3_600_000,
    maintenanceMaxCount: p.maintenanceMaxCount,
    unknownCountsAsDown: p.unknownCountsAsDown,
    checks: p.checkIds,
    createdBy: p.createdBy,
  };
}

/** SHA-256 over the canonical JSON of everything the figures are computed from. */
export function inputsDigest(inputs: unknown): string {
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex');
}

/** Policies, exclusions and reports of tenants' SLAs. */
export class SlaService {
  readonly #o: SlaServiceOptions;

  constructor(options: SlaServiceOptions) {
    this.#o = options;
  }

  async setPolicy(tenant: string, body: unknown, actor: Principal): Promise<PolicyView> {
    const resolved = resolvePolicy(parseInput(setPolicySchema, body));
    await this.#o.tenants.show(tenant);
    const existing = await this.#o.store.policies(tenant);
    const now = this.#o.clock.now();
    const effectiveFrom = resolved.effectiveFrom ?? now;
    const latest = existing.at(-1);
    if (latest && effectiveFrom.getTime() <= latest.effectiveFrom) {
      throw new ConflictError(
        `field "effectiveFrom": ${showValue(effectiveFrom.toISOString())} is not after version ${latest.version}'s ${new Date(latest.effectiveFrom).toISOString()}; a policy version is never rewritten, give a later time`,
        { field: 'effectiveFrom' },
      );
    }
    if (resolved.checkIds !== null) {
      const found = await this.#o.evidence.checks(tenant, resolved.checkIds);
      const missing = resolved.checkIds.filter((id) => !found.some((c) => c.id === id));
      if (missing.length > 0) {
        throw new InputError(
          `field "checks": ${showValue(missing.join(','))} is not a check of tenant ${tenant}; "steward check list ${tenant}" lists them`,
          { field: 'checks' },
        );
      }
    }
    const policy = {
      ...resolved.terms,
      effectiveFrom: effectiveFrom.getTime(),
      checkIds: resolved.checkIds,
      createdBy: actorName(actor),
    };
    const version = await this.#o.store.addPolicy(tenant, policy, (tx, v) =>
      this.#o.audit.record(tx, {
        actor: actorName(actor),
        address: actor.address,
        action: 'sla.policy.set',
        target: `tenant/${tenant}/sla/policy/${v}`,
        details: { ...view({ ...policy, version: v }) },
      }),
    );
    return view({ ...policy, version });
  }

  async showPolicy(
    tenant: string,
  ): Promise<{ tenant: string; current: PolicyView | null; versions: PolicyView[] }> {
    await this.#o.tenants.show(tenant);
    const versions = await this.#o.store.policies(tenant);
    const current = versionAt(versions, this.#o.clock.now().getTime());
    return { tenant, current: current ? view(current) : null, versions: versions.map(view) };
  }

  async exclude(
    tenant: string,
    body: unknown,
    actor: Principal,
  ): Promise<{ id: string; from: string; until: string; reason: string; by: string }> {
    const input = parseInput(excludeSchema, body);
    await this.#o.tenants.show(tenant);
    const policies = await this.#o.store.policies(tenant);
    const zone = (versionAt(policies, this.#o.clock.now().getTime()) ?? policies.at(-1))?.timeZone ?? 'UTC';
    const from = parseInstant(input.from, 'from', zone);
    const until = parseInstant(input.until, 'until', zone);
    if (until <= from) {
      throw new InputError(
        `field "until": ${showValue(input.until)} is not after from (${showValue(input.from)})`,
        {
          field: 'until',
        },
      );
    }
    const by = actorName(actor);
    const id = await this.#o.store.addExclusion(
      tenant,
      { start: from, end: until, reason: input.reason, by },
      (tx, excl) =>
        this.#o.audit.record(tx, {
          actor: by,
          address: actor.address,
          action: 'sla.exclude',
          target: `tenant/${tenant}/sla/exclusion/${excl}`,
          details: { from: from.toISOString(), until: until.toISOString(), reason: input.reason },
        }),
    );
    return { id, from: from.toISOString(), until: until.toISOString(), reason: input.reason, by };
  }

  async exclusions(
    tenant: string,
  ): Promise<{ id: string; from: string; until: string; reason: string; by: string }[]> {
    await this.#o.tenants.show(tenant);
    return (await this.#o.store.exclusions(tenant)).map((e) => ({
      id: e.id,
      from: new Date(e.start).toISOString(),
      until: new Date(e.end).toISOString(),
      reason: e.reason,
      by: e.by,
    }));
  }

  /**
   * A period's report. A closed period is frozen by the first report a day
   * after it ended (when the intervals around its end are settled); later
   * reports show the frozen figures and recompute the hash of the inputs.
   */
  async report(tenant: string, periodText: string, actor: Principal): Promise<SlaReport> {
    const e = await this.#evaluate(tenant, periodText);
    let frozen = await this.#o.store.frozen(tenant, e.period.name);
    if (!frozen && e.now >= e.freezeFrom) frozen = await this.#freeze(e, actor, 'automatic');
    return present(e, frozen);
  }

  /**
   * Freezes a closed period's report now, before the automatic freeze a day
   * after its end: once the operator has reviewed its exclusions, the figures
   * the customer gets are fixed. Refuses an open period, and one with an
   * outage still going on (whether the short-outage clause applies depends on
   * when it ends). An already frozen report is answered as it is.
   */
  async freeze(tenant: string, periodText: string, actor: Principal): Promise<SlaReport> {
    const e = await this.#evaluate(tenant, periodText);
    const stored = await this.#o.store.frozen(tenant, e.period.name);
    if (stored) return present(e, stored);
    if (e.now < e.span.end) {
      throw new ConflictError(
        `field "period": ${e.period.name} is still open: it closes at ${new Date(e.span.end).toISOString()} (midnight in ${e.zone}); a report can be frozen once its period has closed`,
        { field: 'period' },
      );
    }
    const ongoing = e.figures.outages.find((o) => o.ongoing);
    if (ongoing) {
      throw new ConflictError(
        `field "period": the outage of ${tenant} since ${ongoing.start} is still going on, and its length decides whether the short-outage clause applies; freeze ${e.period.name} after it ends, or let the report freeze it from ${new Date(e.freezeFrom).toISOString()}`,
        { field: 'period' },
      );
    }
    return present(e, await this.#freeze(e, actor, 'explicit'));
  }

  #freeze(e: Evaluation, actor: Principal, how: 'automatic' | 'explicit'): Promise<FrozenReport> {
    const by = actorName(actor);
    const digest = e.digestUntil(e.now);
    return this.#o.store.freeze(
      e.tenant,
      {
        period: e.period.name,
        start: new Date(e.span.start),
        end: new Date(e.span.end),
        policyVersions: e.policies.map((p) => p.version),
        figures: e.figures,
        inputsSha256: digest,
        frozenAt: new Date(e.now).toISOString(),
        frozenBy: by,
      },
      (tx) =>
        this.#o.audit.record(tx, {
          actor: by,
          address: actor.address,
          action: 'sla.report.freeze',
          target: `tenant/${e.tenant}/sla/report/${e.period.name}`,
          details: {
            inputsSha256: digest,
            availability: e.figures.availability,
            status: e.figures.status,
            how,
          },
        }),
    );
  }

  /** Reads the evidence of a period and computes its figures as the records say now. */
  async #evaluate(tenant: string, periodText: string): Promise<Evaluation> {
    const period = parsePeriod(periodText);
    await this.#o.tenants.show(tenant);
    const policies = await this.#o.store.policies(tenant);
    const first = policies[0];
    if (!first) {
      throw new NotFoundError(
        `tenant ${tenant} has no SLA policy; "steward sla policy set ${tenant} --target …" sets one`,
        {
          field: 'tenant',
        },
      );
    }
    const now = this.#o.clock.now().getTime();
    const zone = (versionAt(policies, periodSpan(period, first.timeZone).start) ?? first).timeZone;
    const span = periodSpan(period, zone);
    if (now <= span.start) {
      throw new InputError(`field "period": ${showValue(periodText)} has not started yet`, {
        field: 'period',
      });
    }
    const inPeriod = policies.filter(
      (p, i) => p.effectiveFrom < span.end && (policies[i + 1]?.effectiveFrom ?? Infinity) > span.start,
    );
    if (inPeriod.length === 0) {
      throw new InputError(
        `field "period": no version of ${tenant}'s SLA policy applies in ${period.name}; the first takes effect ${new Date(first.effectiveFrom).toISOString()}`,
        { field: 'period' },
      );
    }
    const checkIds = (versionAt(policies, span.end - 1) ?? first).checkIds;
    const checks = await this.#o.evidence.checks(tenant, checkIds);
    const ids = checks.map((c) => c.id);
    const windowStart = span.start - lookaroundMs;
    const windowEnd = Math.min(now, span.end + lookaroundMs);
    const contractStart = Math.min(
      ...inPeriod.map(
        (p) =>
          periodSpan(periodAt(p.period, Math.max(span.start, p.effectiveFrom), p.timeZone), p.timeZone).start,
      ),
    );
    const [states, maintenance, exclusions, alerts, healing] = await Promise.all([
      this.#o.evidence.states(ids, windowStart, windowEnd),
      this.#o.evidence.maintenance(
        tenant,
        [...new Set(checks.map((c) => c.stage ?? ''))],
        Math.min(contractStart, span.start),
        span.end,
      ),
      this.#o.store.exclusions(tenant, new Date(span.start), new Date(span.end)),
      this.#o.evidence.alerts(ids, windowStart, windowEnd),
      this.#o.evidence.healAttempts(tenant, windowStart, windowEnd),
    ]);
    const incidents = await this.#o.evidence.incidents(
      tenant,
      windowStart,
      windowEnd,
      alerts.map((a) => a.id),
    );
    const figures = account({ policies: inPeriod, period, now, states, maintenance, exclusions });
    // Everything the figures depend on, in one canonical form: a change to any of it changes the hash.
    // The intervals are read as they were up to an instant (the freeze's): evidence that came later
    // is not a change of what was frozen.
    const digestUntil = (instant: number): string => {
      const until = Math.min(instant, windowEnd);
      return inputsDigest({
        tenant,
        period: period.name,
        policies: inPeriod.map(view),
        checks: ids,
        states: states
          .filter((s) => s.start < until)
          .map((s) => ({ ...s, end: s.end === null ? null : Math.min(s.end, until) })),
        maintenance,
        exclusions,
      });
    };
    return {
      tenant,
      period,
      zone,
      span,
      now,
      freezeFrom: span.end + lookaroundMs,
      policies: inPeriod,
      checks,
      figures,
      found: { states, alerts, incidents, healing, stages: checks.map((c) => c.stage) },
      digestUntil,
    };
  }
}

/** A period's evidence and figures as read now. */
interface Evaluation {
  readonly tenant: string;
  readonly period: Period;
  readonly zone: string;
  readonly span: Span;
  readonly now: number;
  /** From this instant the first report freezes the period (its intervals are settled). */
  readonly freezeFrom: number;
  readonly policies: readonly StoredPolicy[];
  readonly checks: readonly EvaluatedCheck[];
  readonly figures: SlaFigures;
  readonly found: Found;
  /** The hash of the inputs with the intervals as they were up to an instant. */
  readonly digestUntil: (instant: number) => string;
}

function present(e: Evaluation, frozen: FrozenReport | undefined): SlaReport {
  // A frozen report is compared with the intervals as far as they were known when it was frozen.
  const digest = e.digestUntil(frozen ? Date.parse(frozen.frozenAt) : e.now);
  const changed = frozen !== undefined && frozen.inputsSha256 !== digest;
  const shown = frozen ? (frozen.figures as SlaFigures) : e.figures;
  return {
    tenant: e.tenant,
    period: e.period.name,
    generatedAt: new Date(e.now).toISOString(),
    checks: e.checks,
    policies: e.policies.map(view),
    unknownTreatment: e.policies.some((p) => p.unknownCountsAsDown)
      ? 'time nobody probed counts as downtime (unknownCountsAsDown)'
      : 'time nobody probed is shown apart and left out of the measured time: never counted as up',
    figures: shown,
    outages: shown.outages.map((o) => withEvidence(o, e.found, shown)),
    inputsSha256: digest,
    frozen: frozen
      ? {
          frozenAt: frozen.frozenAt,
          frozenBy: frozen.frozenBy,
          inputsSha256: frozen.inputsSha256,
          evidenceChanged: changed,
          recomputed: changed ? e.figures : null,
        }
      : null,
    freezesAt: !frozen && e.figures.closed ? new Date(e.freezeFrom).toISOString() : null,
  };
}

interface Found {
  readonly states: readonly StoredState[];
  readonly alerts: readonly AlertEvidence[];
  readonly incidents: readonly IncidentEvidence[];
  readonly healing: readonly Record<string, unknown>[];
  readonly stages: readonly (string | null)[];
}

function withEvidence(o: Outage, found: Found, figures: SlaFigures): OutageEvidence {
  const { states, alerts, incidents, healing } = found;
  const start = Date.parse(o.start);
  const end = Date.parse(o.end);
  const overlaps = (a: number, b: number | null): boolean => a < end && (b === null || b > start);
  const outageAlerts = alerts.filter((a) =>
    overlaps(Date.parse(a.startedAt), a.resolvedAt === null ? null : Date.parse(a.resolvedAt)),
  );
  return {
    ...o,
    evidence: {
      states: states
        .filter((s) => o.stateIds.includes(s.id))
        .map((s) => ({
          id: s.id,
          checkId: s.checkId,
          state: s.state,
          start: new Date(s.start).toISOString(),
          end: new Date(s.end ?? end).toISOString(),
          cause: s.cause,
        })),
      // An alert raised a little after the outage began (its rule's duration) is still about it.
      alerts: outageAlerts,
      incidents: incidents.filter(
        (i) =>
          i.alertIds.some((id) => outageAlerts.some((a) => a.id === id)) ||
          (found.stages.includes(i.stage) && Date.parse(i.openedAt) >= start && Date.parse(i.openedAt) < end),
      ),
      healing: healing.filter((h) => {
        const at = new Date(h.started_at as string).getTime();
        return at >= start - 60_000 && at < end;
      }),
      maintenance: figures.maintenance
        .filter((m) => Date.parse(m.start) < end && Date.parse(m.end) > start)
        .map((m) => m.id),
      exclusions: figures.exclusions
        .filter((e) => Date.parse(e.start) < end && Date.parse(e.end) > start)
        .map((e) => e.id),
    },
  };
}

/** ISO 8601 with an offset, or "YYYY-MM-DD HH:MM" read in the policy's zone. */
function parseInstant(text: string, field: string, zone: string): Date {
  const local = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})$/.exec(text.trim());
  if (local) {
    const [, y, mo, d, h, mi] = local.map(Number) as [number, number, number, number, number, number];
    return new Date(localToInstant({ year: y, month: mo, day: d, hour: h, minute: mi }, zone));
  }
  const parsed = z.iso.datetime({ offset: true }).safeParse(text);
  if (!parsed.success) {
    throw new InputError(
      `field "${field}": ${showValue(text)} is not a time; use ISO 8601 with an offset (2026-03-10T12:00:00+01:00) or "2026-03-10 12:00" in the policy's time zone (${zone})`,
      { field },
    );
  }
  return new Date(text);
}
