import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InternalError, UnavailableError } from '../core/errors.ts';
import { run } from '../system/exec.ts';
import { isAlive } from '../system/lockfile.ts';
import { checkPath } from './names.ts';
import { RuntimeApi, sendCommand } from './runtime-api.ts';

/**
 * Runs HAProxy in master-worker mode and keeps it running past Steward: the
 * master is started detached with a pid file and a master CLI socket, so a
 * kill -9 of Steward leaves it serving, and the next Steward adopts it (pid
 * file + a master that answers on its socket) instead of starting a second.
 * Reloads go through the master CLI: the new worker takes the listening
 * sockets from the old one (`expose-fd listeners`), so no connection is
 * refused. Only the master keeps root (to bind and reload); workers run as the
 * config's `user`.
 */

export interface HaproxyOptions {
  readonly configFile: string;
  readonly pidFile: string;
  /** The master CLI (`show proc`, `reload`). */
  readonly masterSocket: string;
  /** The worker's runtime API socket, as in the rendered config. */
  readonly adminSocket: string;
  /** HAProxy's own stdout and stderr (startup alerts). */
  readonly logFile: string;
  readonly binary?: string;
  readonly startTimeoutMs?: number;
}

export interface ProcessView {
  readonly pid: number;
  readonly reloads: number;
}

export interface MasterView {
  readonly master: ProcessView & { readonly failedReloads: number };
  readonly workers: readonly ProcessView[];
  readonly oldWorkers: readonly ProcessView[];
}

/** Parses the master CLI's `show proc`. */
export function parseShowProc(text: string): MasterView {
  let section: 'master' | 'workers' | 'old' | 'other' = 'master';
  let master: MasterView['master'] | undefined;
  const workers: ProcessView[] = [];
  const oldWorkers: ProcessView[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) {
      section = line.startsWith('# workers')
        ? 'workers'
        : line.startsWith('# old workers')
          ? 'old'
          : line.startsWith('#<PID>')
            ? 'master'
            : 'other';
      continue;
    }
    const match = /^(\d+)\s+(master|worker)\s+(\d+)(?:\s+\[failed: (\d+)\])?/.exec(line);
    if (!match) continue;
    const view = { pid: Number(match[1]), reloads: Number(match[3]) };
    if (section === 'master' && match[2] === 'master')
      master = { ...view, failedReloads: Number(match[4] ?? 0) };
    else if (section === 'workers') workers.push(view);
    else if (section === 'old') oldWorkers.push(view);
  }
  if (!master)
    throw new UnavailableError(`HAProxy's master CLI gave no master in "show proc": ${text.slice(0, 200)}`);
  return { master, workers, oldWorkers };
}

export class Haproxy {
  readonly #options: HaproxyOptions;
  readonly #binary: string;
  readonly api: RuntimeApi;
  #child: ChildProcess | undefined;
  #pid: number | undefined;
  #reloads = 0;

  constructor(options: HaproxyOptions) {
    for (const key of ['configFile', 'pidFile', 'masterSocket', 'adminSocket', 'logFile'] as const)
      checkPath(key, options[key]);
    this.#options = options;
    this.#binary = options.binary ?? '/usr/sbin/haproxy';
    this.api = new RuntimeApi(options.adminSocket);
  }

  /** The master's pid once started or adopted. */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** Reloads this driver made (the master counts all of them: `showProc().master.reloads`). */
  get reloads(): number {
    return this.#reloads;
  }

