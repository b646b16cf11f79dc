import pg from 'pg';
import type { Logger } from 'pino';
import type { AlertsApi } from '../alerts/contract.ts';
import type { Clock } from '../core/clock.ts';
import { UnavailableError } from '../core/errors.ts';
import { isConnectionLoss } from '../core/retry.ts';
import {
  clusterIsRunning,
  postmasterIsZombie,
  startCluster,
  type LocalCluster,
} from '../databases/local-cluster.ts';
import { initialWatchState, planWatch, type Outage, type Probe, type WatchState } from './outage.ts';

/**
 * Starts the control database's cluster again, when Steward runs it itself.
 * `running`: it was running already (recovering, or someone else started it).
 */
export interface ClusterRestarter {
  start(): Promise<'started' | 'running'>;
}

/** The embedded cluster of `steward up`: started again by pg_ctl, as the postgres user. */
export function localClusterRestarter(cluster: LocalCluster, reapWaitMs = 3000): ClusterRestarter {
  return {
    start: async () => {
      // A killed postmaster not yet reaped would fail this attempt: give its parent a moment.
      const deadline = Date.now() + reapWaitMs;
      while (Date.now() < deadline && (await postmasterIsZombie(cluster))) await sleep(100);
      if (await clusterIsRunning(cluster)) return 'running';
      await startCluster(cluster);
      return 'started';
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the watchdog hands on when an outage is over. */
export interface EndedOutage {
  readonly since: Date;
  readonly until: Date;
  readonly reason: string;
  readonly restarts: number;
}

export interface ControlDatabaseWatchdogOptions {
  /** The app role's URL: the probe is what every service does, a session and a statement. */
  readonly url: string;
  /** Present when Steward runs the cluster (steward up's embedded one): then it restarts it. */
  readonly restarter?: ClusterRestarter | undefined;
  readonly logger: Logger;
  readonly clock: Clock;
  /**
   * Where the alert about an ended outage goes (source `watchdog`); undefined
   * while no alert service runs in this process. A raise that fails is kept
   * and tried again on the next pass.
   */
  readonly alerts?: () => Pick<AlertsApi, 'raise'> | undefined;
  /** Probe this often while the database is reachable (default 2000 ms); 1000 ms while it is not. */
  readonly everyMs?: number;
  readonly backoff?: { readonly firstMs: number; readonly capMs: number };
}

const probeTimeoutMs = 3000;

/**
 * Steward's watch over its own control database. Holds one session and asks
 * `select 1` every couple of seconds; a session the server ends runs a pass at
 * once. It logs an outage once, restarts a cluster Steward runs with backoff
 * (logging every attempt), and when the database answers again logs how long
 * it was gone and raises an alert about it. The rest of Steward needs no
 * signal: listeners listen again by themselves, and every loop's next pass
 * simply works again.
 */
export class ControlDatabaseWatchdog {
  readonly #o: ControlDatabaseWatchdogOptions;
  #state: WatchState = initialWatchState;
  #client: pg.Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  readonly #pendingAlerts: EndedOutage[] = [];

  constructor(options: ControlDatabaseWatchdogOptions) {
    this.#o = options;
  }

  /** The outage in progress, if any. */
  get outage(): Outage | undefined {
    return this.#state.outage;
  }

  start(): void {
    if (this.#stopped || this.#timer || this.#running) return;
    this.#schedule(this.#o.everyMs ?? 2000);
  }

  /** Waits for a pass in flight (a restart included). Safe twice. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
    await this.#dropClient();
  }

  /** One pass: probe, then log, restart or recover as planWatch says. Concurrent calls share a pass. */
  pass(): Promise<void> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined;
      // Whatever ran this pass (the timer, a session's end, the API), the next one follows the new state.
      this.#schedule(this.#nextPassInMs());
    });
    return this.#running;
  }

  /**
   * For the API's error handler: the 503 that an error stands for when it is
   * a lost connection and the control database is indeed unreachable (probed
   * unless an outage is known already). Anything else is not its call.
   */
  async unavailable(error: unknown): Promise<UnavailableError | undefined> {
    if (!isConnectionLoss(error)) return undefined;
    // A known outage answers at once: the pass in flight may be a restart that takes seconds.
    if (!this.#state.outage) await this.pass();
    const outage = this.#state.outage;
    if (!outage) return undefined;
    const doing = this.#o.restarter ? 'Steward is restarting it' : 'Steward is reconnecting';
    return new UnavailableError(`the control database is unreachable: ${outage.reason}; ${doing}`, {
      cause: error,
    });
  }

  async #pass(): Promise<void> {
    try {
      await this.#step();
    } catch (error) {
      this.#o.logger.error({ err: (error as Error).message }, 'control database watchdog pass failed');
    }
  }

  async #step(): Promise<void> {
    const probe = await this.#probe();
    const now = this.#o.clock.now().getTime();
    const planned = planWatch(this.#state, probe, now, {
      canRestart: this.#o.restarter !== undefined && !this.#stopped,
      ...(this.#o.backoff ? { backoff: this.#o.backoff } : {}),
    });
    this.#state = planned.state;
    for (const step of planned.steps) {
      switch (step.kind) {
        case 'lost':
          this.#o.logger.error(
            { reason: step.outage.reason },
            this.#o.restarter
              ? 'the control database is unreachable; Steward restarts it'
              : 'the control database is unreachable; Steward reconnects',
          );
          break;
        case 'restart':
          // Started: look again at once rather than a tick later.
          if (await this.#restart(step.attempt, step.nextInMs)) return this.#step();
          break;
        case 'recovered': {
          const ended: EndedOutage = {
            since: new Date(step.outage.sinceMs),
            until: new Date(now),
            reason: step.outage.reason,
            restarts: step.outage.attempts,
          };
          this.#o.logger.warn(
            { downMs: step.downMs, reason: ended.reason, restarts: ended.restarts },
            'the control database is reachable again',
          );
          this.#pendingAlerts.push(ended);
          break;
        }
        case 'healthy':
        case 'wait':
          break;
      }
    }
    if (!this.#state.outage) await this.#raisePending();
  }

  async #restart(attempt: number, nextInMs: number): Promise<boolean> {
    const restarter = this.#o.restarter;
    if (!restarter) return false;
    this.#o.logger.warn({ attempt }, 'starting the control database cluster again');
    try {
      const how = await restarter.start();
      this.#o.logger.warn({ attempt, how }, 'the control database cluster runs');
      return how === 'started';
    } catch (error) {
      this.#o.logger.error(
        { attempt, err: (error as Error).message, nextAttemptInMs: nextInMs },
        'starting the control database cluster failed; trying again later',
      );
      return false;
    }
  }

  async #raisePending(): Promise<void> {
    const alerts = this.#o.alerts?.();
    if (!alerts) {
      this.#pendingAlerts.length = 0;
      return;
    }
    while (this.#pendingAlerts.length > 0) {
      const outage = this.#pendingAlerts[0] as EndedOutage;
      const seconds = ((outage.until.getTime() - outage.since.getTime()) / 1000).toFixed(1);
      try {
        await alerts.raise({
          source: 'watchdog',
          // One alert per outage: a second outage is news, not a repeat of the first.
          dedupKey: `control-database-outage/${outage.since.toISOString()}`,
          severity: 'critical',
          summary: `the control database was unreachable for ${seconds} s (${outage.reason})${
            outage.restarts > 0
              ? `; Steward restarted its cluster (${outage.restarts} ${outage.restarts === 1 ? 'attempt' : 'attempts'})`
              : ''
          }`,
          details: {
            since: outage.since.toISOString(),
            until: outage.until.toISOString(),
            reason: outage.reason,
            restartAttempts: outage.restarts,
          },
        });
        this.#pendingAlerts.shift();
      } catch (error) {
        this.#o.logger.warn(
          { err: (error as Error).message },
          'the alert about the outage is not raised yet',
        );
        return;
      }
    }
  }

  async #probe(): Promise<Probe> {
    try {
      const client = this.#client ?? (await this.#connect());
      await client.query('select 1');
      return { ok: true };
    } catch (error) {
      await this.#dropClient();
      return { ok: false, reason: describeFailure(error) };
    }
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#o.url,
      application_name: 'steward-watchdog',
      connectionTimeoutMillis: probeTimeoutMs,
      query_timeout: probeTimeoutMs,
    });
    // The session ending is the earliest news of an outage: look at once.
    client.on('error', () => {
      if (this.#client === client) this.#client = undefined;
      if (!this.#stopped) void this.pass();
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.#client = client;
    return client;
  }

  async #dropClient(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** While the database is gone: every second, and exactly when a restart attempt is due. */
  #nextPassInMs(): number {
    const outage = this.#state.outage;
    if (!outage) return this.#o.everyMs ?? 2000;
    const due = outage.nextAttemptAtMs - this.#o.clock.now().getTime();
    return Math.max(50, Math.min(1000, due));
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.pass(), ms);
    this.#timer.unref();
  }
}

/** A failure's message without anything secret: pg's messages name hosts and ports, never passwords. */
function describeFailure(error: unknown): string {
  const err = error as { message?: unknown; code?: unknown; errors?: unknown };
  if (Array.isArray(err.errors) && err.errors.length > 0) return describeFailure(err.errors[0]);
  const message = typeof err.message === 'string' && err.message !== '' ? err.message : String(error);
  return message.replace(/postgres(ql)?:\/\/[^\s@]*@/g, 'postgres://');
}
