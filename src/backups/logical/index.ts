export {
  ExportService,
  exportJobKind,
  exportKeySecret,
  exportStatuses,
  type ExportKeySet,
  type ExportKeyView,
  type ExportStatus,
  type ExportView,
  type ImportResult,
  type SetExportKeyInput,
} from './service.ts';
export { decryptStream, identityFromFile, type ExportKey, type ExportSecret } from './age.ts';
export { readExportArchive, type ExportManifest, type ExportSummary } from './archive.ts';
export { defaultRetainDays, expiredExports, type RetainedExport } from './retention.ts';
export { dueExport, type ExportDecision } from './schedule.ts';
export {
  ExportSchedule,
  exportScheduleJobKind,
  type ExportScheduleOptions,
  type ExportSchedulePassResult,
  type TenantPolicies,
} from './scheduled-exports.ts';
