import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { ConflictError } from '../core/errors.ts';
import { logPassFailure } from '../core/logger.ts';
import type { ControlDb } from '../store/db.ts';
import { LeaseStore, type LeaseHolder, type LeaseView } from './leases.ts';
import { within } from './within.ts';

/**
 * Nodes: each Steward process against the control database registers under
 * its name (config node.name, default the host name) and beats every couple
 * of seconds by the database's clock. The one writer of the nodes table.
 */

/** How often a node beats: every 2 s, more often when leases are shorter (a third of the ttl). */
export function heartbeatMs(leaseMs: number): number {
  return Math.max(100, Math.min(2000, Math.floor(leaseMs / 3)));
}

export const nodeHealths = ['live', 'late', 'gone'] as const;
export type NodeHealth = (typeof nodeHealths)[number];

/**
 * live: beat within two heartbeats; late: missed some, but within a lease
 * ttl (its leases may still be valid); gone: stopped, or silent for longer
 * than a lease lasts (its leases have expired, its name is free).
 */
export function nodeHealth(
  node: { readonly heartbeatAgeMs: number; readonly stopped: boolean },
  leaseMs: number,
): NodeHealth {
  if (node.stopped || node.heartbeatAgeMs > leaseMs) return 'gone';
  return node.heartbeatAgeMs <= 2 * heartbeatMs(leaseMs) ? 'live' : 'late';
}

/** The row a name is registered under, as registering sees it. */
export interface RegisteredNode {
  readonly incarnation: string;
  readonly host: string;
  readonly pid: number;
  /** Epoch ms, by the host's own clock. */
  readonly processStartedAt: number;
  readonly heartbeatAgeMs: number;
  readonly stopped: boolean;
}

export type Registration =
  | { readonly kind: 'new' }
  /** The name is free again; a dead predecessor's leases end at once (same host, its process gone). */
  | { readonly kind: 'take-over'; readonly predecessor: string; readonly dead: boolean }
  | { readonly kind: 'refuse'; readonly reason: string };

/**
 * Whether a process may register under a name: a live node's name is
 * refused to a second process. A name is free when its node stopped, fell
 * silent for longer than a lease, or ran on this very host as a process that
 * no longer exists (a restart after a kill -9 need not wait out the ttl): its
 * pid is gone, or is now this process's, which started after it (a
 * container's pid 1 after a restart).
 */
export function registration(
  existing: RegisteredNode | undefined,
  me: { readonly host: string; readonly pid: number; readonly processStartedAt: number },
  leaseMs: number,
  processAlive: (pid: number) => boolean,
): Registration {
  if (!existing) return { kind: 'new' };
  if (existing.stopped || existing.heartbeatAgeMs > leaseMs)
    return { kind: 'take-over', predecessor: existing.incarnation, dead: false };
  const gone =
    existing.pid === me.pid ? existing.processStartedAt < me.processStartedAt : !processAlive(existing.pid);
  if (existing.host === me.host && gone)
    return { kind: 'take-over', predecessor: existing.incarnation, dead: true };
  const age = (existing.heartbeatAgeMs / 1000).toFixed(1);
  return {
    kind: 'refuse',
    reason: `a live node has this name: process ${existing.pid} on ${existing.host}, last heartbeat ${age} s ago`,
  };
}

/**
 * When this process started, in epoch ms: from the kernel (the boot time
 * plus the process's start in clock ticks), so that every read in one process
 * gives the same value; from its uptime where /proc is not there.
 */
async function processStartedAt(): Promise<number> {
  try {
    const [stat, self] = await Promise.all([
      readFile('/proc/stat', 'utf8'),
      readFile('/proc/self/stat', 'utf8'),
    ]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(stat)?.[1]);
    // Field 22, counted after the command name (which may hold spaces) in parentheses.
    const startTicks = Number(self.slice(self.lastIndexOf(')') + 2).split(' ')[19]);
    if (Number.isFinite(bootSeconds) && Number.isFinite(startTicks))
      return bootSeconds * 1000 + startTicks * 10;
  } catch {
    // Not Linux: below.
  }
  return Math.round(Date.now() - process.uptime() * 1000);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This machine's default node name: its host name, lower-cased, cut to a valid name. */
export function defaultNodeName(host = hostname()): string {
  const name = host
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63);
  return name === '' ? 'steward' : name;
}

