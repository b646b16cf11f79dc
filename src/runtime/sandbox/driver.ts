import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { InputError } from '../../core/errors.ts';
import {
  bwrapArgs,
  bwrapInvocation,
  bwrapPath,
  isolationReport,
  nftDeleteTable,
  nftRuleset,
  systemPaths,
  tableName,
  type HostLayout,
  type IsolationReport,
  type MountPlan,
  type NetworkPlan,
  type SandboxInvocation,
  type StageNetwork,
} from './plan.ts';

/**
 * The small privileged part of the stage sandbox: probes what the machine
 * allows, applies the nftables table (root), and hands out bubblewrap argvs.
 * bubblewrap itself always runs as the stage's (or the build's) uid, never
 * as root: it makes an unprivileged user namespace, so nothing inside ever
 * holds a capability on the host.
 */

export const nftPath = '/usr/sbin/nft';

export interface SandboxSettings {
  readonly dataDir: string;
  /** Build uid = uidBase; stage N = uidBase + N. */
  readonly uidBase: number;
  /** How many uids from uidBase this Steward owns. */
  readonly uidCount: number;
  /** Stage processes may connect to addresses that are not this machine's. */
  readonly outbound: boolean;
  /** Builds may use the network (outbound only, like stages; the registry for npm ci). */
  readonly buildNetwork: boolean;
  /** Directory of the Node.js binary that stages and builds run. */
  readonly nodeBinDir: string;
  readonly logger: Logger;
}

/** A command's mounts (the host's are added here) and the uid bubblewrap runs as. */
export interface SandboxedCommand extends Omit<MountPlan, 'host'> {
  readonly uid: number;
}

/** The host's layout for the bind mounts, read once. */
export function hostLayout(): HostLayout {
  const links: [string, string][] = [];
  const readOnly: string[] = [];
  for (const path of systemPaths) {
    let info;
    try {
      info = lstatSync(path);
    } catch {
      continue;
    }
    if (info.isSymbolicLink() && dirname(path) === '/') links.push([path, readlinkSync(path)]);
    else if (existsSync(path)) readOnly.push(path);
  }
  return { links, readOnly };
}

function exec(
  file: string,
  args: readonly string[],
  options: { uid?: number; input?: string; timeoutMs?: number } = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      cwd: '/',
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 10_000,
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', (error) => resolve({ code: -1, output: error.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, output: output.trim() }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/**
 * One Steward's sandbox. `open()` probes and applies the first table (no
 * stage may connect anywhere local yet); the runtime then allows each
 * stage's database as it starts the stage, and the composition root the
 * gateway's ports once they are known. Rules are re-applied only when they
 * change, one application at a time.
 */
export class StageSandbox {
  readonly #s: SandboxSettings;
  readonly #table: string;
  readonly #stages = new Map<number, StageNetwork>();
  /** Ports a stage may reach for a while besides its database (a restore test's scratch), by uid. */
  readonly #grants = new Map<number, number[]>();
  #publicPorts: readonly number[] = [];
  #layout: HostLayout | undefined;
  #report: IsolationReport | undefined;
  #applied = '';
  #applying: Promise<void> = Promise.resolve();

  constructor(settings: SandboxSettings) {
    this.#s = settings;
    this.#table = tableName(settings.dataDir);
  }

  get report(): IsolationReport {
    if (!this.#report) throw new Error('the sandbox is not open');
    return this.#report;
  }

  /** The uid builds run as. */
  get buildUid(): number | undefined {
    return this.report.users ? this.#s.uidBase : undefined;
  }

  /** The uid a stage's processes run as; undefined when Steward cannot switch users. */
  stageUid(stageId: string | number): number | undefined {
    if (!this.report.users) return undefined;
    const id = Number(stageId);
    if (!Number.isInteger(id) || id < 1 || id >= this.#s.uidCount) {
      throw new InputError(
        `stage id ${String(stageId)} has no uid: runtime.uidCount (${this.#s.uidCount}) allows stage ids 1-${this.#s.uidCount - 1}; raise it`,
        { field: 'runtime.uidCount' },
      );
    }
    return this.#s.uidBase + id;
  }

  get buildNetwork(): boolean {
    return this.#s.buildNetwork;
  }

  async open(): Promise<IsolationReport> {
    const root = process.getuid?.() === 0;
    let mountsUnavailable: string | undefined;
    let networkUnavailable: string | undefined;
    if (root) {
      this.#layout = hostLayout();
      mountsUnavailable = await this.#probeBwrap();
      networkUnavailable = await this.#apply().then(
        () => undefined,
        (error: unknown) => (error as Error).message,
      );
    }
    this.#report = isolationReport({ root, mountsUnavailable, networkUnavailable });
    return this.#report;
  }

