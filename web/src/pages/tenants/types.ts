/** What the tenants API returns (GET /api/v1/tenants, /tenants/:tenant). */
export interface StageRow {
  readonly name: string;
  readonly desired: 'present' | 'absent';
  readonly phase: string;
  readonly reason: string;
  readonly database: string;
  readonly filesDir: string;
  readonly paused: boolean;
  readonly readyAt: string | null;
  readonly createdAt: string;
}

export interface TenantRow {
  readonly slug: string;
  readonly displayName: string;
  readonly region: string;
  readonly geography: string;
  readonly tier: string;
  readonly desired: 'present' | 'absent';
  readonly phase: string;
  readonly createdAt: string;
  readonly stages: readonly StageRow[];
}

/** GET /api/v1/tenants/:tenant/ps: a stage's runtime. */
export interface ProcessRow {
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
}

export interface StageRuntime {
  readonly stage: string;
  readonly phase: string;
  readonly reason: string;
  readonly release: string | null;
  readonly url: string | null;
  readonly filesBytes: number | null;
  readonly filesQuotaBytes: number | null;
  readonly processes: readonly ProcessRow[];
}

export interface DeploymentRow {
  readonly id: string;
  readonly tenant: string;
  readonly stage: string;
  readonly app: string;
  readonly version: string;
  readonly status: string;
  readonly reason: string;
  readonly actor: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

export interface ReleaseRow {
  readonly app: string;
  readonly version: string;
  readonly createdAt: string;
}

export const inFlight = (status: string): boolean => ['pending', 'migrating', 'starting'].includes(status);

/** A stage's health from its processes: unhealthy when one fails its check, healthy when one passes, else unknown. */
export function stageHealth(runtime: StageRuntime | undefined): 'healthy' | 'unhealthy' | 'unknown' {
  const processes = runtime?.processes ?? [];
  if (processes.some((p) => p.healthy === false)) return 'unhealthy';
  return processes.some((p) => p.healthy === true) ? 'healthy' : 'unknown';
}
