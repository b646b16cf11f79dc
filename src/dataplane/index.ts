/** The data plane on HAProxy: what the rest of Steward may use. */
export {
  maxSlots,
  renderHaproxyConfig,
  slotServerName,
  stewardBackend,
  unroutedBackend,
  type DataPlaneFiles,
  type DataPlaneState,
  type Listen,
  type StageBackend,
  type StageServer,
} from './config.ts';
export { Activator, activatorVia, stageHeader, type ActivatorOptions } from './activator.ts';
export {
  appAddress,
  HaproxyStageEndpoints,
  type ActivatorPort,
  type HaproxyStageEndpointsOptions,
} from './endpoints.ts';
export { createExclusive, type Exclusive } from './exclusive.ts';
export { appServerName, portOfAppServer } from './handover.ts';
export { stageBackendName, stageIdOfBackend } from './names.ts';
export { Haproxy, parseShowProc, type HaproxyOptions, type MasterView, type ProcessView } from './haproxy.ts';
export {
  isUnknownBackend,
  isUnknownServer,
  RuntimeApi,
  RuntimeApiError,
  serverStates,
  type MapEntry,
  type ServerState,
  type ServerStateRow,
  type StatRow,
} from './runtime-api.ts';
