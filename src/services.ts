import type { HaDriver } from './databases/patroni/driver.ts';
import type { Logger } from 'pino';
import { AuditService } from './audit/service.ts';
import { AuditCheckpointSchedule } from './audit/checkpointing.ts';
import { checkpointFile } from './audit/checkpoint-file.ts';
import { AuditKeys } from './audit/integrity.ts';
import { sharedRepositoryCheckpointStores } from './backups/audit-checkpoints.ts';
import type { Clock } from './core/clock.ts';
import type { Config } from './core/config.ts';
import type { DatabaseDrivers } from './databases/driver.ts';
import { OperatorService } from './identity/operators.ts';
import { TokenService } from './identity/tokens.ts';
import { Directory } from './identity/directory/index.ts';
import { LdapReader, LdapSyncService, ldapSyncJobKind } from './identity/ldap/index.ts';
import { ScimService, ScimTokenService } from './identity/scim/index.ts';
import type { KeyringStore } from './secrets/keyring.ts';
import { SecretService } from './secrets/service.ts';
import type { ControlDb } from './store/db.ts';
import { localFiles, type FilesDriver } from './tenants/files.ts';
import { ReleaseService } from './runtime/releases.ts';
import { DeploymentService, deployJobKind } from './runtime/deployments.ts';
import { StageRuntime } from './runtime/stage-runtime.ts';
import type { StageEndpoints } from './runtime/endpoints.ts';
import { ProcessRuntimeDriver } from './runtime/process-driver.ts';
import { StageReadModel } from './runtime/read-model.ts';
import type { Supervisor } from './runtime/supervisor.ts';
import { isolationReport, type IsolationReport, type StageSandbox } from './runtime/sandbox/index.ts';
import { reconcileTenant, StageReconciler } from './tenants/reconciler.ts';
import { stageJobKind, TenantService } from './tenants/service.ts';
import { defaultJobPollMs, type JobHandler } from './jobs/runner.ts';
import { dirname, join } from 'node:path';
import { GatewayService } from './gateway/service.ts';
import { publicEdge } from './gateway/public-origin.ts';
import {
  sessionDirectory,
  IdentitySettings,
  SessionKeys,
  SessionService,
} from './identity/sessions/index.ts';
import { AuthPages, routePlaces } from './identity/pages/index.ts';
import {
  ExportSchedule,
  ExportService,
  exportJobKind,
  exportScheduleJobKind,
} from './backups/logical/index.ts';
import {
  BackupService,
  backupClusterJobKind,
  backupRequestJobKind,
  backupVerifyJobKind,
  type BackupTarget,
  type HaBackupClusters,
  type DedicatedClusters,
} from './backups/service.ts';
import { checkRepositoryGeography } from './backups/geography.ts';
import { longestRetentionDays } from './backups/retention.ts';
import { DrillService, haClustersOf, isHaDriver } from './drills/index.ts';
import { stageRestores } from './backups/kept-databases.ts';
import { repositoryPlacements } from './backups/stanzas.ts';
import type { BackupRun } from './backups/runs.ts';
import type { BackupS3Keys } from './core/env.ts';
import type { LocalCluster } from './databases/local-cluster.ts';
import { NotificationService } from './notifications/index.ts';
import { chainLength } from './notifications/outbox.ts';
import { AlertService, BroadcastPager, defaultRules } from './alerts/index.ts';
import { OnCallService } from './oncall/index.ts';
import { StewardMetrics } from './metrics/index.ts';
import { Watchdog } from './watchdog/index.ts';
import { IncidentService, NoticePass } from './incidents/index.ts';
import { MaintenanceService } from './maintenance/index.ts';
import {
  RestoreService,
  restoreJobKind,
  restoreTestJobKind,
  restoreTestScheduleJobKind,
} from './backups/restore-service.ts';
import {
  CheckRunner,
  CheckService,
  CheckStore,
  stewardTargets,
  type GatewayEndpoint,
} from './monitoring/index.ts';
import { SlaEvidence, SlaService, SlaStore } from './sla/index.ts';
import { HealingService, healLimits, stewardHealDrivers } from './healing/index.ts';
import { haHealHeld } from './healing/ha.ts';
import { StatusService } from './status/index.ts';
import {
  adminInvitePage,
  BreakGlassService,
  breakGlassPage,
  TenantAdminService,
} from './identity/admins/index.ts';
import {
  createOidcModule,
  directoryJoin,
  registerOidcPages,
  type OidcModule,
} from './identity/oidc/index.ts';
import { LocalUsers } from './identity/local/index.ts';
import { RoleService } from './identity/roles/index.ts';
import { NodeDirectory } from './cluster/index.ts';
import { SettingsService } from './settings/index.ts';

