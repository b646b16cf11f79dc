import { join } from 'node:path';
import { z } from 'zod';
import { checkBucket, checkEndpoint } from '../backups/pgbackrest/config.ts';
import { parseAllowList } from '../gateway/allow-list.ts';
import { gatewayLimitsSchema } from '../gateway/limits.ts';
import { alertRuleSchema, defaultRules } from '../alerts/rules.ts';
import { applianceSchema, checkAppliance } from '../appliance/config.ts';
import { haConfigSchema, resolveHaSettings, type HaSettings } from '../databases/patroni/settings.ts';
import { InputError, showValue } from './errors.ts';

/**
 * Steward's configuration: parsed once, at start, into a resolved object.
 * Defaults live here and nowhere else.
 */
export const regionSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
    geography: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  })
  .strict();

const repositoryRegion = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/)
  .optional()
  .describe('the region the repository is in (default: defaultRegion); it must be a configured region');

/** A repository on a mounted path (a local disk, NFS); default <dataDir>/backups/repoN. */
export const pathRepositorySchema = z
  .object({
    kind: z.literal('path'),
    path: z
      .string()
      .regex(/^\/[^\r\n\0]*$/, 'must be an absolute path of one line')
      .optional(),
    region: repositoryRegion,
  })
  .strict();

/**
 * A repository in an S3 bucket. Its keys are not part of the config: they are
 * kept in the secret store, seeded from STEWARD_BACKUP_REPO<N>_S3_KEY and
 * STEWARD_BACKUP_REPO<N>_S3_KEY_SECRET.
 */
export const s3RepositorySchema = z
  .object({
    kind: z.literal('s3'),
    /** Host name only, e.g. s3.eu-central-1.amazonaws.com. */
    endpoint: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65535).optional(),
    bucket: z.string().min(3).max(63),
    /** The S3 API region, e.g. us-east-1. */
    s3Region: z.string().min(1).max(63),
    /** Prefix inside the bucket, e.g. /steward. */
    path: z.string().regex(/^\//, 'must be an absolute prefix such as /steward'),
    uriStyle: z.enum(['host', 'path']).default('host'),
    /** PEM file of the CA to trust for the endpoint (default: the system's). */
    caFile: z
      .string()
      .regex(/^\/[^\r\n\0]*$/, 'must be an absolute path of one line')
      .optional(),
    verifyTls: z.boolean().default(true),
    region: repositoryRegion,
  })
  .strict();

