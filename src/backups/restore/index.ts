/**
 * Restores (issue 5), at library level: the restorable range and its checks,
 * a restore of one backup into a scratch instance (whole cluster or one
 * database with --db-include, to a time, a restore point, the backup's
 * consistent point or the newest WAL), the copy of one database out of it
 * into a target cluster, and the in-place swap. Fingerprints, which restore
 * tests compare, live in ../fingerprint.ts.
 */
export {
  backupForTarget,
  checkRestoreTarget,
  consistentFrom,
  isoSeconds,
  newestBackup,
  restorableRange,
  restorableRanges,
  type RestorableRange,
} from './range.ts';
export {
  cleanScratch,
  restoreIntoScratch,
  scratchSettings,
  ScratchRestoreError,
  targetOptions,
  type CleanScratchOptions,
  type RestoreTarget,
  type ScratchInstance,
  type ScratchRestoreOptions,
} from './scratch.ts';
export { openScratchForApp, scratchStageConnection } from './app-access.ts';
export {
  clientProgram,
  closeCopyTarget,
  copyDatabase,
  CopyDatabaseError,
  defaultCopyMode,
  keptDatabaseName,
  openCopyTarget,
  swapDatabases,
  swapState,
  type ConnectionTarget,
  type CopyDatabaseOptions,
  type CopyOutcome,
  type SwapOutcome,
  type SwapRequest,
  type SwapState,
} from './copy.ts';
export { archiveUpToNow, waitForArchivedWal } from './wal.ts';
export {
  compareFingerprints,
  recordFingerprintWithRestorePoint,
  takeFingerprint,
  type DatabaseAccess,
  type Fingerprint,
  type FingerprintComparison,
  type FingerprintMismatch,
  type RecordedFingerprints,
  type TableFingerprint,
} from '../fingerprint.ts';
