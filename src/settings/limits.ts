import { configSchema, type Config } from '../core/config.ts';
import { stageRoleConnectionLimit } from '../databases/catalog.ts';
import { tmpSizeBytes } from '../runtime/sandbox/plan.ts';
import { maxInstances, maxProcessTypes } from '../runtime/app-definition.ts';
import { pageLimit } from '../api/pagination.ts';

/**
 * The limits Steward enforces, as an operator reads them: each with its
 * value, its default, where it is set and whether it differs. Pure: a
 * function of the resolved config. Steward's config is a file read once at
 * start (no reload, no settings table), so this is a view; a value changes
 * by editing the config field named and restarting, as with GitLab's
 * gitlab.rb or Grafana's grafana.ini.
 */
export const limitGroups = ['client', 'tenant', 'stage', 'identity', 'api', 'operations'] as const;
export type LimitGroup = (typeof limitGroups)[number];

/** Where a limit is set: Steward's config file, Steward's code, each stage's settings, each release's app definition. */
export const limitSources = ['config', 'built-in', 'stage', 'release'] as const;
export type LimitSource = (typeof limitSources)[number];

export const limitUnits = ['count', 'bytes', 'ms', 'seconds', 'minutes', 'days', 'per-second'] as const;
export type LimitUnit = (typeof limitUnits)[number];

export interface LimitView {
  readonly group: LimitGroup;
  /** Stable, for programs: the config field's last part, or the limit's own name. */
  readonly name: string;
  readonly description: string;
  /** null: none applies (set per stage or per release, and not set by default). */
  readonly value: number | null;
  readonly default: number | null;
  readonly unit: LimitUnit;
  readonly source: LimitSource;
  /** The field to change it by: the config field path (source config), the stage setting or the app definition's field; null for built-in limits. */
  readonly field: string | null;
  /** The value differs from the default (only config limits can). */
  readonly changed: boolean;
}

export interface LimitsView {
  /** False: Steward's config is file-only; change a limit in the config file and restart Steward. */
  readonly editable: false;
  readonly howToChange: string;
  readonly limits: readonly LimitView[];
}

type Entry =
  | {
      readonly source: 'config';
      readonly group: LimitGroup;
      readonly field: string;
      readonly unit: LimitUnit;
      readonly description: string;
    }
  | {
      readonly source: Exclude<LimitSource, 'config'>;
      readonly group: LimitGroup;
      readonly name: string;
      readonly field: string | null;
      readonly value: number | null;
      readonly unit: LimitUnit;
      readonly description: string;
    };

const configured = (group: LimitGroup, field: string, unit: LimitUnit, description: string): Entry => ({
  source: 'config',
  group,
  field,
  unit,
  description,
});

const gateway = (name: string, unit: LimitUnit, description: string, group: LimitGroup = 'client') =>
  configured(group, `gateway.limits.${name}`, unit, description);