export interface NodeMembershipOptions {
  readonly db: ControlDb;
  readonly leases: LeaseStore;
  readonly name: string;
  readonly leaseMs: number;
  readonly logger: Logger;
}

/** This process's node row: registered at start, beating while it runs, marked stopped at a clean stop. */
export class NodeMembership {
  readonly #o: NodeMembershipOptions;
  readonly holder: LeaseHolder;
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #stopped = false;

  constructor(options: NodeMembershipOptions) {
    this.#o = options;
    this.holder = { node: options.name, incarnation: randomUUID() };
  }

  /** Registers the node (refused with a ConflictError while a live node has its name), then beats. */
  async start(): Promise<void> {
    const { db, name, leaseMs, logger } = this.#o;
    const me = { host: hostname(), pid: process.pid, processStartedAt: await processStartedAt() };
    const decided = await db.transaction().execute(async (tx) => {
      const row = await sql<{
        incarnation: string;
        host: string;
        pid: number;
        process_started_at: Date;
        age_ms: number;
        stopped: boolean;
      }>`select incarnation::text as incarnation, host, pid, process_started_at,
           (extract(epoch from now() - heartbeat_at) * 1000)::float8 as age_ms, stopped_at is not null as stopped
         from nodes where name = ${name} for update`.execute(tx);
      const existing = row.rows[0];
      const decision = registration(
        existing && {
          incarnation: existing.incarnation,
          host: existing.host,
          pid: existing.pid,
          processStartedAt: existing.process_started_at.getTime(),
          heartbeatAgeMs: existing.age_ms,
          stopped: existing.stopped,
        },
        me,
        leaseMs,
        processAlive,
      );
      if (decision.kind === 'refuse') return decision;
      const written = await sql`insert into nodes as n
            (name, incarnation, host, pid, process_started_at, started_at, heartbeat_at)
          values (${name}, ${this.holder.incarnation}::uuid, ${me.host}, ${me.pid},
            ${new Date(me.processStartedAt)}, now(), now())
          on conflict (name) do update set incarnation = excluded.incarnation, host = excluded.host,
            pid = excluded.pid, process_started_at = excluded.process_started_at, api_url = null,
            started_at = now(), heartbeat_at = now(), stopped_at = null
          where n.incarnation = ${existing?.incarnation ?? null}::uuid`.execute(tx);
      // Another process registered the name between our read and our write (it had no row to lock).
      if ((written.numAffectedRows ?? 0n) === 0n)
        return { kind: 'refuse' as const, reason: 'another process registered it at the same moment' };
      return decision;
    });
    if (decided.kind === 'refuse')
      throw new ConflictError(
        `node.name ${name} is taken: ${decided.reason}; give this process another node.name (config node.name), or stop the other one`,
        { field: 'node.name' },
      );
    if (decided.kind === 'take-over' && decided.dead) {
      const ended = await this.#o.leases.releaseAllOf(decided.predecessor);
      if (ended.length > 0)
        logger.info({ leases: ended }, 'leases of this node before its restart ended: taken back at once');
    }
    logger.info({ node: name }, 'node registered');
    this.#timer = setInterval(() => void this.beat(), heartbeatMs(leaseMs));
    this.#timer.unref();
  }

