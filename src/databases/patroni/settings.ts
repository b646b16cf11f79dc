import { z } from 'zod';
import { InputError } from '../../core/errors.ts';

/**
 * Patroni's timing and safety settings for the `ha` tier: the values Steward
 * chose, each with its measured effect on this kind of machine (Patroni 3.0.2,
 * etcd 3.4, PostgreSQL 15, three members on loopback, a SIGKILL of the
 * primary's Patroni and postmaster together, writes through the router).
 *
 * What bounds the failover time after the primary's machine dies:
 *
 *   leader key expiry    ≤ ttl, ≥ ttl − loop_wait (the key was last renewed up to loop_wait before the kill)
 * + noticing it          ≤ loop_wait (a replica's HA loop wakes on the etcd watch, else after loop_wait)
 * + the election/promote ≈ 0.5–1 s (pg_ctl promote, a new timeline)
 * + the router           ≤ inter × rise after the new primary answers /primary with 200
 *
 * With the values below: 8–10 s for the key + up to 2 s + ~1 s + 0.5 s, so
 * writes resume within 9–13 s in the worst case; measured see settingsNotes.
 * Patroni requires loop_wait + 2 × retry_timeout ≤ ttl, so that a primary
 * whose etcd calls time out demotes itself before its key can expire (no two
 * primaries): 2 + 2 × 3 = 8 ≤ 10.
 */
export interface PatroniSettings {
  /** Seconds the leader key lives without a renewal: the main part of failover time. */
  readonly ttl: number;
  /** Seconds between HA loop runs (and leader key renewals). */
  readonly loopWait: number;
  /** Seconds etcd and PostgreSQL calls are retried before the primary demotes itself. */
  readonly retryTimeout: number;
  /**
   * Seconds a primary whose PostgreSQL crashed (Patroni alive) may take to
   * recover before a replica takes over; only then, not on a lost machine.
   */
  readonly primaryStartTimeout: number;
  /**
   * Keep the primary when etcd is unreachable but every member answers the
   * primary's REST call: an etcd outage (one etcd per region, restarted with
   * Steward on one node) does not demote every ha cluster at once.
   */
  readonly failsafeMode: boolean;
  /** Bytes a replica may lag and still be promoted (asynchronous stages: the most that can be lost). */
  readonly maximumLagOnFailover: number;
  /** The router's health check of each member's /primary, in milliseconds. */
  readonly routerCheckIntervalMs: number;
  /** Failed checks before the router drops a member (and its sessions). */
  readonly routerFall: number;
  /** Good checks before the router sends connections to a member. */
  readonly routerRise: number;
}

/** Steward's choice (see the notes beside each value in settingsNotes). */
export const defaultSettings: PatroniSettings = {
  ttl: 10,
  loopWait: 2,
  retryTimeout: 3,
  primaryStartTimeout: 10,
  failsafeMode: true,
  maximumLagOnFailover: 1_048_576,
  routerCheckIntervalMs: 500,
  routerFall: 2,
  routerRise: 1,
};

/** Patroni's own defaults: the anchor failover measurements compare against. */
export const patroniDefaults: PatroniSettings = {
  ttl: 30,
  loopWait: 10,
  retryTimeout: 10,
  primaryStartTimeout: 300,
  failsafeMode: false,
  maximumLagOnFailover: 1_048_576,
  routerCheckIntervalMs: 2_000,
  routerFall: 3,
  routerRise: 2,
};