  async #probeBwrap(): Promise<string | undefined> {
    if (!existsSync(bwrapPath)) return `${bwrapPath} is not installed`;
    const args = bwrapArgs(
      this.#plan({
        uid: this.#s.uidBase,
        readOnly: [],
        writable: [],
        cwd: '/',
        network: false,
        dieWithParent: true,
      }),
    );
    const result = await exec(args[0] ?? bwrapPath, [...args.slice(1), '/bin/true'], {
      uid: this.#s.uidBase,
    });
    return result.code === 0 ? undefined : `bubblewrap failed: ${result.output.split('\n')[0] ?? ''}`;
  }

  #plan(command: SandboxedCommand): MountPlan {
    const layout = this.#layout ?? hostLayout();
    // The Node.js binary may live outside /usr (a node_modules install): its directory (and where its link points), read-only.
    const nodeDirs = [this.#s.nodeBinDir, dirname(realpathOr(join(this.#s.nodeBinDir, 'node')))];
    const extra = [...new Set(nodeDirs)].filter(
      (dir) => !layout.readOnly.some((p) => dir === p || dir.startsWith(`${p}/`)),
    );
    return { ...command, host: layout, readOnly: [...extra, ...command.readOnly] };
  }

  /** How to start a command in the sandbox (its argv prefix and fd 3); undefined when mounts are unavailable. */
  wrap(command: SandboxedCommand): SandboxInvocation | undefined {
    if (this.report.mounts !== 'bubblewrap') return undefined;
    return bwrapInvocation(this.#plan(command));
  }

  /**
   * The argv prefix for a stage's command: its release read-only (and the
   * working directory), its files directory writable, the stage's outbound
   * network. One-shot commands (migrate, verify) die with their runner.
   */
  forStage(
    uid: number | undefined,
    stage: { readonly releasePath: string; readonly filesDir: string; readonly oneShot: boolean },
  ): SandboxInvocation | undefined {
    if (uid === undefined) return undefined;
    return this.wrap({
      uid,
      readOnly: [stage.releasePath],
      writable: [stage.filesDir],
      cwd: stage.releasePath,
      network: true,
      dieWithParent: stage.oneShot,
    });
  }

  /** Lets a stage's uid reach its database; applied before its processes start. */
  async allowDatabase(uid: number, databasePorts: readonly number[]): Promise<void> {
    const known = this.#stages.get(uid);
    if (known && known.databasePorts.join(',') === databasePorts.join(',')) return;
    this.#stages.set(uid, { uid, databasePorts });
    if (this.#report?.network === 'nftables') await this.#apply();
  }

  /**
   * Lets a stage's uid reach one more local port until the returned function
   * is called: the scratch copy a restore test opens to the app's verify.
   */
  async grant(uid: number, port: number): Promise<() => Promise<void>> {
    this.#grants.set(uid, [...(this.#grants.get(uid) ?? []), port]);
    if (this.#report?.network === 'nftables') await this.#apply();
    return async () => {
      const ports = [...(this.#grants.get(uid) ?? [])];
      ports.splice(ports.indexOf(port), 1);
      if (ports.length > 0) this.#grants.set(uid, ports);
      else this.#grants.delete(uid);
      if (this.#report?.network === 'nftables') await this.#apply();
    };
  }

  /** Forgets stages that are gone: their uid may connect nowhere local. */
  async keepStages(uids: ReadonlySet<number>): Promise<void> {
    let changed = false;
    for (const uid of this.#stages.keys()) {
      if (!uids.has(uid)) changed = this.#stages.delete(uid) || changed;
    }
    if (changed && this.#report?.network === 'nftables') await this.#apply();
  }

  async setPublicPorts(ports: readonly number[]): Promise<void> {
    this.#publicPorts = ports;
    if (this.#report?.network === 'nftables') await this.#apply();
  }

  #networkPlan(): NetworkPlan {
    return {
      table: this.#table,
      uids: { first: this.#s.uidBase, last: this.#s.uidBase + this.#s.uidCount - 1 },
      stages: [...new Set([...this.#stages.keys(), ...this.#grants.keys()])].map((uid) => ({
        uid,
        databasePorts: [...(this.#stages.get(uid)?.databasePorts ?? []), ...(this.#grants.get(uid) ?? [])],
      })),
      publicPorts: this.#publicPorts,
      outbound: this.#s.outbound,
      ...(this.#s.buildNetwork ? { outboundUid: this.#s.uidBase } : {}),
    };
  }

  #apply(): Promise<void> {
    const run = this.#applying.then(async () => {
      const ruleset = nftRuleset(this.#networkPlan());
      if (ruleset === this.#applied) return;
      if (!existsSync(nftPath)) throw new Error(`${nftPath} is not installed`);
      const result = await exec(nftPath, ['-f', '-'], { input: ruleset });
      if (result.code !== 0) throw new Error(`nft failed: ${result.output.split('\n')[0] ?? ''}`);
      this.#applied = ruleset;
    });
    this.#applying = run.catch(() => undefined);
    return run;
  }

  /** After a clean stop (no stage process left): the table goes. A kill leaves it, and it keeps restricting. */
  async close(): Promise<void> {
    await this.#applying;
    if (!this.#applied) return;
    const result = await exec(nftPath, ['-f', '-'], { input: nftDeleteTable(this.#table) });
    if (result.code !== 0)
      this.#s.logger.warn({ output: result.output }, 'could not remove the nftables table');
    this.#applied = '';
  }
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
