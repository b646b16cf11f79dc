import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { run, lookupUser } from '../../src/system/exec.ts';
import { stopLeftHaproxy } from '../harness/haproxy.ts';
import { testUidBase } from '../harness/steward.ts';

/**
 * Runs the real `bin/steward` as child processes: `up` in the background and
 * CLI commands to completion, each against its own data dir.
 */
const steward = resolve(import.meta.dirname, '../../bin/steward');
const pgBinDir = '/usr/lib/postgresql/15/bin';

/** The environment of every child: no STEWARD_* from outside, and a HOME with no login session. */
function childEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('STEWARD_')) env[key] = value;
  }
  env.HOME = join(dataDir, 'home');
  return env;
}

export async function makeDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'steward-cli-'));
  // PostgreSQL runs as the postgres user and must pass through to <dir>/pg.
  await chmod(dir, 0o711);
  // A uid range of its own: the sandbox's network rules of Stewards running side by side must not meet.
  await writeFile(join(dir, 'steward.yaml'), `runtime:\n  uidBase: ${testUidBase()}\n  uidCount: 1000\n`);
  return dir;
}

export interface UpProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128 + signal number style: null code gives -1). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `steward up` and does not wait for it. `env` adds to the child's
 * environment (e.g. a HOME whose npm cache lets release builds run offline).
 */
export function spawnUp(
  dataDir: string,
  args: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
  /** Options of `up` itself (--role gateway). */
  upArgs: readonly string[] = [],
): UpProcess {
  const child = spawn(steward, ['--data-dir', dataDir, ...args, 'up', '--api-port', '0', ...upArgs], {
    env: { ...childEnv(dataDir), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.on('exit', (code, signal) => resolveExit({ code, signal })),
  );
  if (child.pid === undefined) throw new Error('could not spawn bin/steward');
  return { child, pid: child.pid, stdout: () => out, stderr: () => err, exited };
}

/** Waits until `up` prints `marker` on stdout; fails early if it exits first. */
export async function waitForOutput(up: UpProcess, marker: string, timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void up.exited.then(() => (exited = true));
  for (;;) {
    if (up.stdout().includes(marker)) return up.stdout();
    if (exited) {
      throw new Error(`steward up exited before printing ${marker}:\n${up.stdout()}\n${up.stderr()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`steward up did not print ${marker} in time:\n${up.stdout()}\n${up.stderr()}`);
    }
    await sleep(100);
  }
}

export interface UpReady {
  readonly apiUrl: string;
  readonly clientFile: string;
  readonly firstOwner: { username: string; password: string } | null;
}

/** `up -o json`: one JSON object on stdout once the API serves. */
export async function startUpJson(
  dataDir: string,
  env: Readonly<Record<string, string>> = {},
): Promise<{ up: UpProcess; ready: UpReady }> {
  const up = spawnUp(dataDir, ['-o', 'json'], env);
  // The object is pretty-printed: it is complete once a line holds only the closing brace.
  const out = await waitForOutput(up, '\n}\n');
  return { up, ready: JSON.parse(out) as UpReady };
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function cli(
  dataDir: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number; env?: Readonly<Record<string, string>> } = {},
): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(steward, ['--data-dir', dataDir, ...args], {
      env: { ...childEnv(dataDir), ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 240_000,
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolveRun({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });
}

/** Starts a CLI command that runs until stopped (`logs --follow`); the caller ends it. */
export function spawnCli(dataDir: string, args: readonly string[]): UpProcess {
  const child = spawn(steward, ['--data-dir', dataDir, ...args], {
    env: childEnv(dataDir),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.on('exit', (code, signal) => resolveExit({ code, signal })),
  );
  if (child.pid === undefined) throw new Error('could not spawn bin/steward');
  return { child, pid: child.pid, stdout: () => out, stderr: () => err, exited };
}

/** Runs a CLI command that must succeed and parses its `-o json` output. */
export async function cliJson<T>(dataDir: string, args: readonly string[], input?: string): Promise<T> {
  const result = await cli(dataDir, ['-o', 'json', ...args], input === undefined ? {} : { input });
  if (result.code !== 0) {
    throw new Error(`steward ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

/** A superuser connection to the data dir's embedded cluster. */
export async function superuser(dataDir: string, database = 'postgres'): Promise<pg.Client> {
  const { superuserPassword } = JSON.parse(await readFile(join(dataDir, 'pg-credentials.json'), 'utf8')) as {
    superuserPassword: string;
  };
  const conf = await readFile(join(dataDir, 'pg', 'postgresql.auto.conf'), 'utf8');
  const port = Number(/^port = (\d+)$/m.exec(conf)?.[1]);
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: superuserPassword,
    database,
  });
  await client.connect();
  return client;
}

export async function pgIsRunning(dataDir: string): Promise<boolean> {
  const result = await run(join(pgBinDir, 'pg_ctl'), ['status', '-D', join(dataDir, 'pg')], {
    user: lookupUser('postgres'),
  });
  return result.code === 0;
}

/** Pids of live processes whose command line names the data dir (steward up, the postmaster). */
export async function processesOf(dataDir: string): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (cmdline.includes(dataDir)) found.push({ pid: Number(entry), cmdline });
  }
  return found;
}

/** Stops `up` (SIGTERM, then SIGKILL), stops a HAProxy and a PostgreSQL left behind, removes the dir. */
export async function cleanUp(dataDir: string | undefined, ...ups: (UpProcess | undefined)[]): Promise<void> {
  if (!dataDir) return;
  for (const up of ups) {
    if (!up || up.child.exitCode !== null || up.child.signalCode !== null) continue;
    up.child.kill('SIGTERM');
    const stopped = await Promise.race([up.exited.then(() => true), sleep(40_000).then(() => false)]);
    if (!stopped) up.child.kill('SIGKILL');
  }
  await stopLeftHaproxy(dataDir);
  if (existsSync(join(dataDir, 'pg', 'PG_VERSION')) && (await pgIsRunning(dataDir))) {
    await run(join(pgBinDir, 'pg_ctl'), ['stop', '-D', join(dataDir, 'pg'), '-m', 'immediate', '-w'], {
      user: lookupUser('postgres'),
    });
  }
  await rm(dataDir, { recursive: true, force: true });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 120_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
