import type { ConsoleApi } from '../../app/api.ts';
import type { LiveSignal } from '../../app/live.ts';

/** The reads the tenant pages share, each one call of the API. */
export const tenantOf = async (api: ConsoleApi, tenant: string, signal?: AbortSignal) =>
  await api.get('/api/v1/tenants/{tenant}', { params: { tenant }, ...(signal ? { signal } : {}) });

export const runtimeOf = async (api: ConsoleApi, tenant: string, signal?: AbortSignal) =>
  (await api.get('/api/v1/tenants/{tenant}/ps', { params: { tenant }, ...(signal ? { signal } : {}) }))
    .stages;

export const deploymentsOf = async (api: ConsoleApi, tenant: string, signal?: AbortSignal) =>
  (
    await api.page('/api/v1/tenants/{tenant}/deployments', {
      params: { tenant },
      ...(signal ? { signal } : {}),
    })
  ).items;

export const releasesOf = async (api: ConsoleApi, signal?: AbortSignal) =>
  (await api.page('/api/v1/releases', signal ? { signal } : {})).items;

/** Live events of this tenant only (and resyncs). */
export const ofTenant =
  (tenant: string) =>
  (signal: LiveSignal): boolean =>
    signal.topic === 'resync' || !('tenant' in signal) || signal.tenant === null || signal.tenant === tenant;
