import { InputError, showValue } from '../core/errors.ts';

/** The physical backup kinds pgBackRest knows; a diff or incr needs a full before it. */
export const backupTypes = ['full', 'diff', 'incr'] as const;
export type BackupType = (typeof backupTypes)[number];

export const fullIntervals = ['weekly', 'daily'] as const;
export const diffIntervals = ['daily'] as const;
export const incrIntervals = ['2h'] as const;
export const exportIntervals = ['daily', 'weekly'] as const;
export type ExportInterval = (typeof exportIntervals)[number];

/**
 * What a cluster's physical backups run by: how often each kind runs and how
 * long backups are kept. A tenant's policy has these and more; a cluster's is
 * merged from its tenants' (clusterPolicy).
 */
export interface PhysicalPolicy {
  readonly full: (typeof fullIntervals)[number];
  readonly diff: (typeof diffIntervals)[number] | null;
  readonly incr: (typeof incrIntervals)[number] | null;
  /** Backups (and the WAL they need) are kept for this many days at least; logical exports too. */
  readonly retainDays: number;
  /** Beyond retainDays, the newest full of each of the last this many UTC days; null: off. */
  readonly keepDaily: number | null;
  /** …of each of the last this many ISO weeks (UTC); null: off. */
  readonly keepWeekly: number | null;
  /** …of each of the last this many calendar months (UTC); null: off. */
  readonly keepMonthly: number | null;
}

/** The optional retention tiers, each with its unit and the most it may be. */
export const retentionTiers = [
  { field: 'keepDaily', unit: 'days', max: 3650 },
  { field: 'keepWeekly', unit: 'weeks', max: 520 },
  { field: 'keepMonthly', unit: 'months', max: 120 },
] as const;
export type RetentionTier = (typeof retentionTiers)[number]['field'];

/** A tenant's backup policy: its physical backups, and how often each of its stages is exported. */
export interface BackupPolicy extends PhysicalPolicy {
  /** A logical export of each ready stage this often; null: none are scheduled. */
  readonly exports: ExportInterval | null;
}

/** The default: a full every week, a diff every day, kept 30 days; an export every week. */
export const defaultBackupPolicy: BackupPolicy = {
  full: 'weekly',
  diff: 'daily',
  incr: null,
  retainDays: 30,
  keepDaily: null,
  keepWeekly: null,
  keepMonthly: null,
  exports: 'weekly',
};

const hour = 3_600_000;
const intervalMs = { weekly: 7 * 24 * hour, daily: 24 * hour, '2h': 2 * hour } as const;

export function intervalOf(interval: keyof typeof intervalMs): number {
  return intervalMs[interval];
}

export function checkPolicy(policy: BackupPolicy): BackupPolicy {
  if (!fullIntervals.includes(policy.full)) {
    throw new InputError(`full must be one of ${fullIntervals.join(', ')}, not ${String(policy.full)}`, {
      field: 'full',
    });
  }
  if (policy.diff !== null && !diffIntervals.includes(policy.diff)) {
    throw new InputError(`diff must be daily or null, not ${String(policy.diff)}`, { field: 'diff' });
  }
  if (policy.incr !== null && !incrIntervals.includes(policy.incr)) {
    throw new InputError(`incr must be 2h or null, not ${String(policy.incr)}`, { field: 'incr' });
  }
  if (!Number.isInteger(policy.retainDays) || policy.retainDays < 1 || policy.retainDays > 9999) {
    throw new InputError(
      `retainDays must be a whole number from 1 to 9999, not ${String(policy.retainDays)}`,
      {
        field: 'retainDays',
      },
    );
  }
  for (const { field, unit, max } of retentionTiers) {
    const value: unknown = policy[field];
    if (value !== null && (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max)) {
      throw new InputError(
        `${field} must be a whole number of ${unit} from 1 to ${max}, or null (off), not ${typeof value === 'number' ? String(value) : showValue(value)}`,
        { field },
      );
    }
  }
  if (policy.exports !== null && !exportIntervals.includes(policy.exports)) {
    throw new InputError(
      `exports must be ${exportIntervals.join(', ')} or null (off), not ${String(policy.exports)}`,
      { field: 'exports' },
    );
  }
  return policy;
}

/**
 * The policy of a cluster: the most demanding of its tenants' policies (each
 * kind at its most frequent, the longest retention and of each tier), since one stanza backs up
 * every stage on the cluster. A cluster without tenants keeps the default.
 * Exports are per stage, not per cluster: they are not part of it. Pure.
 */
export function clusterPolicy(policies: readonly PhysicalPolicy[]): PhysicalPolicy {
  if (policies.length === 0) return physicalPart(defaultBackupPolicy);
  const most = <T extends string>(values: readonly (T | null)[]): T | null => {
    let best: T | null = null;
    for (const value of values) {
      if (
        value !== null &&
        (best === null ||
          intervalMs[value as keyof typeof intervalMs] < intervalMs[best as keyof typeof intervalMs])
      ) {
        best = value;
      }
    }
    return best;
  };
  return {
    full: most(policies.map((p) => p.full)) ?? defaultBackupPolicy.full,
    diff: most(policies.map((p) => p.diff)),
    incr: most(policies.map((p) => p.incr)),
    retainDays: Math.max(...policies.map((p) => p.retainDays)),
    keepDaily: longest(policies.map((p) => p.keepDaily)),
    keepWeekly: longest(policies.map((p) => p.keepWeekly)),
    keepMonthly: longest(policies.map((p) => p.keepMonthly)),
  };
}

/** The longest of a tier across tenants; off only where every tenant has it off. */
function longest(values: readonly (number | null)[]): number | null {
  const on = values.filter((v): v is number => v !== null);
  return on.length === 0 ? null : Math.max(...on);
}

/** The part of a policy a cluster's physical backups run by. */
function physicalPart(policy: PhysicalPolicy): PhysicalPolicy {
  return {
    full: policy.full,
    diff: policy.diff,
    incr: policy.incr,
    retainDays: policy.retainDays,
    keepDaily: policy.keepDaily,
    keepWeekly: policy.keepWeekly,
    keepMonthly: policy.keepMonthly,
  };
}
