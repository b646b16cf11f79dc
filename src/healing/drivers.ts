import type { HealAction } from '../alerts/contract.ts';
import type { BackupService } from '../backups/service.ts';
import { systemPrincipal } from '../core/policy.ts';
import type { StageReadModel } from '../runtime/read-model.ts';
import type { StageRuntime } from '../runtime/stage-runtime.ts';
import type { ProcessStatus, Supervisor } from '../runtime/supervisor.ts';
import type { TenantService } from '../tenants/service.ts';
import type { HealTarget } from './plan.ts';
import type { HaClusters } from '../drills/cluster.ts';
import { haHealDrivers } from './ha.ts';

/**
 * What each heal action does. Each resolves with what it did, for the
 * evidence, once the target serves again; it throws (a message without
 * secrets) when it could not act or the target did not recover in time.
 */
export type HealDrivers = Readonly<
  Record<HealAction, (target: HealTarget, timeoutMs: number) => Promise<string>>
>;

export interface StewardHealDriversOptions {
  readonly runtime: StageRuntime;
  readonly runtimeView: StageReadModel;
  readonly supervisor: Supervisor;
  readonly tenants: TenantService;
  /** Undefined when Steward takes no physical backups (backups.enabled: false). */
  readonly backups: BackupService | undefined;
  /** The ha tier's clusters; undefined without an ha tier. */
  readonly haClusters?: HaClusters | undefined;
}

/** The heal actions over the stage runtime, its supervisor and the backup service. */
export function stewardHealDrivers(o: StewardHealDriversOptions): HealDrivers {
  /** The processes of the stage's active release the action is about: one type, or the web ones. */
  const processesOf = async (target: HealTarget): Promise<ProcessStatus[]> => {
    const [view] = await o.runtimeView.ps(target.tenant, target.stage);
    if (!view?.release) throw new Error(`${target.tenant}/${target.stage} runs no release`);
    if (view.phase === 'scaled-to-zero') {
      throw new Error(`${target.tenant}/${target.stage} is scaled to zero: nothing runs to restart`);
    }
    const mine = o.supervisor
      .status()
      .filter(
        (s) =>
          s.spec.tenant === target.tenant &&
          s.spec.stage === target.stage &&
          s.spec.release === view.release &&
          (target.process === null ? s.spec.port !== undefined : s.spec.process === target.process),
      );
    if (mine.length === 0) {
      throw new Error(
        `${target.tenant}/${target.stage} runs no ${target.process ?? 'web'} process of release ${view.release}`,
      );
    }
    return mine;
  };

  /** Until each process runs under a new pid and passes its probe (without one: runs). */
  const healthyAgain = async (before: readonly ProcessStatus[], timeoutMs: number): Promise<string> => {
    const started = Date.now();
    const done: string[] = [];
    for (const old of before) {
      const name = `${old.spec.process}.${old.spec.instance}`;
      const deadline = started + timeoutMs;
      for (;;) {
        const now = o.supervisor.get(old.key);
        if (now?.pid && now.pid !== old.pid) break;
        if (Date.now() > deadline) throw new Error(`${name} was not started again within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await o.supervisor.waitHealthy(old.key, Math.max(1, deadline - Date.now()));
      done.push(`${name} (pid ${old.pid ?? '-'} -> ${o.supervisor.get(old.key)?.pid ?? '-'})`);
    }
    return `${done.join(', ')}; healthy again after ${((Date.now() - started) / 1000).toFixed(1)} s`;
  };

  return {
    'restart-process': async (target, timeoutMs) => {
      // A process between runs (backoff, crashloop) is being restarted by the supervisor already.
      const processes = (await processesOf(target)).filter((p) =>
        o.supervisor.restart(p.key, 'self-healing: restarted for an alert'),
      );
      if (processes.length === 0) {
        throw new Error(
          `no ${target.process ?? 'web'} process of ${target.tenant}/${target.stage} runs now: the supervisor is restarting it`,
        );
      }
      return `restarted ${await healthyAgain(processes, timeoutMs)}`;
    },
    'restart-stage': async (target, timeoutMs) => {
      const started = Date.now();
      await o.runtime.restartStage(await o.tenants.stageId(target.tenant, target.stage));
      // restartStage stopped every process of the stage and started the active release's again.
      const [view] = await o.runtimeView.ps(target.tenant, target.stage);
      const processes = o.supervisor
        .status()
        .filter(
          (s) =>
            s.spec.tenant === target.tenant &&
            s.spec.stage === target.stage &&
            s.spec.release === view?.release,
        );
      for (const p of processes) {
        await o.supervisor.waitHealthy(p.key, Math.max(1, started + timeoutMs - Date.now()));
      }
      return `restarted ${target.tenant}/${target.stage}: ${processes.length} processes of release ${view?.release ?? '-'} healthy after ${((Date.now() - started) / 1000).toFixed(1)} s`;
    },
    'rerun-backup': async (target) => {
      if (!o.backups) throw new Error('physical backups are off (backups.enabled: false)');
      const request = await o.backups.requestBackup(
        target.tenant,
        target.stage,
        { type: 'incr' },
        systemPrincipal,
      );
      // The backup runs as a job; its outcome is the request's (`steward backup request`) and the backup check's.
      return `requested backup ${request.id} of cluster ${request.cluster} (${request.type}, repos ${request.repos.map((r) => r.repo).join(', ')})`;
    },
    ...haHealDrivers({ tenants: o.tenants, haClusters: o.haClusters }),
  };
}
