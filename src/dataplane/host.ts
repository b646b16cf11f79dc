import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConflictError } from '../core/errors.ts';
import { lookupUser } from '../system/exec.ts';

/**
 * What the data plane takes from the machine it runs on: its ports (kept
 * across restarts in state.json, so that an adopted HAProxy keeps its
 * listeners) and the user HAProxy's workers run as.
 */
export interface Ports {
  readonly https: number;
  readonly http: number;
  readonly stats: number;
  readonly steward: number;
}

let runAsCache: { user: string; group: string } | null | undefined;

/** HAProxy's workers drop root for the `haproxy` user the Debian package creates; the master keeps it to reload. */
export function runAs(): { user: string; group: string } | undefined {
  if (runAsCache === undefined) {
    const user = process.getuid?.() === 0 ? lookupUser('haproxy') : undefined;
    const group = user ? groupName(user.gid) : undefined;
    runAsCache = user && group ? { user: user.name, group } : null;
  }
  return runAsCache ?? undefined;
}

function groupName(gid: number): string | undefined {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , id] = line.split(':');
    if (name && Number(id) === gid) return name;
  }
  return undefined;
}

/**
 * The activator's port when the data plane in `dir` last ran, if it is free
 * again: listening there keeps the rendered config as the running HAProxy
 * has it, so a restart of Steward needs no reload.
 */
export async function previousActivatorPort(dir: string): Promise<number> {
  try {
    const { activator } = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as {
      activator?: unknown;
    };
    if (
      typeof activator === 'number' &&
      Number.isInteger(activator) &&
      (await portFree('127.0.0.1', activator))
    )
      return activator;
  } catch {
    // No earlier run, or its state is unreadable: any free port.
  }
  return 0;
}

export async function readPorts(path: string): Promise<Ports | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<Ports>;
    const { https, http, stats, steward } = parsed;
    if ([https, http, stats, steward].every((port) => Number.isInteger(port))) {
      return parsed as Ports;
    }
  } catch {
    // No state yet, or unreadable: ports are chosen anew.
  }
  return undefined;
}

/** The wanted port when it is free on `host`; 0, or taken and movable: a free one; taken otherwise: an error. */
export async function choosePort(
  host: string,
  wanted: number,
  field: string,
  movable: boolean,
  logger: Logger,
): Promise<number> {
  if (wanted !== 0) {
    if (await portFree(host, wanted)) return wanted;
    if (!movable) {
      throw new ConflictError(
        `${field} ${wanted} on ${host} is taken by another process: stop it, or choose another port`,
        { field },
      );
    }
    logger.warn({ port: wanted, field }, 'port taken; listening on a free one');
  }
  return freePortOn(host);
}

export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function freePortOn(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
