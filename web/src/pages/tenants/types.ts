import type { paths } from '../../../../src/api/client/schema.ts';
import type { ListItem, ResponseBody } from '../../../../src/api/client/typed.ts';

/** What the tenants, runtime and releases API returns: the types generated from its contracts (src/api/contracts/). */
export type TenantRow = ResponseBody<paths, '/api/v1/tenants/{tenant}'>;
export type StageRow = TenantRow['stages'][number];
export type TenantListRow = ListItem<paths, '/api/v1/tenants'>;
/** GET /api/v1/tenants/:tenant/ps: a stage's runtime. */
export type StageRuntime = ResponseBody<paths, '/api/v1/tenants/{tenant}/ps'>['stages'][number];
export type ProcessRow = StageRuntime['processes'][number];
export type DeploymentRow = ListItem<paths, '/api/v1/tenants/{tenant}/deployments'>;
export type ReleaseRow = ListItem<paths, '/api/v1/releases'>;

export const inFlight = (status: string): boolean => ['pending', 'migrating', 'starting'].includes(status);

/** A stage's health from its processes: unhealthy when one fails its check, healthy when one passes, else unknown. */
export function stageHealth(runtime: StageRuntime | undefined): 'healthy' | 'unhealthy' | 'unknown' {
  const processes = runtime?.processes ?? [];
  if (processes.some((p) => p.healthy === false)) return 'unhealthy';
  return processes.some((p) => p.healthy === true) ? 'healthy' : 'unknown';
}