/** Everything the API, the CLI's server side and the scheduler call. */
export interface Services {
  readonly tenants: TenantService;
  readonly operators: OperatorService;
  readonly audit: AuditService;
  /** Signed checkpoints of the audit chain: at start, on a timer, at stop. */
  readonly auditCheckpoints: AuditCheckpointSchedule;
  readonly secrets: SecretService;
  readonly releases: ReleaseService;
  readonly deployments: DeploymentService;
  readonly runtime: StageRuntime;
  /** What runs where (ps, logs), read only. */
  readonly runtimeView: StageReadModel;
  readonly stageReconciler: StageReconciler;
  readonly gateway: GatewayService;
  readonly exports: ExportService;
  /** Exports by the tenants' policies, and their retention. */
  readonly exportSchedule: ExportSchedule;
  readonly backups: BackupService;
  readonly restores: RestoreService;
  /** Notification channels, the outbox and its dispatcher. */
  readonly notifications: NotificationService;
  /** Operators' checks; the runner probes every check and stores the results as time. */
  readonly checks: CheckService;
  readonly checkRunner: CheckRunner;
  /** Alerts: raised by rules over checks and from outside; told through a pager (on-call replaces it). */
  readonly alerts: AlertService;
  /** On-call: schedules, escalation (the alerts' pager), signed links, reaction times. */
  readonly oncall: OnCallService;
  /** Steward's own metrics (/metrics); the runners report to it. */
  readonly metrics: StewardMetrics;
  /** Steward watching itself: stalled loops, backlogs and late checks raise alerts. */
  readonly watchdog: Watchdog;
  /** SLA policies, exclusions and reports (frozen once a period is closed). */
  readonly sla: SlaService;
  /** Incidents; the notice pass reminds and escalates security incidents' deadlines. */
  readonly incidents: IncidentService;
  readonly incidentNotices: NoticePass;
  /** Self-healing: the Healer of alert rules with a heal action, and its attempts as evidence. */
  readonly healing: HealingService;
  /** The public status page, served by the gateway. */
  readonly status: StatusService;
  /** Maintenance windows: planned, announced to tenants' contacts; they mute alerts. */
  readonly maintenance: MaintenanceService;
  /** Tenant admins (the customers' IT, scoped to one tenant) and their invitations. */
  readonly tenantAdmins: TenantAdminService;
  /** Operators' time-limited, audited access into a tenant's stage that requires sign-in. */
  readonly breakGlass: BreakGlassService;
  /** A tenant's local users (passwords, MFA, invitations, resets), user management, and the login log. */
  readonly localUsers: LocalUsers;
  /** Groups to app roles per tenant and stage; the RoleResolver sessions ask when minting. */
  readonly roles: RoleService;
  readonly jobHandlers: Readonly<Record<string, JobHandler>>;
  /** How far stages are isolated from each other and from Steward on this machine. */
  readonly isolation: IsolationReport;
  /** The ha tier (Patroni), when this installation offers it: its clusters, for drills, checks and tenant show. */
  readonly ha: HaDriver | undefined;
  /** OIDC sign-in of hosted apps' users: the tenants' connections and the sign-in (issue 13). */
  readonly oidc: OidcModule;
  /** Identity for hosted apps (issue 13): settings per tenant and stage, end users' edge sessions, the sign-in pages. */
  readonly identitySettings: IdentitySettings;
  readonly sessions: SessionService;
  readonly authPages: AuthPages;
  /** Issue 13: the people and groups of each tenant (SCIM, directory sync, local users, OIDC write through it). */
  readonly directory: Directory;
  /** Issue 13: users and groups pulled from tenants' LDAP / Active Directory, scheduled and on demand. */
  readonly ldap: LdapSyncService;
  /** SCIM 2.0 per tenant: its bearer tokens, and Users and Groups over the Directory. */
  readonly scimTokens: ScimTokenService;
  readonly scim: ScimService;
  /** Issue 14: failover drills of ha stages, kept as evidence. */
  readonly drills: DrillService;
  /** Issue 14: the Steward nodes on this control database, their health and the leases they hold (steward node list). */
  readonly nodes: NodeDirectory;
  /** Issue 15: the effective limits and the regions, as operators read them (config is file-only). */
  readonly settings: SettingsService;
}