/** Every limit, in the order an operator reads them; each config field once. */
const entries: readonly Entry[] = [
  gateway('maxHeaderCount', 'count', 'header fields in one request; beyond: 431'),
  gateway('maxHeaderBytes', 'bytes', 'bytes of header fields in one request; beyond: 431'),
  gateway('maxTargetBytes', 'bytes', 'length of the request target (path and query); beyond: 414'),
  gateway('maxBodyBytes', 'bytes', 'size of a request body; beyond: 413'),
  gateway('headersTimeoutMs', 'ms', 'time a client has to send the whole request head'),
  gateway('bodyIdleTimeoutMs', 'ms', 'time a request body may stall between two reads; then 408'),
  gateway('requestTimeoutMs', 'ms', 'time a whole request (head and body) may take to arrive'),
  gateway('keepAliveTimeoutMs', 'ms', 'time a kept-alive connection may sit without a request'),
  gateway('maxConnectionsPerAddress', 'count', 'open connections of one client address'),
  gateway('maxTrackedAddresses', 'count', 'client addresses tracked at once'),
  gateway('addressRatePerSecond', 'per-second', 'sustained requests per client address'),
  gateway('addressBurst', 'count', 'requests of one client address at once after a quiet spell'),
  gateway('rateLimitMaxKeys', 'count', 'buckets a rate limiter keeps at most'),
  configured(
    'client',
    'gateway.upstreamTimeoutSeconds',
    'seconds',
    "time the edge waits for a stage's response headers; then 504",
  ),
  gateway(
    'tenantRatePerSecond',
    'per-second',
    'requests of a tenant on the shared tier, over all its stages',
    'tenant',
  ),
  gateway(
    'dedicatedTenantRatePerSecond',
    'per-second',
    'requests of a tenant on the dedicated tier',
    'tenant',
  ),
  gateway('haTenantRatePerSecond', 'per-second', 'requests of a tenant on the ha tier', 'tenant'),
  gateway(
    'tenantBurst',
    'count',
    'requests of a shared-tier tenant at once (other tiers scale with their rates)',
    'tenant',
  ),
  gateway(
    'maxConcurrentRequestsPerTenant',
    'count',
    'requests of one tenant in flight at the edge; beyond: 503 with Retry-After',
    'tenant',
  ),
  {
    source: 'stage',
    group: 'stage',
    name: 'filesQuotaBytes',
    field: 'filesQuotaBytes',
    value: null,
    unit: 'bytes',
    description:
      "a stage's files directory; over it the directory turns read-only (steward stage settings --files-quota)",
  },
  {
    source: 'release',
    group: 'stage',
    name: 'memoryMb',
    field: 'resources.memoryMb',
    value: null,
    unit: 'count',
    description: "memory per process in MB, from the release's app definition; over it the kernel kills it",
  },
  {
    source: 'built-in',
    group: 'stage',
    name: 'maxProcessTypes',
    field: null,
    value: maxProcessTypes,
    unit: 'count',
    description: "process types in a release's app definition",
  },
  {
    source: 'built-in',
    group: 'stage',
    name: 'maxInstances',
    field: null,
    value: maxInstances,
    unit: 'count',
    description: 'copies of one process type in a stage',
  },
  {
    source: 'built-in',
    group: 'stage',
    name: 'tmpSizeBytes',
    field: null,
    value: tmpSizeBytes,
    unit: 'bytes',
    description: "a stage process's private /tmp (held in memory)",
  },
  {
    source: 'built-in',
    group: 'stage',
    name: 'databaseConnections',
    field: null,
    value: stageRoleConnectionLimit,
    unit: 'count',
    description: "connections of a stage's database role at once",
  },
  configured('stage', 'runtime.uidCount', 'count', 'uids this Steward owns: one for builds, one per stage'),
  configured(
    'identity',
    'login.maxFailuresPerAccount',
    'count',
    'failed logins on one account from one address that lock it there',
  ),
  configured('identity', 'login.lockoutSeconds', 'seconds', 'how long such a lock lasts'),
  configured(
    'identity',
    'login.maxFailuresPerAddress',
    'count',
    'failed logins from one address on any accounts within the window',
  ),
  configured('identity', 'login.addressWindowSeconds', 'seconds', 'the window of failures per address'),
  configured(
    'identity',
    'login.maxUntrustedFailuresPerAccount',
    'count',
    'failed logins on one account from addresses it never signed in from, within the lock time',
  ),
  configured(
    'identity',
    'identity.maxTokenLifetimeDays',
    'days',
    'the longest an API or login token may live',
  ),
  {
    source: 'built-in',
    group: 'api',
    name: 'pageLimitDefault',
    field: null,
    value: pageLimit.default,
    unit: 'count',
    description: 'items of a list page when limit is not given',
  },
  {
    source: 'built-in',
    group: 'api',
    name: 'pageLimitMax',
    field: null,
    value: pageLimit.max,
    unit: 'count',
    description: 'items of a list page at most (the limit query parameter)',
  },
  configured(
    'api',
    'events.bufferBytes',
    'bytes',
    "bytes a slow console's live stream may have waiting; past it the stream is closed",
  ),
  configured(
    'operations',
    'backups.backupTimeoutMinutes',
    'minutes',
    'a backup running longer is cancelled and recorded failed',
  ),
  configured('operations', 'backups.processMax', 'count', "pgBackRest's parallel processes per backup"),
  configured('operations', 'monitoring.timeoutMs', 'ms', 'how long one probe of a check may take'),
  configured('operations', 'monitoring.concurrency', 'count', 'probes in flight at once'),
  configured('operations', 'healing.maxAttempts', 'count', 'self-healing attempts on one target per window'),
  configured('operations', 'healing.windowMinutes', 'minutes', 'the window of self-healing attempts'),
  configured(
    'operations',
    'healing.coolDownSeconds',
    'seconds',
    'pause after an attempt before the next on the same target',
  ),
  configured(
    'operations',
    'healing.attemptTimeoutSeconds',
    'seconds',
    'how long one self-healing attempt may take',
  ),
];

/** The config field at a dotted path, when it is a number. */
function numberAt(config: unknown, path: string): number | null {
  let value: unknown = config;
  for (const part of path.split('.')) {
    value =
      typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  }
  return typeof value === 'number' ? value : null;
}

/** What the config schema fills in when a field is left out. */
export function configDefaults(): unknown {
  return configSchema.parse({ dataDir: '/' });
}

/** The effective limits of this config, each beside its default. */
export function effectiveLimits(config: Config, defaults: unknown = configDefaults()): LimitsView {
  const limits = entries.map((entry): LimitView => {
    if (entry.source !== 'config') {
      const { source, group, name, field, value, unit, description } = entry;
      return { group, name, description, value, default: value, unit, source, field, changed: false };
    }
    const value = numberAt(config, entry.field);
    const fallback = numberAt(defaults, entry.field);
    return {
      group: entry.group,
      name: entry.field.slice(entry.field.lastIndexOf('.') + 1),
      description: entry.description,
      value,
      default: fallback,
      unit: entry.unit,
      source: 'config',
      field: entry.field,
      changed: value !== fallback,
    };
  });
  return {
    editable: false,
    howToChange:
      "Steward's config is a file read at start: edit the field named in the config file and restart Steward; stage and release limits are set per stage (steward stage settings) or in the release's app definition",
    limits,
  };
}
