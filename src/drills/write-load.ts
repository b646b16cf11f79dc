import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { pinned } from '../databases/privileged.ts';
import { appendRun, runsCount, writesResumeMs, type Outage, type Runs } from './measure.ts';

/**
 * The drill's write load: one connection inserting the numbers 1, 2, 3, …
 * as fast as it allows, each in its own transaction, into a table of the
 * drill's own database (`steward_drill`, never a tenant's). Each number the
 * server acknowledges is remembered; on an error the connection is dropped
 * and made again after a short backoff (the router sends it to whichever
 * member is primary then). Afterwards the numbers are read back from the
 * new primary: an acknowledged one that is missing is a lost commit.
 *
 * Exported for the appliance's node-loss drill and the benchmarks.
 */
export interface LoadConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface WriteLoadOptions {
  readonly connection: LoadConnection;
  /** The table written to; made afresh by start(). */
  readonly table?: string;
  /** A reconnect waits this long after the first error, doubling to maxBackoffMs while errors go on. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A write or a connect not answered within this is an error (a member gone silent). */
  readonly timeoutMs?: number;
}

/** The load's measurements; times are ms on the load's own clock (performance.now). */
export interface WriteLoadReport {
  readonly attempted: number;
  readonly acknowledged: Runs;
  readonly acknowledgedCount: number;
  /** Writes that failed: in doubt, they may have committed before the connection broke. */
  readonly failed: number;
  readonly outages: readonly Outage[];
  readonly startedAt: number;
  readonly stoppedAt: number | null;
  /** The last few error messages (codes and pg's texts: no secret). */
  readonly errors: readonly string[];
}

const tableName = /^[a-z_][a-z0-9_]{0,62}$/;

export class WriteLoad {
  readonly #o: Required<Omit<WriteLoadOptions, 'connection'>> & Pick<WriteLoadOptions, 'connection'>;
  readonly #acked: [number, number][] = [];
  readonly #outages: Outage[] = [];
  readonly #errors: string[] = [];
  #attempted = 0;
  #failed = 0;
  #lastAckAt = 0;
  #startedAt = 0;
  #stoppedAt: number | null = null;
  #stopping = false;
  #client: pg.Client | undefined;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(options: WriteLoadOptions) {
    const table = options.table ?? 'writes';
    if (!tableName.test(table)) throw new Error(`table ${JSON.stringify(table)} is not a plain name`);
    this.#o = {
      connection: options.connection,
      table,
      backoffMs: options.backoffMs ?? 50,
      maxBackoffMs: options.maxBackoffMs ?? 400,
      timeoutMs: options.timeoutMs ?? 3_000,
    };
  }

  /** Makes the table afresh and starts writing; resolves once the first write is acknowledged. */
  async start(): Promise<void> {
    if (this.#loop) throw new Error('the write load runs already');
    const client = await this.#connect();
    try {
      await client.query(`drop table if exists public.${this.#o.table}`);
      await client.query(`create table public.${this.#o.table} (n bigint not null)`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.#client = client;
    this.#startedAt = performance.now();
    this.#lastAckAt = this.#startedAt;
    this.#loop = this.#run();
  }

  /** Stops writing (the write in flight finishes or fails) and returns the measurements. */
  async stop(): Promise<WriteLoadReport> {
    this.#stopping = true;
    this.#wake?.();
    await this.#loop;
    this.#stoppedAt ??= performance.now();
    await this.#client?.end().catch(() => undefined);
    this.#client = undefined;
    return this.report();
  }

  report(): WriteLoadReport {
    return {
      attempted: this.#attempted,
      acknowledged: this.#acked.map(([a, b]) => [a, b] as const),
      acknowledgedCount: runsCount(this.#acked),
      failed: this.#failed,
      outages: [...this.#outages],
      startedAt: this.#startedAt,
      stoppedAt: this.#stoppedAt,
      errors: [...this.#errors],
    };
  }

  /** Ms from `faultAt` (performance.now) until writes were acknowledged again; null while they fail. */
  resumeMs(faultAt: number): number | null {
    return writesResumeMs(this.#outages, faultAt);
  }

  get acknowledgedCount(): number {
    return runsCount(this.#acked);
  }

  get stopped(): boolean {
    return this.#stoppedAt !== null;
  }

  /** The numbers the table holds now, ascending: read from whichever member is primary. */
  async found(): Promise<number[]> {
    const client = await this.#connect(30_000);
    try {
      const { rows } = await client.query<{ n: string }>(`select n from public.${this.#o.table} order by n`);
      return rows.map((r) => Number(r.n));
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #run(): Promise<void> {
    let backoff = this.#o.backoffMs;
    while (!this.#stopping) {
      const client = this.#client ?? (await this.#connect().catch((e: unknown) => this.#fail(e)));
      if (!client) {
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
        continue;
      }
      this.#client = client;
      const n = ++this.#attempted;
      try {
        await client.query({ text: `insert into public.${this.#o.table} (n) values ($1)`, values: [n] });
        appendRun(this.#acked, n);
        const now = performance.now();
        const open = this.#outages.at(-1);
        if (open && open.resumedAt === null)
          this.#outages[this.#outages.length - 1] = { ...open, resumedAt: now };
        this.#lastAckAt = now;
        backoff = this.#o.backoffMs;
      } catch (error) {
        this.#failed++;
        this.#fail(error);
        this.#client = undefined;
        void client.end().catch(() => undefined);
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
      }
    }
    this.#stoppedAt = performance.now();
  }

  #fail(error: unknown): undefined {
    const open = this.#outages.at(-1);
    if (!open || open.resumedAt !== null) {
      this.#outages.push({ lastAckAt: this.#lastAckAt, firstErrorAt: performance.now(), resumedAt: null });
    }
    const e = error as { code?: string; message?: string };
    this.#errors.push(`${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`);
    if (this.#errors.length > 10) this.#errors.shift();
    return undefined;
  }

  async #connect(timeoutMs = this.#o.timeoutMs): Promise<pg.Client> {
    const client = new pg.Client(
      pinned({
        ...this.#o.connection,
        connectionTimeoutMillis: timeoutMs,
        query_timeout: timeoutMs,
        keepAlive: true,
        application_name: 'steward-drill',
      }),
    );
    // A server that goes away between writes must not crash Steward: the next write fails instead.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