export interface ServiceDependencies {
  readonly config: Config;
  readonly db: ControlDb;
  readonly keyringStore: KeyringStore;
  readonly drivers: DatabaseDrivers;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly files?: FilesDriver;
  readonly supervisor: Supervisor;
  /** The stage sandbox (uids, mounts, network rules); undefined: stages run as Steward's own user. */
  readonly sandbox: StageSandbox | undefined;
  /** Where the stages' traffic goes (the data plane's); the runtime's own Node proxies when not given. */
  readonly endpoints?: StageEndpoints;
  readonly runtimeTickMs?: number;
  /** The shared cluster, when Steward runs it itself (only then are its stages backed up). */
  readonly sharedCluster?: LocalCluster | undefined;
  /** The dedicated tier's clusters, for their backups. */
  readonly dedicatedClusters?: DedicatedClusters | undefined;
  /** The ha tier's clusters, for their backups and restores. */
  readonly haClusters?: HaBackupClusters | undefined;
  /** S3 backup repository keys from the environment. */
  readonly backupS3Keys?: Readonly<Record<number, BackupS3Keys>>;
  /** Called after each good physical backup. */
  readonly onBackupSucceeded?: (cluster: BackupTarget, run: BackupRun) => Promise<void>;
  /** A superuser URL of the shared cluster: restores copy into it. */
  readonly sharedClusterUrl?: string | undefined;
  /** This process's gateway, once it listens: built-in HTTP checks go through it. */
  readonly gatewayEndpoint?: () => GatewayEndpoint | undefined;
  /** The HTTPS port this process's data plane listens on, once it does (any role): links name it. */
  readonly edgePort?: () => number | undefined;
  /** Steward's metrics, when the caller feeds them too (the job runner, the supervisor); default: new ones. */
  readonly metrics?: StewardMetrics;
}

