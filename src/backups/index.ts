/**
 * Backups. Physical backups are pgBackRest's, one stanza per cluster, with two
 * encrypted repositories (repo1 regional, repo2 off-site); logical exports live
 * in ./logical.
 *
 * repo2 may be an S3 bucket (tested against s3rver over HTTPS: backup, WAL
 * archiving, point-in-time restore). Retention and verify are tested on path
 * repositories, where they really act: s3rver's listing hides deeper
 * prefixes, so there expire only drops backups from pgBackRest's catalogue
 * (their objects stay, and expireAndCheck, which reads the catalogue, cannot
 * tell) and verify finds none of the archived WAL.
 *
 * The backup service (service.ts) puts it together: the clusters Steward
 * backs up (the shared cluster only when Steward runs it, archiving from its
 * first start; each dedicated stage's cluster once it is ready), one stanza
 * each under <dataDir>/backups/state, per-tenant policies merged per cluster
 * (clusterPolicy), a schedule job and a verify job per cluster, operator
 * requests followed by id, and freshness for `tenant show`. Restores build on
 * BackupService.stageTarget / target (the prepared cluster, its driver and
 * state dir); their library lives in ./restore.
 */
export {
  checkPolicy,
  clusterPolicy,
  defaultBackupPolicy,
  backupTypes,
  exportIntervals,
  type BackupPolicy,
  type BackupType,
  type ExportInterval,
  type PhysicalPolicy,
} from './policy.ts';
export { dueBackup, type CompletedBackup, type ScheduleDecision } from './schedule.ts';
export { scheduledBackup, type ScheduledBackupResult } from './scheduled-backup.ts';
export {
  expiredBackups,
  longestRetentionDays,
  retentionOf,
  retentionReachDays,
  tieredExpiry,
  walFulls,
  type RepoRetention,
  type RetentionPolicy,
} from './retention.ts';
export {
  BackupBusyError,
  expireAndCheck,
  expireLabels,
  listBackupRuns,
  runBackup,
  type BackupRun,
  type BackupRunRequest,
} from './runs.ts';
export {
  renderConfig,
  s3UriStyles,
  type PathRepository,
  type PgBackRestConfig,
  type Repository,
  type S3Repository,
} from './pgbackrest/config.ts';
export {
  pgbackrestDriver,
  PgBackRestError,
  type BackupOutcome,
  type ExpireOptions,
  type PgBackRestDriver,
  type VerifyOutcome,
} from './pgbackrest/driver.ts';
export { newestWal, parseInfo, type BackupInfo, type StanzaInfo } from './pgbackrest/info.ts';
export { enableArchiving } from './pgbackrest/archiving.ts';
export {
  prepareStanza,
  repositoryPassphrase,
  type PreparedStanza,
  type RepositorySpec,
  type StanzaSetup,
} from './pgbackrest/setup.ts';
export { checkRepositoryGeography, type RepositoryPlacement } from './geography.ts';
export {
  BackupService,
  backupClusterJobKind,
  backupRequestJobKind,
  backupVerifyJobKind,
  type BackupClusterKind,
  type BackupClusterView,
  type BackupRequestView,
  type BackupRunView,
  type BackupServiceOptions,
  type BackupTarget,
  type DedicatedClusters,
  type PolicyChange,
  type PolicyView,
  type ScheduledPassResult,
  type StageBackup,
  type StageBackupsView,
  type TenantBackupView,
} from './service.ts';
export { freshnessOf, restorableViews, type Freshness, type RestorableView } from './freshness.ts';
export {
  externalSharedReason,
  prepareSharedArchiving,
  repositoryPlacements,
  s3KeySecretNames,
  sharedStanza,
  stanzaConfigPath,
  stanzaStateDir,
} from './stanzas.ts';
