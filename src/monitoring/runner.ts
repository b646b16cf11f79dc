import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import {
  probeAgents,
  probeCertificate,
  probeHttpTarget,
  probeStageDatabase,
  type ProbeAgents,
} from './probes.ts';
import { minuteOf, rollup, type RollupSample } from './rollups.ts';
import { applyResult, notProbing, type ProbeResult, type StateChange, type Thresholds } from './states.ts';
import type { CheckKind } from './specs.ts';
import type { CheckStore, DueCheck, StoredCheck } from './store.ts';
import type { CheckTargets } from './targets.ts';
import {
  backupVerdict,
  certificateVerdict,
  combineVerdicts,
  diskVerdict,
  httpVerdict,
  processVerdict,
  type Verdict,
} from './verdicts.ts';
import { logPassFailure } from '../core/logger.ts';
import { haVerdict } from './ha-verdicts.ts';

export type MonitoringSettings = Config['monitoring'];
type HttpTargets = Awaited<ReturnType<CheckTargets['http']>>;

export interface CheckRunnerOptions {
  readonly store: CheckStore;
  readonly targets: CheckTargets;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: MonitoringSettings;
  /** Hears of each check's state changes once they are stored (alert rules). */
  readonly onChanges?: (check: StoredCheck, changes: readonly StateChange[]) => Promise<void>;
  readonly observer?: CheckObserver;
}

/** What the runner tells metrics and the watchdog. */
export interface CheckObserver {
  /** One probe: how long it took, and how late it started against the time its check was due. */
  probed(kind: CheckKind, latencySeconds: number, latenessSeconds: number): void;
  /** A pass completed: the runner keeps up. */
  passed(): void;
}

/** What one pass did, for tests and logs. */
export interface CheckPassResult {
  readonly probed: number;
  readonly changes: number;
  readonly builtinsAdded: number;
  readonly builtinsRemoved: number;
}

/** When one probe was due and when it started: how late the runner is (metrics, the checks benchmark). */
export interface ProbeTiming {
  readonly checkId: string;
  readonly dueAt: Date;
  readonly startedAt: Date;
  readonly latencyMs: number;
}

const pruneEveryMs = 3_600_000;
/** How long one pass keeps claiming due checks, in ticks. */
const passClaimTicks = 5;
/**
 * How long a stage's gateway target is reused. Its host name and the
 * gateway do not change with a deploy; the health path may, and is then
 * probed at most this much later.
 */
const gatewayTargetMs = 1000;
/** How often a pass with probes in flight looks for checks that fell due. */
const claimEveryMs = 200;

/**
 * Probes due checks and stores their results as time. pass() is the one
 * public pass; the timer only calls it, never two claiming at once (a pass
 * that stopped claiming may still wait for its slow probes while the next
 * one claims). start() first
 * records, for every check a previous process left open, the time since its
 * last probe as unknown: Steward was not looking.
 */
export class CheckRunner {
  readonly #o: CheckRunnerOptions;
  readonly #thresholds: Thresholds;
  /** The current minute's samples per check, for its rollup. */
  readonly #minutes = new Map<string, { minute: string; samples: RollupSample[] }>();
  readonly #busy = new Set<string>();
  /** Probes in flight, of every pass: they share settings.concurrency. */
  readonly #probing = new Set<Promise<void>>();
  readonly #probeListeners = new Set<(timing: ProbeTiming) => void>();
  /** Kept-open connections for HTTP probes (see probeAgents). */
  readonly #agents: ProbeAgents;
  /** A stage's gateway target, read at most once per gatewayTargetMs: many checks share one stage. */
  readonly #gatewayTargets = new Map<string, { readonly at: number; readonly targets: HttpTargets }>();
  #timer: NodeJS.Timeout | undefined;
  /** The newest pass, until it ends; #claiming while it still claims due checks. */
  #running: Promise<CheckPassResult> | undefined;
  #claiming = false;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #lastPrune = 0;
  #lastSync = 0;