/** The composition root of the service layer: wiring only, nothing runs here. */
export async function createServices(deps: ServiceDependencies): Promise<Services> {
  const { config, db, clock, logger, drivers } = deps;
  // ha stages' clusters as drills, the ha checks and healing see them, over this installation's ha driver.
  const stageClusters = isHaDriver(drivers.ha) ? haClustersOf(drivers.ha) : undefined;
  const metrics = deps.metrics ?? new StewardMetrics({ clock, db });
  const secrets = new SecretService(db, deps.keyringStore, await deps.keyringStore.load(), {
    clock,
    // Retired master keys outlive every backup that may need them (the control database's among them).
    backupRetentionDays: async (): Promise<number> =>
      longestRetentionDays((await backups.tenantPolicies()).map((t) => t.policy)),
  });
  const audit = new AuditService({
    db,
    clock,
    keys: new AuditKeys(secrets.masterKeys()),
    logger: logger.child({ component: 'audit' }),
    checkpointStores: () =>
      Promise.resolve([
        checkpointFile(join(config.dataDir, 'audit', 'checkpoints.jsonl')),
        // Next to the control database's backups, when Steward backs up the cluster that holds it.
        ...(config.backups.enabled && deps.sharedCluster
          ? sharedRepositoryCheckpointStores({
              dataDir: config.dataDir,
              repositories: config.backups.repositories.length,
              user: deps.sharedCluster.user,
            })
          : []),
      ]),
  });
  const auditCheckpoints = new AuditCheckpointSchedule({
    pass: () => audit.checkpoint(),
    everyMs: config.audit.checkpointMinutes * 60_000,
    logger: logger.child({ component: 'audit' }),
  });
  const files = deps.files ?? localFiles();
  const tenants = new TenantService({
    db,
    secrets,
    audit,
    clock,
    regions: config.regions,
    defaultRegion: config.defaultRegion,
    defaultStages: config.defaultStages,
    instancePrefix: config.instancePrefix,
    filesRoot: join(config.dataDir, 'files'),
    drivers,
    ...(config.backups.enabled
      ? {
          // A tenant's backups never leave its geography: refuse tenants the repositories would take out of it.
          checkNewTenant: (tenant: { slug: string; region: string }) =>
            checkRepositoryGeography(config.regions, repositoryPlacements(config.backups), tenant),
        }
      : {}),
  });
  const releases = new ReleaseService({
    db,
    audit,
    releasesDir: join(config.dataDir, 'releases'),
    logger: logger.child({ component: 'releases' }),
    sandbox: deps.sandbox,
  });
  const deployments = new DeploymentService(db, audit);
  const runtimeDriver = new ProcessRuntimeDriver({
    supervisor: deps.supervisor,
    sandbox: deps.sandbox,
    logsDir: join(config.dataDir, 'logs'),
  });
  const runtime = new StageRuntime({
    db,
    driver: runtimeDriver,
    tenants,
    audit,
    logger: logger.child({ component: 'runtime' }),
    clock,
    nodeBinDir: dirname(process.execPath),
    ...(deps.endpoints ? { endpoints: deps.endpoints } : {}),
    ...(deps.runtimeTickMs ? { tickMs: deps.runtimeTickMs } : {}),
  });
  const runtimeView = new StageReadModel({
    db,
    driver: runtimeDriver,
    tenants,
    clock,
    logsDir: join(config.dataDir, 'logs'),
  });
  const tokens = new TokenService({
    db,
    audit,
    clock,
    maxLifetimeDays: config.identity.maxTokenLifetimeDays,
  });
  const operators = new OperatorService({ db, secrets, audit, clock, limits: config.login, tokens });
  const stageReconciler = new StageReconciler({
    db,
    drivers,
    files,
    secrets,
    audit,
    clock,
    logger: logger.child({ component: 'reconciler' }),
    instancePrefix: config.instancePrefix,
    restartStage: (stageId) => runtime.restartStage(stageId),
    restores: stageRestores(db),
  });
  const gateway = new GatewayService({
    db,
    secrets,
    audit,
    clock,
    baseDomain: config.gateway.baseDomain,
    tenants,
  });
  const exports = new ExportService({
    db,
    tenants,
    secrets,
    audit,
    clock,
    logger: logger.child({ component: 'exports' }),
    dataDir: config.dataDir,
    stageUid: (stageId) => runtime.stageUid(stageId),
  });
  const backups = new BackupService({
    db,
    secrets,
    audit,
    clock,
    logger: logger.child({ component: 'backups' }),
    tenants,
    settings: config.backups,
    dataDir: config.dataDir,
    sharedCluster: deps.sharedCluster,
    dedicated: deps.dedicatedClusters,
    ha: deps.haClusters,
    ...(deps.backupS3Keys ? { s3Keys: deps.backupS3Keys } : {}),
    // Fingerprints for restore tests, right after each good backup; then the caller's hook.
    onBackupSucceeded: async (target: BackupTarget, run: BackupRun) => {
      try {
        await restores.afterBackup(target, run);
      } finally {
        await deps.onBackupSucceeded?.(target, run);
      }
    },
  });
  const exportSchedule = new ExportSchedule({
    db,
    exports,
    policies: backups,
    clock,
    logger: logger.child({ component: 'export-schedule' }),
  });
  const restores = new RestoreService({
    db,
    audit,
    clock,
    logger: logger.child({ component: 'restores' }),
    tenants,
    backups,
    exports,
    runtime,
    dataDir: config.dataDir,
    sharedClusterUrl: deps.sharedClusterUrl,
    ha: deps.haClusters,
    settings: {
      restoreTestStages: config.backups.restoreTests.stages,
      restoreTestEveryHours: config.backups.restoreTests.everyHours,
    },
  });
  const notifications = new NotificationService({
    db,
    secrets,
    audit,
    clock,
    logger: logger.child({ component: 'notifications' }),
    settings: config.notifications,
    observer: metrics.notifications,
  });
  const checkStore = new CheckStore(db);
  const alerts = new AlertService({
    db,
    audit,
    clock,
    logger: logger.child({ component: 'alerts' }),
    settings: config.alerts,
    pager: new BroadcastPager(notifications),
    rules: [...(config.alerts.extraRules ?? []), ...(config.alerts.rules ?? defaultRules)],
    checks: checkStore,
    stagesOf: async (slug) => (await tenants.show(slug)).stages.map((s) => s.name),
  });
  notifications.onDelivered((row, at) => alerts.notified(row.notification.key, at));
  notifications.onUndeliverable(async (row, reason) => {
    await alerts.undeliverable({ id: row.id, ...row.notification, channels: chainLength(row) }, reason);
  });
  const oncall = new OnCallService({
    db,
    audit,
    clock,
    logger: logger.child({ component: 'oncall' }),
    secrets,
    notifications,
    alerts: () => alerts,
    fallbackPager: new BroadcastPager(notifications),
    settings: config.oncall,
  });
  // Schedules and escalation; the default pager still tells alerts without a policy.
  alerts.usePager(oncall.pager);
  const incidentLogger = logger.child({ component: 'incidents' });
  const incidentDeps = { db, clock, logger: incidentLogger, settings: config.incidents, notifications };
  const incidents = new IncidentService({
    ...incidentDeps,
    audit,
    tenants,
    alerts,
    healing: { attemptsFor: (alertId) => healing.attemptsFor(alertId) },
  });
  const incidentNotices = new NoticePass(incidentDeps);
  const maintenance = new MaintenanceService({
    db,
    audit,
    clock,
    logger: logger.child({ component: 'maintenance' }),
    settings: config.maintenance,
    tenants,
    notifications,
    changed: () => alerts.mutesChanged(),
  });
  const checks = new CheckService({
    store: checkStore,
    tenants,
    audit,
    clock,
    defaultTimeoutMs: config.monitoring.timeoutMs,
  });
  const checkRunner = new CheckRunner({
    store: checkStore,
    clock,
    logger: logger.child({ component: 'checks' }),
    settings: config.monitoring,
    onChanges: (check, changes) => alerts.checkAlerts?.changed(check, changes) ?? Promise.resolve(),
    observer: metrics.checks,
    targets: stewardTargets({
      db,
      runtimeView,
      tenants,
      backups: config.backups.enabled ? backups : undefined,
      gateway: deps.gatewayEndpoint ?? (() => undefined),
      intervalSeconds: config.monitoring.intervalSeconds,
      timeoutMs: config.monitoring.timeoutMs,
      dataDir: config.dataDir,
      haClusters: stageClusters,
    }),
  });
  const watchdog = new Watchdog({
    db,
    metrics,
    alerts,
    clock,
    logger: logger.child({ component: 'watchdog' }),
    settings: config.watchdog,
    loops: {
      checks: { tickMs: config.monitoring.tickMs, longestWorkMs: config.monitoring.timeoutMs },
      jobs: { tickMs: defaultJobPollMs, longestWorkMs: 0 },
      // An SMTP delivery may spend a timeout each on connecting, the greeting and the exchange.
      notifications: {
        tickMs: config.notifications.pollSeconds * 1000,
        longestWorkMs: config.notifications.timeoutSeconds * 3000,
      },
    },
  });
  const sla = new SlaService({
    store: new SlaStore(db),
    evidence: new SlaEvidence(db),
    tenants,
    audit,
    clock,
  });
  const healing = new HealingService({
    db,
    audit,
    clock,
    logger: logger.child({ component: 'healing' }),
    limits: healLimits(config.healing),
    drivers: stewardHealDrivers({
      runtime,
      runtimeView,
      supervisor: deps.supervisor,
      tenants,
      backups: config.backups.enabled ? backups : undefined,
      haClusters: stageClusters,
    }),
    held: (action, target) =>
      haHealHeld(
        { tenants, haClusters: stageClusters, drillRunning: (scope) => drills.store.running(scope) },
        action,
        target,
      ),
  });
  alerts.useHealer(healing);
  const status = new StatusService({
    db,
    clock,
    tenants,
    audit,
    logger: logger.child({ component: 'status' }),
    settings: config.statusPage,
    baseDomain: config.gateway.baseDomain,
    port: config.gateway.port,
    notifications,
  });
  const directory = new Directory({ db, logger: logger.child({ component: 'directory' }) });
  const ldap = new LdapSyncService({
    db,
    directory,
    secrets,
    audit,
    clock,
    logger: logger.child({ component: 'ldap-sync' }),
    reader: new LdapReader({ allowLoopback: config.identity.ldapAllowLoopback }),
  });
  // Mailed links, break-glass links and the SCIM base URL name the port the edge listens on.
  const edge = publicEdge({
    baseDomain: config.gateway.baseDomain,
    configuredPort: config.gateway.port,
    listening: () => deps.edgePort?.() ?? deps.gatewayEndpoint?.()?.port,
  });
  const scimTokens = new ScimTokenService({
    db,
    tenantId: (tenant) => directory.tenantId(tenant),
    audit,
    clock,
    baseUrl: (tenant) => `${edge.tenantOrigin(tenant)}/scim/v2`,
  });
  const localUsers = new LocalUsers({
    db,
    secrets,
    audit,
    clock,
    notifications,
    limits: config.login,
    directory,
    origin: (tenant) => edge.tenantOrigin(tenant),
  });
  const oidc = await createOidcModule({
    db,
    secrets,
    audit,
    clock,
    logger,
    idpCaFile: config.identity.idpCaFile,
    publicPort: () => edge.port(),
    loginLog: localUsers.log,
    directory: directoryJoin(directory),
  });
  // Identity for hosted apps (issue 13): edge sessions and the sign-in pages (id-edge).
  const identitySettings = new IdentitySettings(db, audit);
  // Groups to app roles (id-roles): the identity JWT carries the roles the tenant's mappings give.
  const roles = new RoleService({ db, audit, tenants });
  const sessions = new SessionService({
    db,
    keys: new SessionKeys(db, secrets, clock),
    settings: identitySettings,
    directory: sessionDirectory(directory),
    roles,
    clock,
    logger: logger.child({ component: 'sessions' }),
  });
  // A deactivated or deleted user's sessions end at once (a refresh would refuse them anyway).
  directory.onUserGone((gone) =>
    sessions
      .revokeUser(gone.tenantId, gone.userId, gone.kind === 'deleted' ? 'deleted' : 'deactivated')
      .then(() => undefined),
  );
  tenants.useIdentityKeys(() => sessions.jwks());
  const authPages = new AuthPages({
    sessions,
    settings: identitySettings,
    places: routePlaces(db, config.gateway.baseDomain),
    logger: logger.child({ component: 'auth-pages' }),
    log: localUsers.log,
    oidc: oidc.signIn,
  });
  registerOidcPages(authPages, oidc.signIn);
  // Local users (id-local): sign-in on the pages, their own pages beside it, sessions ended on disable/delete/reset.
  localUsers.useSettings({
    enabled: async (place) => (await identitySettings.resolve(place.tenantId, place.stage)).localUsers,
    mfaRequired: async (place) =>
      (await identitySettings.resolve(place.tenantId, place.stage)).mfa === 'required',
  });
  localUsers.useSessions({
    revokeUser: (tenantId, userId) => sessions.revokeUser(tenantId, userId, 'revoked'),
  });
  authPages.useLocal(localUsers.signIn);
  // The signed-in user of a page: a live session (not revoked, within its timeouts) of this host.
  for (const [name, handler] of Object.entries(
    localUsers.pages((context) => authPages.currentUser(context.req, context.place)),
  )) {
    authPages.add(name, handler);
  }
  // Tenant admins and break-glass (issue 13, src/identity/admins/).
  const publicApiUrl = (): string => oncall.publicUrl() ?? `https://${config.api.host}:${config.api.port}`;
  const tenantAdmins = new TenantAdminService({
    db,
    audit,
    clock,
    tokens,
    mfa: operators,
    notifications,
    apiUrl: publicApiUrl,
    tenantOrigin: (tenant) => edge.tenantOrigin(tenant),
  });
  const breakGlass = new BreakGlassService({
    db,
    audit,
    clock,
    sessions,
    loginLog: localUsers.log,
    stageOrigin: (tenant, stage) => edge.stageOrigin(tenant, stage),
  });
  authPages.add('break-glass', breakGlassPage(breakGlass));
  authPages.add(
    'admin-invite',
    adminInvitePage(tenantAdmins, publicApiUrl, () => edge.consoleOrigin()),
  );
  const drills = new DrillService({
    db,
    tenants,
    audit,
    clock,
    logger: logger.child({ component: 'drills' }),
    clusters: stageClusters,
  });
  return {
    drills,
    oidc,
    identitySettings,
    sessions,
    authPages,
    tenantAdmins,
    breakGlass,
    directory,
    ldap,
    scimTokens,
    scim: new ScimService({ directory, audit }),
    nodes: new NodeDirectory(db, config.node.leaseSeconds * 1000),
    settings: new SettingsService({ config, db }),
    status,
    localUsers,
    roles,
    tenants,
    operators,
    audit,
    auditCheckpoints,
    secrets,
    releases,
    deployments,
    runtime,
    runtimeView,
    stageReconciler,
    gateway,
    exports,
    exportSchedule,
    backups,
    restores,
    ha: deps.drivers.ha,
    // Without a sandbox (a gateway-only process, or no root): what a non-root Steward gets.
    isolation:
      deps.sandbox?.report ??
      isolationReport({ root: false, mountsUnavailable: undefined, networkUnavailable: undefined }),
    notifications,
    checks,
    checkRunner,
    alerts,
    oncall,
    metrics,
    watchdog,
    sla,
    incidents,
    incidentNotices,
    healing,
    maintenance,
    jobHandlers: {
      [stageJobKind]: async (job) => {
        const outcome = await stageReconciler.handle(job);
        // A dedicated stage that became ready gets its cluster's backups.
        await backups.stageChanged(job.key).catch((error: unknown) => {
          logger.warn(
            { stage: job.key, err: (error as Error).message },
            'backups of a ready stage not queued',
          );
        });
        return outcome;
      },
      'reconcile-tenant': (job) => reconcileTenant(db, audit, job.key),
      [deployJobKind]: runtime.handleDeploy,
      [exportJobKind]: exports.handle,
      [exportScheduleJobKind]: exportSchedule.handle,
      [backupClusterJobKind]: backups.handleCluster,
      [backupVerifyJobKind]: backups.handleVerify,
      [backupRequestJobKind]: backups.handleRequest,
      [restoreJobKind]: restores.handleRestore,
      [restoreTestJobKind]: restores.handleRestoreTest,
      [restoreTestScheduleJobKind]: restores.handleSchedule,
      [ldapSyncJobKind]: ldap.handle,
    },
  };
}
