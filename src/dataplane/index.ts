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
export { Haproxy, parseShowProc, type HaproxyOptions, type MasterView, type ProcessView } from './haproxy.ts';
export {
  RuntimeApi,
  RuntimeApiError,
  serverStates,
  type MapEntry,
  type ServerState,
  type ServerStateRow,
} from './runtime-api.ts';
