import { itemsOf, type ConsoleApi, type LooseApi } from '../../app/api.ts';
import type { LiveSignal } from '../../app/live.ts';
import type { DeploymentRow, ReleaseRow, StageRuntime, TenantRow } from './types.ts';

/** The reads the tenant pages share, each one call of the API. */
export const tenantOf = async (api: ConsoleApi, tenant: string, signal?: AbortSignal) =>
  (await api.get('/api/v1/tenants/{tenant}', {
    params: { tenant },
    ...(signal ? { signal } : {}),
  })) as TenantRow;

export const runtimeOf = async (api: ConsoleApi, tenant: string, signal?: AbortSignal) =>
  itemsOf<StageRuntime>(
    await api.get('/api/v1/tenants/{tenant}/ps', { params: { tenant }, ...(signal ? { signal } : {}) }),
  );

export const deploymentsOf = async (loose: LooseApi, tenant: string, signal?: AbortSignal) =>
  (
    await loose.page<DeploymentRow>('/api/v1/tenants/{tenant}/deployments', {
      params: { tenant },
      ...(signal ? { signal } : {}),
    })
  ).items;

export const releasesOf = async (loose: LooseApi, signal?: AbortSignal) =>
  (await loose.page<ReleaseRow>('/api/v1/releases', signal ? { signal } : {})).items;

/** Live events of this tenant only (and resyncs). */
export const ofTenant =
  (tenant: string) =>
  (signal: LiveSignal): boolean =>
    signal.topic === 'resync' || !('tenant' in signal) || signal.tenant === null || signal.tenant === tenant;
