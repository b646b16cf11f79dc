import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import {
  Supervisor,
  type ProcessSpec,
  type SupervisorEvent,
  type SupervisorOptions,
} from '../../src/runtime/supervisor.ts';

export const nodeBin = resolve('node_modules/node/bin/node');
export const fixture = (name: string): string => resolve('test/fixtures/procs', `${name}.ts`);

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

export const fastHealth = {
  path: '/healthz',
  intervalMs: 100,
  timeoutMs: 500,
  failureThreshold: 3,
  startTimeoutMs: 20_000,
};

/** A sandbox per test: a directory, supervisors made in it, and a leak check at the end. */
export class Sandbox {
  readonly dir: string;
  readonly cgroupName = `steward-test-${randomBytes(4).toString('hex')}`;
  readonly events: SupervisorEvent[] = [];
  readonly supervisors: Supervisor[] = [];

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(): Promise<Sandbox> {
    const dir = await mkdtemp(join(tmpdir(), 'steward-supervisor-'));
    // Children run as unprivileged uids: they need to enter their cwd.
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'app'), { mode: 0o755 });
    return new Sandbox(dir);
  }

  supervisor(options: Partial<SupervisorOptions> = {}): Supervisor {
    const supervisor = new Supervisor({
      stateDir: join(this.dir, 'state'),
      logger: pino({ level: process.env.SUPERVISOR_TEST_LOG ?? 'silent' }),
      onEvent: (event) => this.events.push(event),
      cgroupName: this.cgroupName,
      tickMs: 50,
      ...options,
    });
    this.supervisors.push(supervisor);
    return supervisor;
  }

  spec(
    name: string,
    program: string,
    extra: Partial<ProcessSpec> & { env?: Record<string, string> } = {},
  ): ProcessSpec {
    return {
      key: `acme/dev/${name}/1.0.0/0`,
      tenant: 'acme',
      stage: 'dev',
      process: name,
      release: '1.0.0',
      instance: 0,
      command: `${nodeBin} ${fixture(program)}`,
      cwd: join(this.dir, 'app'),
      logFile: join(this.dir, 'logs', `${name}.log`),
      ...extra,
      env: { PATH: '/usr/bin:/bin', ...(extra.port ? { PORT: String(extra.port) } : {}), ...extra.env },
    };
  }

  eventsOf(kind: SupervisorEvent['kind'], key?: string): SupervisorEvent[] {
    return this.events.filter((e) => e.kind === kind && (key === undefined || e.key === key));
  }

  /** Processes whose stdout is a log file of this sandbox. */
  processes(): number[] {
    const found: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const target = readlinkSync(`/proc/${name}/fd/1`);
        const state = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.[0];
        if (target.startsWith(this.dir) && state !== 'Z') found.push(Number(name));
      } catch {
        // gone, or a kernel thread
      }
    }
    return found;
  }

  /** Stops every supervisor with its children, then fails on any process or cgroup left behind. */
  async cleanup(): Promise<void> {
    for (const supervisor of this.supervisors) {
      await supervisor.shutdown({ stopChildren: true }).catch(() => undefined);
    }
    const leaked = this.processes();
    for (const pid of leaked) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const cgroups = removeCgroups(this.cgroupName);
    await rm(this.dir, { recursive: true, force: true });
    if (leaked.length > 0) throw new Error(`leaked processes: ${leaked.join(', ')}`);
    if (cgroups.length > 0) throw new Error(`leaked cgroups: ${cgroups.join(', ')}`);
  }
}

/** Removes the test's cgroups; returns those that still had members. */
function removeCgroups(name: string): string[] {
  const leaked: string[] = [];
  const bases = [join('/sys/fs/cgroup', name)];
  const own = /^\d+:memory:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  if (own !== undefined) bases.push(join('/sys/fs/cgroup/memory', own, name));
  for (const base of bases) {
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(base, entry.name);
      const procs = readFileSync(join(path, 'cgroup.procs'), 'utf8').trim();
      if (procs) leaked.push(path);
      try {
        rmdirSync(path);
      } catch {
        leaked.push(path);
      }
    }
    try {
      rmdirSync(base);
    } catch {
      // still in use
    }
  }
  return leaked;
}

export function get(port: number, path = '/', timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end();
  });
}

export async function poll<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function procStatusField(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return line?.slice(field.length + 1).trim() ?? '';
}
