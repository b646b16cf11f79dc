/** The data plane on HAProxy: what the rest of Steward may use. */
export {
  maxSlots,
  renderHaproxyConfig,
  slotServerName,
  stewardBackend,
  consoleBackend,
  unroutedBackend,
  type DataPlaneFiles,
  type DataPlaneState,
  type Listen,
  type StageBackend,
  type StageServer,
} from './config.ts';
export {
  accessLogFormat,
  accessLogKeys,
  redactedPathSample,
  type AccessLogKey,
  type AccessLogRecord,
} from './access-log.ts';
export { errorPageStatuses, renderErrorPages, type ErrorPageFile, type ErrorPageStatus } from './pages.ts';
export {
  allowEveryone,
  allowListFile,
  allowListText,
  bufferBytes,
  chunkedBodyLimit,
  rateWindowMs,
} from './rules.ts';
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
// Observability: the access log into Steward, and HAProxy's own exporter.
export { AccessLogFile, type AccessLogFileOptions } from './access-log-file.ts';
export {
  AccessLogReceiver,
  accessLogOutcomes,
  createAccessLogMetrics,
  type AccessLogCounts,
  type AccessLogMetrics,
  type AccessLogReceiverOptions,
} from './access-log-receiver.ts';
export {
  accessLogLine,
  accessLogRing,
  countRequests,
  observationOf,
  parseAccessLogMessage,
  renderAccessLogRing,
  type StageLookup,
  type StageNames,
} from './access-log-stream.ts';
export { HaproxyExporter } from './exporter.ts';
export { DataPlaneAccessLog, type DataPlaneAccessLogOptions } from './observability.ts';
// The controller: Steward's desired state into HAProxy.
export { DataPlane } from './controller.ts';
export type { DataPlaneAddress, DataPlaneOptions, ServerSource } from './options.ts';
export { checkHaproxyInstalled, dataPlaneDir, haproxyPackage } from './layout.ts';
export { stageTraffic, type StageTraffic } from './traffic.ts';
