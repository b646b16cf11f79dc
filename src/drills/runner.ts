import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { HaClusterSeen } from '../monitoring/ha-verdicts.ts';
import type { HaCluster } from './cluster.ts';
import { lostCommits, type LostCommits } from './measure.ts';
import { defaultDrillLimits, nextDrillStep, phaseOf, type DrillLimits, type StageDrillKind } from './plan.ts';
import type { DrillResult } from './store.ts';
import { WriteLoad, type WriteLoadReport } from './write-load.ts';

/**
 * One drill of one cluster, start to end: observe, ask the planner, take its
 * step, again. Whatever happens, the load is stopped and a killed member is
 * started again before it returns. The service records the result as
 * evidence; the benchmark calls this directly, twenty times.
 */
export interface RunDrillOptions {
  readonly limits?: DrillLimits;
  readonly logger?: Logger;
  /** Each new phase, as people read it; `faultAt` with the fault's injection. */
  readonly onPhase?: (phase: string, faultAt?: Date) => Promise<void> | void;
  /** True: stop at the next step, the drill ends interrupted. */
  readonly shouldStop?: () => boolean;
  readonly now?: () => Date;
}

export type DrillRun = Omit<DrillResult, 'endedAt'> & {
  readonly outcome: 'passed' | 'failed' | 'interrupted';
};

const round = (n: number): number => Math.round(n * 100) / 100;

export async function runDrill(
  cluster: HaCluster,
  kind: StageDrillKind,
  options: RunDrillOptions = {},
): Promise<DrillRun> {
  const limits = options.limits ?? defaultDrillLimits;
  const now = options.now ?? (() => new Date());
  const started = performance.now();
  let load: WriteLoad | undefined;
  let report: WriteLoadReport | undefined;
  let prepared = false;
  let loadStarted = false;
  let fault: { oldPrimary: string; at: number; wall: Date } | null = null;
  let restartedAt: number | null = null;
  let lost: LostCommits | null = null;
  let killed: string | null = null;
  let phase = 'starting';
  let outcome: { outcome: DrillRun['outcome']; reason: string } | undefined;
  let seen: HaClusterSeen | null = null;
  try {
    while (!outcome) {
      if (options.shouldStop?.()) {
        outcome = { outcome: 'interrupted', reason: 'Steward stopped during the drill' };
        break;
      }
      seen = await cluster.observe().catch(() => null);
      const at = performance.now();
      const step = nextDrillStep(
        {
          kind,
          synchronous: cluster.synchronous,
          elapsedMs: at - started,
          cluster: seen,
          prepared,
          load:
            load && loadStarted
              ? {
                  acknowledged: load.acknowledgedCount,
                  resumeMs: fault ? load.resumeMs(fault.at) : null,
                  stopped: load.stopped,
                }
              : null,
          fault: fault ? { oldPrimary: fault.oldPrimary, msSince: at - fault.at } : null,
          restartedMsAgo: restartedAt === null ? null : at - restartedAt,
          lost: lost?.lost ?? null,
        },
        limits,
      );
      const next = phaseOf(step);
      if (next !== phase) {
        phase = next;
        options.logger?.info({ phase }, 'drill step');
        await options.onPhase?.(phase, step.kind === 'inject' ? now() : undefined);
      }
      switch (step.kind) {
        case 'finish':
          outcome = { outcome: step.outcome, reason: step.reason };
          break;
        case 'wait':
          await new Promise((r) => setTimeout(r, step.ms));
          break;
        case 'prepare':
          load = new WriteLoad({ connection: await cluster.prepare() });
          prepared = true;
          break;
        case 'start-load':
          if (!load) throw new Error('the write load was not prepared');
          await load.start();
          loadStarted = true;
          break;
        case 'inject':
          fault = { oldPrimary: step.member, at: performance.now(), wall: now() };
          if (kind === 'kill') {
            killed = step.member;
            await cluster.kill(step.member);
          } else {
            await cluster.switchover(step.member);
          }
          break;
        case 'stop-load':
          report = await load?.stop();
          break;
        case 'count-lost':
          if (!load || !report) throw new Error('the write load was not stopped');
          lost = lostCommits(report.acknowledged, await load.found());
          break;
        case 'restart-member':
          restartedAt = performance.now();
          await cluster.start(step.member);
          killed = null;
          break;
      }
    }
  } catch (error) {
    options.logger?.warn({ err: (error as Error).message }, 'drill step failed');
    outcome = { outcome: 'failed', reason: `${phase}: ${(error as Error).message}` };
  } finally {
    // Whatever happened: the load stops and a killed member comes back.
    if (load && !load.stopped) report = await load.stop().catch(() => report);
    if (killed) await cluster.start(killed).catch(() => undefined);
  }
  const ended = performance.now();
  const resumeMs = fault && load ? load.resumeMs(fault.at) : null;
  const newPrimary = seen?.leader ?? null;
  const startedAt = report?.startedAt ?? 0;
  return {
    outcome: outcome.outcome,
    reason: outcome.reason,
    phase,
    faultAt: fault?.wall ?? null,
    writesResumeSeconds: resumeMs === null ? null : round(resumeMs / 1000),
    acknowledgedWrites: report?.acknowledgedCount ?? null,
    lostCommits: lost?.lost ?? null,
    oldPrimary: fault?.oldPrimary ?? null,
    newPrimary: newPrimary === fault?.oldPrimary ? null : newPrimary,
    rejoinSeconds:
      outcome.outcome === 'passed' && fault ? round((ended - (restartedAt ?? fault.at)) / 1000) : null,
    details: {
      attemptedWrites: report?.attempted ?? null,
      failedWrites: report?.failed ?? null,
      lostExamples: lost?.examples ?? [],
      committedUnacknowledged: lost?.committedUnacknowledged ?? null,
      // Times without acknowledged writes, ms from the load's start.
      outages: (report?.outages ?? []).map((o) => ({
        fromMs: Math.round(o.lastAckAt - startedAt),
        toMs: o.resumedAt === null ? null : Math.round(o.resumedAt - startedAt),
      })),
      faultAtMs: fault && report ? Math.round(fault.at - startedAt) : null,
      errors: report?.errors ?? [],
      durationSeconds: round((ended - started) / 1000),
    },
  };
}