  constructor(options: CheckRunnerOptions) {
    this.#o = options;
    const s = options.settings;
    this.#agents = probeAgents(options.settings.concurrency);
    this.#thresholds = {
      failuresToDown: s.failuresToDown,
      badToDegraded: s.badToDegraded,
      successesToUp: s.successesToUp,
      lateIntervals: s.lateIntervals,
    };
  }

  start(): Promise<void> {
    this.#starting ??= (async () => {
      await this.recordNotProbing('Steward was not probing (stopped or restarted) since the last probe');
      this.#timer = setInterval(() => void this.#tick(), this.#o.settings.tickMs);
      this.#timer.unref();
    })();
    return this.#starting;
  }

  /** Waits for the pass in flight. Safe twice. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      await this.#running?.catch(() => undefined);
      await Promise.all(this.#probing);
      this.#agents.http.destroy();
      this.#agents.https.destroy();
    })();
    return this.#stopping;
  }

  /** Closes every open up, degraded or down interval at its last probe and opens unknown there. */
  async recordNotProbing(reason: string): Promise<number> {
    let n = 0;
    for (const check of await this.#o.store.probedNotUnknown()) {
      const { progress, changes } = notProbing(check.progress, reason);
      await this.#o.store.record(check.id, progress, changes);
      n += changes.length;
    }
    if (n > 0)
      this.#o.logger.info(
        { checks: n },
        'checks left open by a previous process recorded unknown since their last probe',
      );
    return n;
  }

  /** Retention: what ended more than monitoring.retentionDays ago goes (the pass does this hourly). */
  async prune(): Promise<{ states: number; rollups: number; checks: number }> {
    this.#lastPrune = this.#o.clock.now().getTime();
    const cutoff = new Date(this.#lastPrune - this.#o.settings.retentionDays * 86_400_000);
    const pruned = await this.#o.store.prune(cutoff);
    if (pruned.states + pruned.rollups + pruned.checks > 0)
      this.#o.logger.info({ ...pruned, before: cutoff.toISOString() }, 'check results past retention pruned');
    return pruned;
  }

  /** Calls `listener` after every probe with when it was due and when it started; returns how to stop. */
  onProbe(listener: (timing: ProbeTiming) => void): () => void {
    this.#probeListeners.add(listener);
    return () => this.#probeListeners.delete(listener);
  }

  #tick(): void {
    if (this.#claiming || this.#stopping) return;
    this.pass().catch((error: unknown) =>
      logPassFailure(this.#o.logger, error, 'check pass failed', {}, 'error'),
    );
  }

  /** One pass: built-in checks follow their stages, retention prunes (hourly), due checks are probed. */
  pass(): Promise<CheckPassResult> {
    if (this.#running && this.#claiming) return this.#running;
    const pass = this.#pass();
    this.#running = pass;
    const ended = (): void => {
      if (this.#running === pass) this.#running = undefined;
    };
    pass.then(ended, ended);
    return pass;
  }

  async #pass(): Promise<CheckPassResult> {
    this.#claiming = true;
    const inFlight = new Set<Promise<void>>();
    const tally = { probed: 0, changes: 0 };
    let synced: { added: number; removed: number };
    try {
      synced = await this.#claim(inFlight, tally);
    } finally {
      this.#claiming = false;
    }
    // Its probes still running hold no other check back now: the next tick's pass claims beside them.
    await Promise.all(inFlight);
    this.#o.observer?.passed();
    return {
      probed: tally.probed,
      changes: tally.changes,
      builtinsAdded: synced.added,
      builtinsRemoved: synced.removed,
    };
  }

  /** A pass's claiming: due checks are claimed and their probes started into `inFlight`, not awaited. */
  async #claim(
    inFlight: Set<Promise<void>>,
    tally: { probed: number; changes: number },
  ): Promise<{ added: number; removed: number }> {
    const { store, targets, clock, settings } = this.#o;
    // Stages change rarely: built-ins follow them every 5 ticks, not every tick.
    let synced = { added: 0, removed: 0 };
    if (performance.now() - this.#lastSync >= 5 * settings.tickMs || this.#lastSync === 0) {
      this.#lastSync = performance.now();
      synced = await store.syncBuiltins(await targets.builtins(), clock.now());
    }
    if (clock.now().getTime() - this.#lastPrune >= pruneEveryMs) await this.prune();
    // Probes are claimed as slots free up, not once per tick: a slow probe (up to its timeout)
    // holds back no other check, each starts soon after it is due. The pass stops claiming when
    // nothing is due or running, or after passClaimTicks ticks so that built-ins and retention get
    // their turn under a steady stream of due checks; the next tick's pass claims on beside the
    // probes still running (before, checks that fell due then waited for the slowest of them).
    const claimUntil = performance.now() + passClaimTicks * settings.tickMs;
    let wake: () => void = () => undefined;
    while (!this.#stopping && performance.now() < claimUntil) {
      const free = settings.concurrency - this.#probing.size;
      const claimed = free > 0 ? await store.claimDue(clock.now(), free, [...this.#busy]) : [];
      for (const check of claimed) {
        this.#busy.add(check.id);
        tally.probed++;
        const probe = this.#probeAndRecord(check)
          .then((n) => void (tally.changes += n))
          .catch((error: unknown) =>
            logPassFailure(this.#o.logger, error, 'check result not stored', { check: check.id }, 'error'),
          )
          .finally(() => {
            this.#busy.delete(check.id);
            inFlight.delete(probe);
            this.#probing.delete(probe);
            wake();
          });
        inFlight.add(probe);
        this.#probing.add(probe);
      }
      if (claimed.length === 0 && inFlight.size === 0) break;
      // A slot frees up, or checks that fell due meanwhile are looked for.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, claimed.length < free ? claimEveryMs : settings.tickMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return synced;
  }

  async #probeAndRecord(check: DueCheck): Promise<number> {
    const startedAt = this.#o.clock.now();
    const lateMs = startedAt.getTime() - Date.parse(check.dueAt);
    const started = performance.now();
    const verdict = await this.#probe(check).catch((error: unknown): Verdict => ({
      outcome: 'fail',
      detail: `probe failed: ${(error as Error).message}`,
    }));
    const result: ProbeResult = {
      at: this.#o.clock.now().toISOString(),
      outcome: verdict.outcome,
      latencyMs: Math.round(performance.now() - started),
      detail: verdict.detail.slice(0, 500),
    };
    this.#o.observer?.probed(check.kind, result.latencyMs / 1000, Math.max(0, lateMs) / 1000);
    const { progress, changes } = applyResult(
      check.progress,
      result,
      check.intervalSeconds * 1000,
      this.#thresholds,
    );
    for (const change of changes) {
      this.#o.logger.info(
        {
          check: check.id,
          tenant: check.tenant,
          stage: check.stage,
          from: change.from,
          to: change.to,
          detail: result.detail,
        },
        'check state changed',
      );
    }
    await this.#o.store.record(check.id, progress, changes, this.#rollup(check.id, result));
    if (changes.length > 0) {
      await this.#o.onChanges?.(check, changes).catch((error: unknown) => {
        this.#o.logger.error({ check: check.id, err: (error as Error).message }, 'state change hook failed');
      });
    }
    const timing = {
      checkId: check.id,
      dueAt: new Date(check.dueAt),
      startedAt,
      latencyMs: result.latencyMs,
    };
    for (const listener of this.#probeListeners) {
      try {
        listener(timing);
      } catch (error) {
        this.#o.logger.warn({ err: (error as Error).message }, 'probe listener failed');
      }
    }
    return changes.length;
  }

  #rollup(checkId: string, result: ProbeResult): ReturnType<typeof rollup> {
    const minute = minuteOf(result.at);
    let current = this.#minutes.get(checkId);
    if (current?.minute !== minute) {
      current = { minute, samples: [] };
      this.#minutes.set(checkId, current);
    }
    current.samples.push({ ok: result.outcome === 'ok', latencyMs: result.latencyMs });
    return rollup(minute, current.samples);
  }

  async #gatewayTarget(stageId: string): Promise<HttpTargets> {
    const now = performance.now();
    const cached = this.#gatewayTargets.get(stageId);
    if (cached && now - cached.at < gatewayTargetMs) return cached.targets;
    const targets = await this.#o.targets.http(stageId, 'gateway');
    this.#gatewayTargets.set(stageId, { at: now, targets });
    if (this.#gatewayTargets.size > 10_000) this.#gatewayTargets.clear();
    return targets;
  }

  async #probe(check: DueCheck): Promise<Verdict> {
    const { spec } = check;
    if (!check.stageId) return { outcome: 'fail', detail: 'the stage it watched is gone' };
    switch (spec.kind) {
      case 'http': {
        const { targets, healthPath } =
          spec.via === 'gateway'
            ? await this.#gatewayTarget(check.stageId)
            : await this.#o.targets.http(check.stageId, spec.via);
        const path = spec.path ?? healthPath;
        if (!path) return { outcome: 'fail', detail: 'no release with a health path is active' };
        const verdicts = await Promise.all(
          targets.map(async (target) =>
            httpVerdict(
              spec,
              path,
              await probeHttpTarget(
                target,
                {
                  method: spec.method,
                  path,
                  headers: spec.headers,
                  timeoutMs: check.timeoutMs,
                },
                this.#agents,
              ),
            ),
          ),
        );
        if (spec.via === 'gateway')
          return verdicts[0] ?? { outcome: 'fail', detail: 'the stage is not published' };
        return combineVerdicts('web processes', verdicts);
      }
      case 'database': {
        const seen = await probeStageDatabase(
          await this.#o.targets.databaseUrl(check.stageId),
          check.timeoutMs,
        );
        return seen.ok
          ? { outcome: 'ok', detail: 'select 1 as the stage role answered' }
          : { outcome: 'fail', detail: `as the stage role: ${seen.reason}` };
      }
      case 'process': {
        const seen = await this.#o.targets.processes(check.stageId);
        // A restart since the previous probe (and a little before: probes are not exactly on time).
        return processVerdict(seen, this.#o.clock.now(), check.intervalSeconds * 1500);
      }
      case 'certificate': {
        const seen = await this.#o.targets.certificates(check.stageId);
        if (!seen) return { outcome: 'fail', detail: 'no gateway runs in this Steward' };
        const certificates = await Promise.all(
          seen.hosts.map((host) => probeCertificate(seen.gateway, host, check.timeoutMs)),
        );
        return certificateVerdict(certificates, this.#o.clock.now());
      }
      case 'disk': {
        const seen = await this.#o.targets.disk(check.stageId);
        return diskVerdict(seen.volumes, seen.quota);
      }
      case 'backup': {
        const seen = await this.#o.targets.backup(check.tenant ?? '', check.stage ?? '');
        if (!seen.policy) return { outcome: 'fail', detail: seen.error ?? 'no backup policy' };
        const watchingSeconds = (this.#o.clock.now().getTime() - Date.parse(check.createdAt)) / 1000;
        return backupVerdict(seen.policy, seen.freshness, watchingSeconds);
      }
      case 'ha': {
        const seen = (await this.#o.targets.ha?.(check.stageId)) ?? null;
        if (!seen) return { outcome: 'fail', detail: "no member of the stage's Patroni cluster answers" };
        return haVerdict(spec.watch, seen);
      }
    }
  }
}