  async showProc(): Promise<MasterView> {
    return parseShowProc(await sendCommand(this.#options.masterSocket, 'show proc'));
  }

  /** `haproxy -c`: the reason HAProxy gives when the config would not load. */
  async validate(): Promise<void> {
    const result = await run(this.#binary, ['-c', '-f', this.#options.configFile], {
      timeoutMs: 30_000,
    });
    if (result.code !== 0) {
      throw new InternalError(
        `HAProxy refuses ${this.#options.configFile}: ${(result.stderr || result.stdout).trim().slice(0, 1000)}`,
      );
    }
  }

  /** The running master named by the pid file, if it answers on its socket. */
  async #running(): Promise<number | undefined> {
    let pid: number;
    try {
      pid = Number((await readFile(this.#options.pidFile, 'utf8')).trim().split('\n')[0]);
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return undefined;
    try {
      const view = await this.showProc();
      if (view.master.pid === pid) return pid;
    } catch {
      // A pid file whose process no longer answers: another process took the pid, or the master is gone.
    }
    return undefined;
  }

  /** The pid of the running master `start()` would adopt, if any. */
  runningMaster(): Promise<number | undefined> {
    return this.#running();
  }

  /** Adopts the HAProxy the pid file names when its master answers, else starts one. */
  async start(): Promise<{ readonly adopted: boolean; readonly pid: number }> {
    const running = await this.#running();
    if (running !== undefined) {
      this.#pid = running;
      await this.#waitReady();
      return { adopted: true, pid: running };
    }
    await this.validate();
    const log = openSync(this.#options.logFile, 'a', 0o600);
    try {
      const args = [
        '-W',
        '-f',
        this.#options.configFile,
        '-p',
        this.#options.pidFile,
        '-S',
        `${this.#options.masterSocket},mode,600`,
      ];
      // Detached, in its own session: Steward's exit (or kill -9) must not take the data plane with it.
      this.#child = spawn(this.#binary, args, {
        cwd: '/',
        detached: true,
        stdio: ['ignore', log, log],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
      });
    } finally {
      closeSync(log);
    }
    const child = this.#child;
    child.unref();
    child.on('error', () => undefined);
    if (child.pid === undefined) throw new InternalError(`cannot start ${this.#binary}`);
    this.#pid = child.pid;
    await this.#waitReady();
    return { adopted: false, pid: child.pid };
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 15_000);
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (this.#pid !== undefined && !isAlive(this.#pid)) break;
      try {
        const view = await this.showProc();
        if (view.workers.length > 0) {
          await this.api.showInfo();
          return;
        }
      } catch (error) {
        lastError = error;
      }
      await sleep(50);
    }
    const log = await readFile(this.#options.logFile, 'utf8').catch(() => '');
    throw new UnavailableError(
      `HAProxy did not come up: ${log.trim().split('\n').slice(-5).join(' | ') || String(lastError)}`,
      {
        cause: lastError,
      },
    );
  }

  /**
   * A seamless reload, for changes the runtime API cannot make (listeners,
   * backends, policies): validate the new config, ask the master to reload, wait
   * for the new worker. Throws, and the old worker keeps serving, if it fails.
   */
  async reload(): Promise<MasterView> {
    await this.validate();
    const before = await this.showProc();
    // The master re-executes itself; in 2.6 it closes this connection instead of answering.
    await sendCommand(this.#options.masterSocket, 'reload').catch(() => '');
    this.#reloads += 1;
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      await sleep(50);
      const view = await this.showProc().catch(() => undefined);
      if (!view || view.master.reloads <= before.master.reloads) continue;
      if (view.master.failedReloads > before.master.failedReloads) {
        throw new UnavailableError(
          `HAProxy's reload failed; the previous worker keeps serving (see ${this.#options.logFile})`,
        );
      }
      if (view.workers.some((worker) => worker.reloads === 0)) {
        await this.api.showInfo();
        return view;
      }
    }
    throw new UnavailableError(
      `HAProxy did not finish its reload within the deadline (see ${this.#options.logFile})`,
    );
  }

  /** Soft stop (finish requests in flight), then a hard one after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const pid = this.#pid ?? (await this.#running());
    if (pid === undefined || !isAlive(pid)) return;
    process.kill(pid, 'SIGUSR1');
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(50);
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(20);
    this.#pid = undefined;
  }

  /** Forgets the process without stopping it, as a Steward that dies would. */
  forget(): void {
    this.#child = undefined;
    this.#pid = undefined;
  }
}
