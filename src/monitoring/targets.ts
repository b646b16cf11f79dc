import { statfs } from 'node:fs/promises';
import type { BackupService } from '../backups/service.ts';
import type { StageReadModel } from '../runtime/read-model.ts';
import type { AppDefinition } from '../runtime/app-definition.ts';
import { activeRelease } from '../runtime/deployments.ts';
import type { ControlDb } from '../store/db.ts';
import { prodStage } from '../gateway/routes.ts';
import type { TenantService } from '../tenants/service.ts';
import type { HaClusters } from '../drills/cluster.ts';
import type { HaClusterSeen } from './ha-verdicts.ts';
import type { HttpTarget } from './probes.ts';
import type { ProcessSeen, VolumeSeen } from './verdicts.ts';
import { builtinSpec, type BuiltinCheck } from './specs.ts';
import type { WantedBuiltin } from './store.ts';
import type { PhysicalPolicy } from '../backups/policy.ts';
import type { Freshness } from '../backups/freshness.ts';

/**
 * Where a check's probes go, read from what Steward runs: the stages, their
 * active releases, the gateway, the stages' credentials and backups.
 */
export interface CheckTargets {
  /** The built-in checks every stage should have now. */
  builtins(): Promise<WantedBuiltin[]>;
  /** The HTTP targets of a stage's check: through the gateway (one) or each web process; null path: the release's health path. */
  http(
    stageId: string,
    via: 'gateway' | 'processes',
  ): Promise<{ readonly targets: readonly HttpTarget[]; readonly healthPath: string | null }>;
  /** The processes of the stage's active release as the supervisor sees them, and whether the stage is scaled to zero. */
  processes(
    stageId: string,
  ): Promise<{ readonly scaledToZero: boolean; readonly processes: readonly ProcessSeen[] }>;
  /** Free space where Steward keeps its data and where the stage's files are, and the files quota. */
  disk(stageId: string): Promise<{
    readonly volumes: readonly VolumeSeen[];
    readonly quota: { readonly usedBytes: number; readonly quotaBytes: number } | null;
  }>;
  /** The gateway of this process and the stage's host names (generated and custom), or null without a gateway here. */
  certificates(stageId: string): Promise<{
    readonly gateway: { readonly host: string; readonly port: number; readonly ca: string };
    readonly hosts: readonly string[];
  } | null>;
  /** The stage's DATABASE_URL, as its app gets it. */
  databaseUrl(stageId: string): Promise<string>;
  backup(
    tenant: string,
    stage: string,
  ): Promise<{ policy: PhysicalPolicy | null; freshness: Freshness | null; error: string | null }>;
  /** The stage's Patroni cluster as its members answer; null when none answers (or the stage is not on the ha tier here). */
  ha?(stageId: string): Promise<HaClusterSeen | null>;
}

/** Where the gateway listens and how to reach a host through it. */
export interface GatewayEndpoint {
  readonly port: number;
  readonly ca: string;
  readonly baseDomain: string;
}

export interface StewardTargetsOptions {
  readonly db: ControlDb;
  readonly runtimeView: StageReadModel;
  readonly tenants: TenantService;
  readonly backups: BackupService | undefined;
  /** The gateway of this process, once it listens; without one, "via gateway" goes to the stage's published port. */
  readonly gateway: () => GatewayEndpoint | undefined;
  readonly intervalSeconds: number;
  readonly timeoutMs: number;
  /** Steward's data directory (releases, logs, its own clusters). */
  readonly dataDir: string;
  /** The ha tier's clusters; undefined without an ha tier. */
  readonly haClusters?: HaClusters | undefined;
}

interface StageRow {
  readonly id: string;
  readonly name: string;
  readonly slug: string;
  readonly published_port: number | null;
}

/**
 * Backups are hourly at the most and disks fill slowly: probing them more
 * often tells nothing new. Certificates are probed at the usual interval: a
 * handshake is cheap, and a new stage's first one may come before the
 * gateway routes its hosts.
 */
const slowestBuiltins: Partial<Record<BuiltinCheck, number>> = { backup: 300, disk: 60 };