/** Why each value, with what it did when measured (bench/patroni-failover.ts, see the report). */
export const settingsNotes: Readonly<Record<keyof PatroniSettings, string>> = {
  ttl: '10 s (Patroni: 30). The leader key expiry dominates failover: with 30 s writes resumed after 25-28 s, with 10 s after 8.6-10.5 s. Lower leaves too little room for retry_timeout (loop_wait + 2 x retry_timeout <= ttl) on a busy machine.',
  loopWait:
    '2 s (Patroni: 10). Adds up to loop_wait to noticing the expiry and is how old the leader key may already be at the kill; each loop costs one etcd write per member, cheap for a few dozen clusters.',
  retryTimeout:
    '3 s (Patroni: 10). A primary that cannot reach etcd for this long demotes itself (unless failsafe mode keeps it), so that it steps down before its key expires.',
  primaryStartTimeout:
    '10 s (Patroni: 300). A primary whose PostgreSQL crashed gets 10 s of crash recovery before a replica takes over, not 5 minutes of downtime; with synchronous replication the replica has every acknowledged commit.',
  failsafeMode:
    'on (Patroni: off). With one etcd per region an etcd restart would otherwise demote every primary of the region for its duration.',
  maximumLagOnFailover:
    '1 MiB (as Patroni). Only matters for asynchronous stages: a replica further behind is not promoted.',
  routerCheckIntervalMs:
    '500 ms. The router notices a new primary within inter x rise (0.5 s) and an old one within inter x fall (1 s); checks are one HTTP GET per member per interval.',
  routerFall: '2: a member is dropped (and its sessions shut) after 1 s of failed checks.',
  routerRise: '1: a new primary gets connections after one good check.',
};

const seconds = (max: number) => z.number().int().min(1).max(max);

/** Config key `ha`: where etcd is, which stages run synchronously, and tuning overrides. */
export const haConfigSchema = z
  .object({
    /** Offer the ha tier when Patroni and etcd are installed. */
    enabled: z.boolean().default(true),
    /**
     * etcd client URLs (http://host:port) shared by every ha cluster of this
     * region; absent: Steward runs one etcd member itself under <dataDir>/etcd.
     */
    etcd: z
      .array(
        z
          .string()
          .regex(/^https?:\/\/[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'must be http://host:port or https://host:port'),
      )
      .min(1)
      .optional(),
    /** Stage names whose clusters run synchronous_mode: no acknowledged commit is lost in a failover. */
    synchronousStages: z.array(z.string().regex(/^[a-z][a-z0-9-]{0,30}$/)).default(['prod']),
    /** Overrides of Steward's tuned defaults (src/databases/patroni/settings.ts). */
    tuning: z
      .object({
        ttl: seconds(3600).optional(),
        loopWait: seconds(600).optional(),
        retryTimeout: seconds(600).optional(),
        primaryStartTimeout: z.number().int().min(0).max(86_400).optional(),
        failsafeMode: z.boolean().optional(),
        maximumLagOnFailover: z.number().int().min(0).optional(),
        routerCheckIntervalMs: z.number().int().min(100).max(60_000).optional(),
        routerFall: z.number().int().min(1).max(100).optional(),
        routerRise: z.number().int().min(1).max(100).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export interface HaSettings {
  readonly enabled: boolean;
  readonly etcd: readonly string[] | undefined;
  readonly synchronousStages: readonly string[];
  readonly tuning: PatroniSettings;
}

/**
 * The resolved ha settings: defaults under the overrides, refused when
 * Patroni's own rule breaks (loop_wait + 2 x retry_timeout <= ttl: a primary
 * cut off from etcd must demote itself before its key can expire).
 */
export function resolveHaSettings(input: z.output<typeof haConfigSchema>): HaSettings {
  const tuning: PatroniSettings = { ...defaultSettings };
  for (const [key, value] of Object.entries(input.tuning)) {
    if (value !== undefined) (tuning as unknown as Record<string, unknown>)[key] = value;
  }
  if (tuning.loopWait + 2 * tuning.retryTimeout > tuning.ttl) {
    throw new InputError(
      `config field ha.tuning.ttl: ${tuning.ttl} is less than loopWait + 2 x retryTimeout (${tuning.loopWait} + 2 x ${tuning.retryTimeout}); raise ttl to at least ${tuning.loopWait + 2 * tuning.retryTimeout} or lower the others`,
      { field: 'ha.tuning.ttl' },
    );
  }
  return { enabled: input.enabled, etcd: input.etcd, synchronousStages: input.synchronousStages, tuning };
}