  /** Where this node's API listens (steward node list shows it). */
  async setApiUrl(url: string): Promise<void> {
    await this.#o.db
      .updateTable('nodes')
      .set({ api_url: url })
      .where('name', '=', this.#o.name)
      .where('incarnation', '=', this.holder.incarnation)
      .execute();
  }

  /** One heartbeat (the timer's pass). */
  beat(): Promise<void> {
    if (this.#beating || this.#stopped) return this.#beating ?? Promise.resolve();
    this.#beating = (async () => {
      try {
        const done = await sql`update nodes set heartbeat_at = now()
            where name = ${this.#o.name} and incarnation = ${this.holder.incarnation}::uuid`.execute(
          this.#o.db,
        );
        if ((done.numAffectedRows ?? 0n) === 0n)
          this.#o.logger.error(
            { node: this.#o.name },
            'this node was taken for gone and its name registered again by another process; stop one of them',
          );
      } catch (error) {
        logPassFailure(this.#o.logger, error, 'node heartbeat failed');
      } finally {
        this.#beating = undefined;
      }
    })();
    return this.#beating;
  }

  /** Stops beating and frees the name at once. Safe twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await within(this.#beating ?? Promise.resolve(), this.#o.leaseMs, () => undefined);
    const marked = sql`update nodes set stopped_at = now()
        where name = ${this.#o.name} and incarnation = ${this.holder.incarnation}::uuid`
      .execute(this.#o.db)
      .then(() => undefined)
      .catch((error: unknown) => logPassFailure(this.#o.logger, error, 'node not marked stopped'));
    // The control database cut off: the node shows as gone once its heartbeat is a lease old.
    await within(marked, this.#o.leaseMs, () => undefined);
  }
}

/** A node as `steward node list` shows it. */
export interface NodeView {
  readonly name: string;
  readonly apiUrl: string | null;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly heartbeatAgeSeconds: number;
  readonly health: NodeHealth;
  /** The leases this node holds now. */
  readonly leases: readonly string[];
  /** The node's member of the control database's Patroni cluster (leader, replica, …), when it has one. */
  readonly controlDatabaseRole?: string;
}

/**
 * What Steward asks about the control database's members, when it runs on
 * Patroni (the appliance supplies it): each node's member role by node name.
 */
export interface ControlMemberRoles {
  roles(): Promise<ReadonlyMap<string, string>>;
}

/** Reads nodes and the leases they hold: `steward node list`. */
export class NodeDirectory {
  readonly #db: ControlDb;
  readonly #leaseMs: number;
  #memberRoles: ControlMemberRoles | undefined;

  constructor(db: ControlDb, leaseMs: number) {
    this.#db = db;
    this.#leaseMs = leaseMs;
  }

  /** The port the appliance fills: each node's role in the control database's cluster. */
  useMemberRoles(port: ControlMemberRoles | undefined): void {
    this.#memberRoles = port;
  }

  /** Every lease: its holder, epoch and how long until it expires. */
  leases(): Promise<LeaseView[]> {
    return new LeaseStore(this.#db).list();
  }

  async list(): Promise<NodeView[]> {
    const rows = await sql<{
      name: string;
      api_url: string | null;
      host: string;
      pid: number;
      started_at: Date;
      age_ms: number;
      stopped: boolean;
      leases: string[];
    }>`select n.name, n.api_url, n.host, n.pid, n.started_at,
         (extract(epoch from now() - n.heartbeat_at) * 1000)::float8 as age_ms,
         n.stopped_at is not null as stopped,
         array(select l.name from leases l where l.holder = n.incarnation and l.expires_at > now()
               order by l.name) as leases
       from nodes n order by n.name`.execute(this.#db);
    const roles = await this.#memberRoles?.roles().catch(() => undefined);
    return rows.rows.map((r) => {
      const role = roles?.get(r.name);
      return {
        name: r.name,
        apiUrl: r.api_url,
        host: r.host,
        pid: r.pid,
        startedAt: r.started_at.toISOString(),
        heartbeatAgeSeconds: Math.round(r.age_ms / 100) / 10,
        health: nodeHealth({ heartbeatAgeMs: r.age_ms, stopped: r.stopped }, this.#leaseMs),
        leases: r.leases,
        ...(role === undefined ? {} : { controlDatabaseRole: role }),
      };
    });
  }
}