export function stewardTargets(o: StewardTargetsOptions): CheckTargets {
  const stageRow = (stageId: string): Promise<StageRow | undefined> =>
    o.db
      .selectFrom('stages')
      .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
      .select(['stages.id', 'stages.name', 'tenants.slug', 'stages.published_port'])
      .where('stages.id', '=', stageId)
      .executeTakeFirst();
  const activeDefinition = async (stageId: string): Promise<AppDefinition | undefined> =>
    (await activeRelease(o.db, stageId))?.definition;
  return {
    async builtins() {
      const stages = await o.db
        .selectFrom('stages')
        .innerJoin('tenants', 'tenants.id', 'stages.tenant_id')
        .select([
          'stages.id',
          'stages.name',
          'tenants.slug',
          'stages.scale_to_zero_seconds',
          'stages.published_port',
          'tenants.tier',
        ])
        .where('stages.desired', '=', 'present')
        .where('tenants.desired', '=', 'present')
        // Once ready, a stage keeps its checks through every later phase (a restore, a pause): its history stays one.
        .where('stages.ready_at', 'is not', null)
        .execute();
      // The active release of each stage: its processes are watched, its web processes over HTTP when it has a health path.
      const active = new Map(
        (
          await o.db
            .selectFrom('deployments')
            .innerJoin('releases', 'releases.id', 'deployments.release_id')
            .select(['deployments.stage_id', 'releases.definition'])
            .where('deployments.status', '=', 'active')
            .execute()
        ).map((d) => [d.stage_id, d.definition as AppDefinition | null]),
      );
      const wanted: WantedBuiltin[] = [];
      for (const s of stages) {
        // A stage that scales to zero is not probed over HTTP: the probes would keep it awake.
        const http = Boolean(active.get(s.id)?.health?.path) && s.scale_to_zero_seconds === null;
        const kinds: BuiltinCheck[] = [
          ...(http ? (['gateway', 'processes'] as const) : []),
          ...(active.has(s.id) ? (['process'] as const) : []),
          'database',
          'disk',
          // Where this process runs the gateway (the handshake is made with it) and routes the stage's hosts.
          ...(o.gateway() && s.published_port !== null ? (['certificate'] as const) : []),
          ...(o.backups ? (['backup'] as const) : []),
          // The stage's Patroni cluster: its members, their replication, one leader.
          ...(s.tier === 'ha' && o.haClusters
            ? (['ha-members', 'ha-replication', 'ha-leader'] as const)
            : []),
        ];
        for (const builtin of kinds) {
          const spec = builtinSpec(builtin);
          wanted.push({
            stageId: s.id,
            tenant: s.slug,
            stage: s.name,
            builtin,
            kind: spec.kind,
            spec,
            intervalSeconds: Math.max(o.intervalSeconds, slowestBuiltins[builtin] ?? 0),
            timeoutMs: o.timeoutMs,
          });
        }
      }
      return wanted;
    },

    async http(stageId, via) {
      const stage = await stageRow(stageId);
      const definition = await activeDefinition(stageId);
      const healthPath = definition?.health?.path ?? null;
      if (!stage) return { targets: [], healthPath };
      if (via === 'processes') {
        const [view] = await o.runtimeView.ps(stage.slug, stage.name);
        const ports = (view?.processes ?? [])
          .filter((p) => p.port !== null && p.release === view?.release)
          .map((p) => p.port as number);
        return { targets: ports.map((port) => ({ host: '127.0.0.1', port })), healthPath };
      }
      const gateway = o.gateway();
      if (gateway) {
        const host = `${stage.name}.${stage.slug}.${gateway.baseDomain}`;
        return {
          targets: [
            {
              host: '127.0.0.1',
              port: gateway.port,
              hostHeader: host,
              tls: { ca: gateway.ca, servername: host },
            },
          ],
          healthPath,
        };
      }
      return {
        targets: stage.published_port ? [{ host: '127.0.0.1', port: stage.published_port }] : [],
        healthPath,
      };
    },

    async processes(stageId) {
      const stage = await stageRow(stageId);
      if (!stage) return { scaledToZero: false, processes: [] };
      const [view] = await o.runtimeView.ps(stage.slug, stage.name);
      return {
        scaledToZero: view?.phase === 'scaled-to-zero',
        processes: (view?.processes ?? [])
          .filter((p) => p.release === view?.release)
          .map((p) => ({
            name: `${p.process}.${p.instance}`,
            phase: p.phase,
            healthy: p.healthy,
            lastExitAt: p.lastExit?.at ?? null,
          })),
      };
    },

    async disk(stageId) {
      const row = await o.db
        .selectFrom('stages')
        .select(['files_dir', 'files_bytes', 'files_quota_bytes'])
        .where('id', '=', stageId)
        .executeTakeFirst();
      // statfs reads only the size of a filesystem: the files directory's owner cannot make it reveal more.
      const volume = async (label: string, path: string): Promise<VolumeSeen> => {
        const fs = await statfs(path);
        return { label, freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize };
      };
      return {
        volumes: [await volume('data', o.dataDir), ...(row ? [await volume('files', row.files_dir)] : [])],
        quota:
          row?.files_quota_bytes && row.files_bytes !== null
            ? { usedBytes: Number(row.files_bytes), quotaBytes: Number(row.files_quota_bytes) }
            : null,
      };
    },

    async certificates(stageId) {
      const gateway = o.gateway();
      const stage = await stageRow(stageId);
      if (!gateway || !stage) return null;
      const domains = await o.db
        .selectFrom('stage_domains')
        .select('domain')
        .where('stage_id', '=', stageId)
        .orderBy('domain')
        .execute();
      const base = gateway.baseDomain;
      return {
        gateway: { host: '127.0.0.1', port: gateway.port, ca: gateway.ca },
        hosts: [
          `${stage.name}.${stage.slug}.${base}`,
          ...(stage.name === prodStage ? [`${stage.slug}.${base}`] : []),
          ...domains.map((d) => d.domain),
        ],
      };
    },

    async databaseUrl(stageId) {
      return (await o.tenants.stageConnection(stageId)).databaseUrl;
    },

    async ha(stageId) {
      if (!o.haClusters) return null;
      const row = await o.db
        .selectFrom('stages')
        .select('database_name')
        .where('id', '=', stageId)
        .executeTakeFirst();
      if (!row) return null;
      return (await o.haClusters.forStage(row.database_name)).observe();
    },

    async backup(tenant, stage) {
      if (!o.backups) return { policy: null, freshness: null, error: 'backups are off' };
      const view = await o.backups.list(tenant, stage);
      return { policy: view.policy, freshness: view.freshness, error: view.error ?? view.reason };
    },
  };
}
