import { z } from 'zod';
import { InputError } from '../../core/errors.ts';

/**
 * Patroni's timing and safety settings for the `ha` tier: the values Steward
 * chose, each with its measured effect (bench/ha-tuning.ts: Patroni 3.0.2,
 * etcd 3.4, PostgreSQL 15 with fsync on, three members and the router on
 * loopback on a shared 2-core machine, SIGKILL of the primary's Patroni and
 * postmaster together, one writer through the router).
 *
 * What bounds the failover time after the primary's machine dies:
 *
 *   the leader key expires   ttl after its last renewal (renewed every loop_wait: ttl − loop_wait .. ttl after the kill)
 * + a replica notices        it watches the key in etcd: at once, at most loop_wait
 * + it takes the key and promotes   ≈ 0.3–0.8 s (pg_ctl promote, a new timeline)
 * + the router sees it       ≤ inter × rise (0.5 s) after /primary answers 200
 *
 * So writes resume about ttl after the kill, never much later: measured
 * 6.9–7.8 s with ttl 7 (8 kills over two runs), 9.6–10.6 s with ttl 10,
 * 5.6–6.3 s with ttl 6, and 27.3–29.8 s with Patroni's defaults (ttl 30); no
 * acknowledged commit lost in synchronous mode in any of them. Patroni requires
 * loop_wait + 2 × retry_timeout ≤ ttl, so that a primary cut off from etcd
 * demotes itself before its key can expire (never two primaries):
 * 1 + 2 × 3 = 7 ≤ 7.
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
  ttl: 7,
  loopWait: 1,
  retryTimeout: 3,
  primaryStartTimeout: 10,
  failsafeMode: true,
  maximumLagOnFailover: 1_048_576,
  routerCheckIntervalMs: 500,
  routerFall: 2,
  routerRise: 1,
};

/** Patroni's own defaults (and HAProxy's check defaults): the anchor failover measurements compare against. */
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
  ttl: '7 s (Patroni: 30). The leader key expiry is the failover time: writes resumed 6.9-7.8 s after a SIGKILL of the primary (5 kills, 0 lost in synchronous mode), against 27.3-29.8 s with the defaults and 9.6-10.6 s with ttl 10 (over the 10 s target at its worst). ttl 6 (with retry_timeout 2) gave 5.6-6.3 s but leaves a primary 2 s of etcd stalls before it demotes itself; a loaded 2-core machine showed Patroni loops over a second late.',
  loopWait:
    '1 s (Patroni: 10). How often each member renews its key and the leader its lock: one etcd write per member per second, a few hundred a second for a hundred clusters, small for etcd. It is also part of the bound (loop_wait + 2 x retry_timeout <= ttl), so a shorter loop leaves more of ttl for retries.',
  retryTimeout:
    '3 s (Patroni: 10). A primary that cannot reach etcd (or PostgreSQL) for this long demotes itself unless failsafe mode keeps it; kept at 3 s rather than 2 s so that a second or two of etcd or CPU stall on a busy machine does not cause a failover.',
  primaryStartTimeout:
    '10 s (Patroni: 300). Only when PostgreSQL crashed and Patroni lives: 10 s of crash recovery in place before a replica takes over, instead of five minutes of downtime; with synchronous replication the replica has every acknowledged commit.',
  failsafeMode:
    'on (Patroni: off). With etcd down, a primary that reaches every member over REST stays primary: with etcd stopped for 15 s under the write load, the longest pause between acknowledged writes was 0.15 s with it and 13.5 s without (the primary demoted itself after retry_timeout). With one etcd per region, an etcd restart would otherwise stop writes on every ha stage of the region.',
  maximumLagOnFailover:
    '1 MiB (as Patroni). Only matters for asynchronous stages: a replica further behind is not promoted.',
  routerCheckIntervalMs:
    '500 ms (HAProxy: 2 s). The router sends connections to a new primary within inter x rise (0.5 s) of its /primary answering 200, and drops an old one within inter x fall (1 s): one HTTP GET per member per half second.',
  routerFall: '2 (HAProxy: 3): a member is dropped, and its sessions shut, after 1 s of failed checks.',
  routerRise: '1 (HAProxy: 2): a new primary gets connections after one good check.',
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
