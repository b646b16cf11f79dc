import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Haproxy } from '../../dataplane/haproxy.ts';
import { sendCommand } from '../../dataplane/runtime-api.ts';
import { runAs } from '../../dataplane/host.ts';
import { checkName } from '../../dataplane/names.ts';
import type { PatroniSettings } from './settings.ts';

/**
 * The database router: one HAProxy per Steward node, in TCP mode, with a
 * `listen` per ha cluster on a loopback port. Each member is a server whose
 * health check asks its Patroni `GET /primary` (200 on the running leader
 * only), so connections go to the current primary whichever member it is:
 * the stage's DATABASE_URL names the router, never a member, and node-pg
 * needs no multi-host URL. Members marked down get their sessions shut, so a
 * demoted primary keeps no clients. The standard HAProxy-with-Patroni setup.
 */
export interface RouterEntry {
  /** The cluster's scope. */
  readonly name: string;
  readonly port: number;
  readonly members: readonly {
    readonly name: string;
    readonly host: string;
    readonly pgPort: number;
    readonly restPort: number;
  }[];
}

export interface RouterConfigInput {
  readonly adminSocket: string;
  /** Where the servers' checked states are kept across reloads (and restarts). */
  readonly stateFile?: string;
  readonly entries: readonly RouterEntry[];
  readonly settings: Pick<PatroniSettings, 'routerCheckIntervalMs' | 'routerFall' | 'routerRise'>;
  /** The unprivileged user the worker runs as (the master keeps root to reload). */
  readonly runAs?: { readonly user: string; readonly group: string } | undefined;
  /** The address the listens bind (default 127.0.0.1). */
  readonly bindHost?: string;
}

/** The router's haproxy.cfg (pure). Entries are sorted, so that equal input gives equal text. */
export function renderRouterConfig(input: RouterConfigInput): string {
  const { settings } = input;
  const bind = input.bindHost ?? '127.0.0.1';
  const lines = [
    "# Written by Steward (src/databases/patroni/router.ts): the ha clusters' database router.",
    'global',
    `    stats socket ${input.adminSocket} mode 600 level admin expose-fd listeners`,
    '    maxconn 4000',
    // A reload (a cluster added or removed) keeps every other cluster's checked states: without it all
    // members of every cluster would count as up, replicas included, until their first checks.
    ...(input.stateFile ? [`    server-state-file ${input.stateFile}`] : []),
    ...(input.runAs ? [`    user ${input.runAs.user}`, `    group ${input.runAs.group}`] : []),
    '',
    'defaults',
    '    mode tcp',
    ...(input.stateFile ? ['    load-server-state-from-file global'] : []),
    '    timeout connect 3s',
    // Idle pooled connections stay; TCP keepalive finds a dead peer.
    '    timeout client 1h',
    '    timeout server 1h',
    '    timeout check 2s',
    '    option clitcpka',
    '    option srvtcpka',
    `    default-server inter ${settings.routerCheckIntervalMs}ms fall ${settings.routerFall} rise ${settings.routerRise} on-marked-down shutdown-sessions`,
  ];
  for (const entry of [...input.entries].sort((a, b) => a.name.localeCompare(b.name))) {
    checkName('router entry name', entry.name);
    lines.push(
      '',
      `listen ha_${entry.name}`,
      `    bind ${bind}:${entry.port}`,
      '    option httpchk GET /primary',
      '    http-check expect status 200',
    );
    for (const member of [...entry.members].sort((a, b) => a.name.localeCompare(b.name))) {
      checkName('router member name', member.name);
      lines.push(`    server ${member.name} ${member.host}:${member.pgPort} check port ${member.restPort}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The router's process: HAProxy detached (it outlives a kill -9 of Steward
 * and is adopted after), reloaded seamlessly when the list of clusters
 * changes, stopped when none is left.
 */
export class DatabaseRouter {
  readonly #dir: string;
  readonly #haproxy: Haproxy;
  readonly #settings: RouterConfigInput['settings'];
  readonly #bindHost: string | undefined;
  #syncing: Promise<void> = Promise.resolve();

  constructor(options: {
    readonly dir: string;
    readonly settings: RouterConfigInput['settings'];
    readonly binary?: string;
    readonly bindHost?: string;
  }) {
    this.#dir = options.dir;
    this.#settings = options.settings;
    this.#bindHost = options.bindHost;
    this.#haproxy = new Haproxy({
      configFile: join(options.dir, 'haproxy.cfg'),
      pidFile: join(options.dir, 'haproxy.pid'),
      masterSocket: join(options.dir, 'master.sock'),
      adminSocket: join(options.dir, 'admin.sock'),
      logFile: join(options.dir, 'haproxy.log'),
      ...(options.binary ? { binary: options.binary } : {}),
    });
  }

  get configFile(): string {
    return join(this.#dir, 'haproxy.cfg');
  }

  /** Makes the running router serve exactly these entries (one sync at a time). */
  sync(entries: readonly RouterEntry[]): Promise<void> {
    const next = this.#syncing.then(() => this.#sync(entries));
    this.#syncing = next.catch(() => undefined);
    return next;
  }

  async #sync(entries: readonly RouterEntry[]): Promise<void> {
    if (entries.length === 0) {
      await this.#haproxy.stop(2_000);
      return;
    }
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const text = renderRouterConfig({
      adminSocket: join(this.#dir, 'admin.sock'),
      stateFile: this.#stateFile,
      entries,
      settings: this.#settings,
      runAs: runAs(),
      ...(this.#bindHost ? { bindHost: this.#bindHost } : {}),
    });
    const current = await readFile(this.configFile, 'utf8').catch(() => undefined);
    const running = await this.#haproxy.runningMaster();
    if (current === text && running !== undefined) {
      // Adopted after a restart, nothing changed.
      if (this.#haproxy.pid === undefined) await this.#haproxy.start();
      return;
    }
    await writeFile(`${this.configFile}.new`, text, { mode: 0o600 });
    await rename(`${this.configFile}.new`, this.configFile);
    if (running === undefined) await this.#haproxy.start();
    else {
      if (this.#haproxy.pid === undefined) await this.#haproxy.start();
      await this.saveState();
      await this.#haproxy.reload();
    }
  }

  get #stateFile(): string {
    return join(this.#dir, 'servers.state');
  }

  /** Writes the servers' checked states for the next reload or start to load. */
  async saveState(): Promise<void> {
    const state = await sendCommand(join(this.#dir, 'admin.sock'), 'show servers state').catch(
      () => undefined,
    );
    if (!state?.startsWith('1\n')) return;
    await writeFile(`${this.#stateFile}.new`, state, { mode: 0o600 });
    await rename(`${this.#stateFile}.new`, this.#stateFile);
  }

  /**
   * The members the router sends a cluster's connections to now (checked up).
   * Right after a cluster is added they all count as up until their first
   * checks: ensureServer waits until only the leader is left.
   */
  async routesTo(name: string): Promise<string[]> {
    if ((await this.#haproxy.runningMaster()) === undefined) return [];
    const rows = await this.#haproxy.api.showStat('servers', `ha_${name}`);
    return rows.filter((row) => row.fields.status?.startsWith('UP')).map((row) => row.name);
  }

  /** Stops the router (Steward's clean stop leaves it running: stage apps keep their database). */
  async stop(): Promise<void> {
    await this.#syncing;
    if (existsSync(join(this.#dir, 'haproxy.pid'))) await this.#haproxy.stop(2_000);
  }

  forget(): void {
    this.#haproxy.forget();
  }
}