export const backupsSchema = z
  .object({
    /** Physical backups (pgBackRest) of the clusters Steward runs itself. */
    enabled: z.boolean().default(true),
    /** repo1 (regional) and optionally repo2 (off-site); default: two path repositories under dataDir. */
    repositories: z
      .array(z.discriminatedUnion('kind', [pathRepositorySchema, s3RepositorySchema]))
      .min(1)
      .max(2)
      .optional(),
    /** A backup running longer is cancelled and recorded failed. */
    backupTimeoutMinutes: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 60)
      .default(240),
    /** pgBackRest's process-max: parallel compression and transfer. */
    processMax: z.number().int().min(1).max(32).default(2),
    /** How often each cluster's repositories are verified (pgbackrest verify). */
    verifyHours: z
      .number()
      .int()
      .min(1)
      .max(30 * 24)
      .default(24),
    /** Restore tests: scheduled for these stages (whose databases are also fingerprinted after each backup). */
    restoreTests: z
      .object({
        stages: z
          .array(z.string().regex(/^[a-z](?:[a-z0-9-]{0,12}[a-z0-9])?$/, 'must be a stage name'))
          .default(['prod']),
        /** How often each of those stages gets one. */
        everyHours: z
          .number()
          .int()
          .min(1)
          .max(30 * 24)
          .default(24),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export const configSchema = z
  .object({
    dataDir: z.string().min(1),
    /** The control database; when absent Steward runs its own cluster under dataDir. */
    databaseUrl: z.string().url().optional(),
    /** Owner connection for migrations; defaults to databaseUrl. */
    databaseAdminUrl: z.string().url().optional(),
    /** Superuser connection to the cluster that holds shared-tier stages. */
    sharedClusterUrl: z.string().url().optional(),
    /** Steward on three nodes (src/appliance/): this node's name and every node's ports; absent: one node. */
    appliance: applianceSchema.optional(),
    api: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8440),
      })
      .strict()
      .prefault({}),
    /** The TLS edge for end users: one HTTPS listener, and a plain HTTP one that only redirects. */
    gateway: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8443),
        /** Plain HTTP, answering only 308 redirects to HTTPS; 0 disables it. */
        httpPort: z.number().int().min(0).max(65535).default(8080),
        /** Stages are reached at <stage>.<tenant>.<baseDomain>, prod also at <tenant>.<baseDomain>. */
        baseDomain: z
          .string()
          .regex(/^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/)
          .default('localhost'),
        /** Seconds between full reloads of the route table (NOTIFY applies changes at once). */
        resyncSeconds: z.number().int().min(1).max(300).default(5),
        /** How long the gateway waits for a stage's response headers before a 504. */
        upstreamTimeoutSeconds: z.number().int().min(1).max(3600).default(60),
        /** HSTS max-age in seconds. */
        hstsMaxAgeSeconds: z.number().int().min(0).default(31_536_000),
        /** Limits on clients (sizes, timeouts, connections and rates per address and tenant); defaults in gateway/limits.ts. */
        limits: gatewayLimitsSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    regions: z
      .array(regionSchema)
      .min(1)
      .default([{ name: 'local', geography: 'local' }]),
    defaultRegion: z.string().default('local'),
    defaultStages: z.array(z.string()).min(1).default(['dev', 'test', 'prod']),
    /** Prefix of every database and role Steward creates in a cluster it shares with others. */
    instancePrefix: z
      .string()
      .regex(/^[a-z][a-z0-9]{0,6}_$/)
      .default('st_'),
    /** How many stages the reconciler works on at once. */
    reconcileConcurrency: z.number().int().min(1).max(64).default(4),
    /** Seconds between full resyncs of desired and observed state. */
    resyncSeconds: z.number().int().min(1).default(30),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** The stage sandbox (when Steward runs as root): uids, network rules, builds. */
    runtime: z
      .object({
        /**
         * Builds run as uid uidBase, stage N's processes as uidBase + N. Two
         * Stewards on one machine need ranges that do not overlap: the network
         * rules of each apply to its whole range.
         */
        uidBase: z.number().int().min(1000).max(4_000_000_000).default(200_000),
        /** How many uids from uidBase this Steward owns (stage ids 1 to uidCount - 1). */
        uidCount: z.number().int().min(2).max(10_000_000).default(100_000),
        /** Stage processes may connect to addresses that are not this machine's (the internet, other hosts). */
        outbound: z.boolean().default(true),
        /** Builds may connect outbound (npm ci needs the registry); false gives them no network at all. */
        buildNetwork: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    backups: backupsSchema,
    /** The ha tier (Patroni): etcd, synchronous stages, failover tuning. */
    ha: haConfigSchema,
    /** The audit log's signed checkpoints (src/audit/checkpointing.ts). */
    audit: z
      .object({
        /** Minutes between signed checkpoints of the audit chain (also one at start and at stop). */
        checkpointMinutes: z.number().int().min(1).max(60).default(10),
      })
      .strict()
      .prefault({}),
    /** Failed-login limits; what each means is in identity/lockout.ts. */
    login: z
      .object({
        /** Failures on one account from one address (IPv4) or /64 (IPv6) that lock it there. */
        maxFailuresPerAccount: z.number().int().min(1).default(5),
        lockoutSeconds: z.number().int().min(1).default(900),
        /** Failures from one address or /64, on any accounts, within addressWindowSeconds. */
        maxFailuresPerAddress: z.number().int().min(1).default(20),
        addressWindowSeconds: z.number().int().min(1).default(900),
        /** Failures on one account from addresses it never signed in from, within lockoutSeconds. */
        maxUntrustedFailuresPerAccount: z.number().int().min(1).default(50),
      })
      .strict()
      .prefault({}),
    /** Notifications (src/notifications): SMTP, retries until a deadline, failover, the operators' fallback channel. */
    notifications: z
      .object({
        /** The mail server; its user and password come from STEWARD_SMTP_USER and STEWARD_SMTP_PASSWORD (kept in the secret store), never from here. */
        smtp: z
          .object({
            host: z.string().min(1).max(253),
            port: z.number().int().min(1).max(65535).default(587),
            /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
            secure: z.boolean().default(false),
            from: z.string().min(3).max(320),
          })
          .strict()
          .optional(),
        /** The channel (by name) that hears of every notification that could not be delivered by its deadline. */
        fallbackChannel: z.string().min(1).max(100).optional(),
        /** How long Steward keeps trying a notification before it fails it (and tells the fallback channel). */
        deadlineMinutes: z
          .number()
          .min(0.05)
          .max(7 * 24 * 60)
          .default(60),
        /** The first retry's delay; each next one doubles, up to retryCapSeconds, with jitter. */
        retryBaseSeconds: z.number().min(0.05).max(3600).default(5),
        retryCapSeconds: z.number().min(0.05).max(3600).default(300),
        /** Failures on one channel before the next channel of the chain is tried. */
        failoverAfter: z.number().int().min(1).max(100).default(3),
        /** How long one delivery may take (SMTP and webhooks). */
        timeoutSeconds: z.number().min(0.1).max(300).default(10),
        /** How often the dispatcher looks for due notifications. */
        pollSeconds: z.number().min(0.05).max(60).default(1),
      })
      .strict()
      .prefault({}),
    /** Checks and their results (src/monitoring/). */
    monitoring: z
      .object({
        /** Days check states and rollups are kept: a calendar-year SLA plus a month by default. */
        retentionDays: z.number().int().min(1).max(3650).default(400),
        /** Seconds between probes of the built-in checks of each stage. */
        intervalSeconds: z.number().int().min(1).max(3600).default(30),
        /** How long one probe may take. */
        timeoutMs: z.number().int().min(100).max(60_000).default(5000),
        /** Probes in flight at once: waiting sockets, cheap; enough that probes timing out hold back no others. */
        concurrency: z.number().int().min(1).max(256).default(64),
        /** How often the runner looks for due checks. */
        tickMs: z.number().int().min(50).max(10_000).default(1000),
        /** Results in a row that change a state (src/monitoring/states.ts). */
        failuresToDown: z.number().int().min(1).max(100).default(2),
        badToDegraded: z.number().int().min(1).max(100).default(2),
        successesToUp: z.number().int().min(1).max(100).default(1),
        /** A probe later than this many intervals means Steward was not probing: the gap is recorded unknown. */
        lateIntervals: z.number().int().min(2).max(100).default(2),
      })
      .strict()
      .prefault({}),
    /** Alerts (src/alerts/): rules over checks, grouping, flapping, silences. */
    alerts: z
      .object({
        /** Alerts of one tenant and stage that start firing within this many seconds are told in one notification. */
        groupWaitSeconds: z.number().min(0).max(300).default(2),
        /** How often pending alerts are fired, mutes re-evaluated and untold events told. */
        passSeconds: z.number().min(0.05).max(60).default(1),
        /** Days resolved alerts and ended silences are kept: a calendar-year SLA plus a month by default. */
        retentionDays: z.number().int().min(1).max(3650).default(400),
        /** A check that changes state this many times within flapWindowMinutes is flapping: one alert, not a storm. */
        flapChanges: z.number().int().min(2).max(1000).default(6),
        flapWindowMinutes: z.number().min(0.05).max(1440).default(10),
        /** Rules over checks, first match wins; left out: the built-in rules (steward alert rules lists them). */
        rules: z
          .array(alertRuleSchema)
          .max(200)
          .refine((rules) => new Set(rules.map((r) => r.name)).size === rules.length, {
            message: 'each rule needs a name of its own',
          })
          .optional(),
        /** Rules tried before `rules` (or before the built-in ones when `rules` is left out): add without replacing. */
        extraRules: z
          .array(alertRuleSchema)
          .max(200)
          .refine((rules) => new Set(rules.map((r) => r.name)).size === rules.length, {
            message: 'each rule needs a name of its own',
          })
          .optional(),
      })
      .strict()
      .refine(
        (a) => {
          const names = [...(a.extraRules ?? []), ...(a.rules ?? defaultRules)].map((r) => r.name);
          return new Set(names).size === names.length;
        },
        {
          message: 'a rule in extraRules has the name of a rule in rules (or of a built-in rule)',
          path: ['extraRules'],
        },
      )
      .prefault({}),
    /** On-call (src/oncall/): escalation, the signed links in page emails, the reaction target. */
    oncall: z
      .object({
        /** The base URL of the links in page emails (https://steward.example.com); default: the API's own address. */
        publicUrl: z
          .string()
          .url()
          .regex(/^https?:\/\/[^\s?#]+$/, 'must be an http(s) URL without query or fragment')
          .optional(),
        /** How long an acknowledge or resolve link in an email works. */
        linkHours: z
          .number()
          .min(0.01)
          .max(7 * 24)
          .default(24),
        /** The reaction a month's report measures against: acknowledged within this many minutes. */
        ackTargetMinutes: z
          .number()
          .min(1)
          .max(24 * 60)
          .default(15),
        /** How often the escalation pass looks for due pages. */
        passSeconds: z.number().min(0.05).max(60).default(5),
      })
      .strict()
      .prefault({}),
    /** `/metrics` (src/metrics/): who may scrape it without an API token. */
    metrics: z
      .object({
        /** Source addresses (CIDR ranges, e.g. 127.0.0.1/32) that may scrape without a token; operators' tokens work from anywhere. */
        allow: z.array(z.string().max(100)).max(1000).default([]),
      })
      .strict()
      .prefault({}),
    /**
     * This Steward process as one node of several against one control
     * database (src/cluster/): singleton work moves between nodes by leases.
     */
    node: z
      .object({
        /** Unique among live nodes (default: the host name, lower-cased). */
        name: z
          .string()
          .regex(
            /^[a-z0-9][a-z0-9.-]{0,62}$/,
            'must be a host-name-like name: a-z, 0-9, "." and "-", 1 to 63',
          )
          .optional(),
        /** How long a lease lasts without renewal: a dead node's singleton work moves after at most this (renewed every third of it). */
        leaseSeconds: z.number().min(1).max(300).default(10),
      })
      .strict()
      .prefault({}),
    /** Live updates for consoles (src/events/, GET /api/v1/events). */
    events: z
      .object({
        /** A comment on an idle stream this often, so that proxies and browsers keep it open. */
        keepaliveSeconds: z.number().min(0.05).max(300).default(15),
        /** During a burst of changes, the hub sends at most once per this many ms (coalesced); a lone change goes at once. */
        coalesceMs: z.number().int().min(0).max(5000).default(50),
        /** Bytes a slow console may have waiting; past it its stream is closed (it reconnects and refetches). */
        bufferBytes: z
          .number()
          .int()
          .min(4096)
          .max(64 * 1024 * 1024)
          .default(1024 * 1024),
      })
      .strict()
      .prefault({}),
    /** Steward watching itself (src/watchdog/): what counts as stalled, backed up or late. */
    watchdog: z
      .object({
        enabled: z.boolean().default(true),
        /** How often the watchdog measures. */
        everySeconds: z.number().min(0.05).max(3600).default(15),
        /** A loop (checks, jobs, notifications) that made no progress for this many of its ticks, with work to do, is stalled. */
        stalledTicks: z.number().int().min(2).max(10_000).default(120),
        /** The oldest pending notification may wait this long. */
        outboxOldestSeconds: z.number().min(1).max(86_400).default(600),
        /** Jobs due but not started may wait this long. */
        jobOldestSeconds: z.number().min(1).max(86_400).default(600),
        /** A backlog (outbox or jobs) that grew at each of this many measurements in a row is growing. */
        growingMeasurements: z.number().int().min(2).max(1000).default(8),
        /** ...and holds at least this many entries (a handful arriving together is not a backlog). */
        growingMinimum: z.number().int().min(1).max(1_000_000).default(50),
        /** A check still unprobed this long after it was due is late. */
        checksLateSeconds: z.number().min(1).max(86_400).default(60),
      })
      .strict()
      .prefault({}),
    /** Maintenance windows (src/maintenance/): how often due announcements to tenants' contacts are sent. */
    maintenance: z
      .object({ passSeconds: z.number().min(0.05).max(3600).default(60) })
      .strict()
      .prefault({}),
    /** Incidents (src/incidents/): the notice deadlines of security incidents, their reminders and escalation. */
    incidents: z
      .object({
        /** Affected customers are told of a confirmed breach within this many hours, unless the tenant's terms say otherwise. */
        customerNoticeHours: z.number().min(0.001).max(720).default(24),
        /** The supervisory authority is told within this many hours (GDPR Art. 33: 72). */
        authorityNoticeHours: z.number().min(0.001).max(720).default(72),
        /** Reminders this many minutes before each deadline (the nearest one passed is sent). */
        remindBeforeMinutes: z.array(z.number().min(0.01).max(43_200)).max(10).default([720, 120, 30]),
        /** Channels (by name) a missed deadline is escalated to; default every enabled channel. */
        escalationChannels: z.array(z.string().min(1).max(100)).min(1).max(10).optional(),
        /** How often due reminders and escalations are looked for. */
        passSeconds: z.number().min(0.05).max(3600).default(30),
      })
      .strict()
      .prefault({}),
    /** Self-healing actions bound to alert rules (src/healing/): on or off, and how often they may act. */
    healing: z
      .object({
        enabled: z.boolean().default(true),
        /** At most this many attempts of one action on one target (a stage, or a process type) per window. */
        maxAttempts: z.number().int().min(1).max(100).default(3),
        windowMinutes: z
          .number()
          .min(0.05)
          .max(24 * 60)
          .default(60),
        /** No attempt on a target until this long after its previous attempt ended. */
        coolDownSeconds: z
          .number()
          .min(0)
          .max(24 * 3600)
          .default(300),
        /** How long one attempt may take (a restart until healthy); longer is recorded failed. */
        attemptTimeoutSeconds: z.number().min(1).max(3600).default(120),
      })
      .strict()
      .prefault({}),
    /** The public status page (src/status/), served by the gateway at <host>.<gateway.baseDomain>. */
    statusPage: z
      .object({
        host: z
          .string()
          .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
          .default('status'),
        title: z.string().min(1).max(100).default('Service status'),
        /** A page is rendered at most this often (and at once after a link change). */
        cacheSeconds: z.number().int().min(1).max(3600).default(10),
      })
      .strict()
      .prefault({}),
    identity: z
      .object({
        /** The longest an API or login token may live; longer requests are refused. */
        maxTokenLifetimeDays: z.number().int().min(1).max(3650).default(90),
        /** Let tenants' LDAP directories be on this machine's loopback addresses (tests only: off, a tenant could reach Steward's own services). */
        ldapAllowLoopback: z.boolean().default(false),
        /** A PEM file of CAs trusted for requests to identity providers (OIDC, Microsoft Graph), besides the system's. */
        idpCaFile: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** A backup repository as Steward uses it: every default filled in. */
export type BackupRepositoryConfig =
  | { readonly kind: 'path'; readonly path: string; readonly region: string }
  | (Omit<z.output<typeof s3RepositorySchema>, 'region'> & { readonly region: string });

export type BackupSettings = Omit<z.output<typeof backupsSchema>, 'repositories'> & {
  readonly repositories: readonly BackupRepositoryConfig[];
};

export type Config = Omit<z.output<typeof configSchema>, 'backups' | 'ha'> & {
  readonly backups: BackupSettings;
  readonly ha: HaSettings;
};
export type ConfigInput = z.input<typeof configSchema>;
export type Region = z.output<typeof regionSchema>;

/** The largest uid Linux hands out ((uid_t)-1 means "no change"). */
const maxUid = 4_294_967_294;

export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (result.success) {
    const config = result.data;
    const regionNames = config.regions.map((r) => r.name).join(', ');
    if (!config.regions.some((r) => r.name === config.defaultRegion)) {
      throw new InputError(
        `config field defaultRegion: ${showValue(config.defaultRegion)} is not one of the regions (${regionNames})`,
        { field: 'defaultRegion' },
      );
    }
    const { uidBase, uidCount } = config.runtime;
    if (uidBase + uidCount > maxUid) {
      throw new InputError(
        `config field runtime.uidCount: ${uidCount} uids from runtime.uidBase ${uidBase} pass the largest uid (${maxUid}); lower one of them`,
        { field: 'runtime.uidCount' },
      );
    }
    // Refused at start, with the entry named, rather than at the first scrape.
    try {
      parseAllowList(config.metrics.allow, 'metrics.allow');
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      throw new InputError(`config field ${error.message}`, { field: 'metrics.allow', cause: error });
    }
    if (config.appliance) checkAppliance(config.appliance);
    return { ...config, backups: resolveBackups(config, regionNames), ha: resolveHaSettings(config.ha) };
  }
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  throw new InputError(`config field ${field || '(root)'}: ${issue?.message ?? 'invalid'}`, { field });
}

/** Fills in the repositories' defaults: two path repositories under the data dir, in the default region. */
function resolveBackups(config: z.output<typeof configSchema>, regionNames: string): BackupSettings {
  const given = config.backups.repositories ?? [{ kind: 'path' as const }, { kind: 'path' as const }];
  const repositories = given.map((repo, index): BackupRepositoryConfig => {
    const region = repo.region ?? config.defaultRegion;
    if (!config.regions.some((r) => r.name === region)) {
      const field = `backups.repositories.${index}.region`;
      throw new InputError(
        `config field ${field}: ${showValue(region)} is not one of the regions (${regionNames})`,
        { field },
      );
    }
    if (repo.kind === 'path') {
      return { kind: 'path', path: repo.path ?? join(config.dataDir, 'backups', `repo${index + 1}`), region };
    }
    // Refused at start, with the field, rather than when the first backup writes pgbackrest.conf.
    checkEndpoint(`config field backups.repositories.${index}.endpoint`, repo.endpoint);
    checkBucket(`config field backups.repositories.${index}.bucket`, repo.bucket);
    return { ...repo, region };
  });
  return { ...config.backups, repositories };
}

/** The JSON schema for editors, generated from the same zod schema. */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input' });
}
