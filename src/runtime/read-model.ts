import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import { NotFoundError, showValue } from '../core/errors.ts';
import type { ControlDb } from '../store/db.ts';
import type { TenantService } from '../tenants/service.ts';
import { activeRelease } from './deployments.ts';
import type { RuntimeDriver } from './driver.ts';
import { tailLines } from './log-files.ts';
import { keepSince } from './log-lines.ts';
import { stageLogDir } from './process-driver.ts';
import type { ProcessStatus } from './supervisor.ts';

export interface StageProcessView {
  readonly tenant: string;
  readonly stage: string;
  readonly process: string;
  readonly instance: number;
  readonly release: string;
  readonly pid: number | null;
  readonly phase: string;
  readonly healthy: boolean | null;
  readonly restarts: number;
  readonly startedAt: string | null;
  readonly uptimeSeconds: number | null;
  readonly port: number | null;
  readonly lastExit: ProcessStatus['lastExit'];
}

export interface StagePsView {
  readonly tenant: string;
  readonly stage: string;
  readonly phase: string;
  readonly reason: string;
  readonly release: string | null;
  readonly url: string | null;
  readonly filesBytes: number | null;
  readonly filesQuotaBytes: number | null;
  readonly processes: readonly StageProcessView[];
}

export interface LogLine {
  readonly process: string;
  readonly instance: number;
  readonly line: string;
}

export interface StageReadModelOptions {
  readonly db: ControlDb;
  readonly driver: RuntimeDriver;
  readonly tenants: TenantService;
  readonly clock: Clock;
  /** Where the driver writes each stage's logs (see stageLogDir). */
  readonly logsDir: string;
  /** Address the stages' published endpoints listen on. */
  readonly host?: string;
}

/**
 * What runs where, read only: `ps` (a stage's phase, release, endpoint and
 * instances) and its logs. Apart from the runtime, which changes things.
 */
export class StageReadModel {
  readonly #o: StageReadModelOptions;

  constructor(options: StageReadModelOptions) {
    this.#o = options;
  }

  /** Processes of every stage of a tenant (or one stage), with the stage's phase and endpoint. */
  async ps(tenant: string, stageName?: string): Promise<StagePsView[]> {
    const stages = await this.#o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select([
        'stages.id',
        'stages.name',
        'stages.published_port',
        'stages.files_quota_bytes',
        'stages.runtime_phase',
        'stages.runtime_reason',
        'stages.files_bytes',
      ])
      .where('tenants.slug', '=', tenant)
      .$if(stageName !== undefined, (q) => q.where('stages.name', '=', stageName ?? ''))
      .orderBy('stages.id')
      .execute();
    if (stages.length === 0) {
      await this.#o.tenants.show(tenant);
      throw new NotFoundError(`tenant ${tenant} has no stage ${showValue(stageName)}`, { field: 'stage' });
    }
    const now = this.#o.clock.now().getTime();
    const host = this.#o.host ?? '127.0.0.1';
    const views: StagePsView[] = [];
    for (const stage of stages) {
      const active = await activeRelease(this.#o.db, stage.id);
      const processes = this.#o.driver
        .instances({ tenant, name: stage.name })
        .sort((a, b) => a.key.localeCompare(b.key))
        .map((s) => ({
          tenant,
          stage: stage.name,
          process: s.process,
          instance: s.instance,
          release: s.release,
          pid: s.pid,
          phase: s.phase,
          healthy: s.healthy,
          restarts: s.restarts,
          startedAt: s.startedAt,
          uptimeSeconds: s.startedAt ? Math.max(0, Math.round((now - Date.parse(s.startedAt)) / 1000)) : null,
          port: s.port,
          lastExit: s.lastExit,
        }));
      views.push({
        tenant,
        stage: stage.name,
        phase: stage.runtime_phase,
        reason: stage.runtime_reason,
        release: active?.version ?? null,
        url: stage.published_port ? `http://${host}:${stage.published_port}` : null,
        filesBytes: stage.files_bytes === null ? null : Number(stage.files_bytes),
        filesQuotaBytes: stage.files_quota_bytes === null ? null : Number(stage.files_quota_bytes),
        processes,
      });
    }
    return views;
  }

  /**
   * The last lines of a stage's process logs. With `since` (epoch ms), only
   * lines whose own timestamp (see logLineTime) is at or after it.
   */
  async logs(
    tenant: string,
    stage: string,
    options: { process?: string; lines?: number; since?: number } = {},
  ): Promise<LogLine[]> {
    await this.ps(tenant, stage);
    const count = options.lines ?? 100;
    const lines: LogLine[] = [];
    for (const file of await this.#logFiles(tenant, stage, options.process)) {
      // With since, look further back: the last `count` lines are counted after the filter.
      const tail = await tailLines(file.path, options.since === undefined ? count : 10_000, 1024 * 1024);
      for (const line of tail.filter((l) => keepSince(l, options.since)).slice(-count)) {
        lines.push({ process: file.process, instance: file.instance, line });
      }
    }
    return lines;
  }

  /** Where a stage's logs are, for following them. */
  async logFiles(
    tenant: string,
    stage: string,
    process?: string,
  ): Promise<{ process: string; instance: number; path: string }[]> {
    await this.ps(tenant, stage);
    return this.#logFiles(tenant, stage, process);
  }

  async #logFiles(tenant: string, stage: string, process?: string) {
    const dir = stageLogDir(this.#o.logsDir, tenant, stage);
    const names = await readdir(dir).catch(() => [] as string[]);
    return names
      .map((name) => /^([a-z][a-z0-9-]*)-(\d+)\.log$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null && (process === undefined || m[1] === process))
      .map((m) => ({ process: m[1] ?? '', instance: Number(m[2]), path: join(dir, m[0]) }));
  }
}
