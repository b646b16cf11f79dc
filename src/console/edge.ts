import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { writePrivate } from '../dataplane/certificates.ts';

/**
 * The console through Steward's data plane: HAProxy passes the console
 * host's requests to the API with the browser's address in X-Forwarded-For
 * and a key only Steward and its HAProxy config (mode 600) know in
 * X-Steward-Edge, both set by HAProxy over whatever the client sent. Only
 * with that key does the API take the forwarded address: anyone else who
 * reaches the API port cannot choose the address its lockout counts.
 */
export const edgeKeyHeader = 'x-steward-edge';

/** The client's address HAProxy vouches for, or undefined (no key, a wrong one, no single address). */
export function edgeClientAddress(headers: IncomingHttpHeaders, key: string): string | undefined {
  const given = headers[edgeKeyHeader];
  if (typeof given !== 'string' || !sameKey(given, key)) return undefined;
  const forwarded = headers['x-forwarded-for'];
  if (typeof forwarded !== 'string') return undefined;
  const address = forwarded.trim();
  return isIP(address) === 0 ? undefined : address;
}

function sameKey(given: string, key: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The key, kept in `dir` (mode 600) across restarts: a Steward restarted
 * after a kill -9 renders the same HAProxy config and adopts HAProxy
 * without a reload.
 */
export async function persistentEdgeKey(dir: string): Promise<string> {
  const path = join(dir, 'console-edge.key');
  const kept = await readFile(path, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
  if (kept !== undefined && /^[A-Za-z0-9_-]{43}$/.test(kept)) return kept;
  const key = randomBytes(32).toString('base64url');
  await writePrivate(path, `${key}\n`);
  return key;
}

/** The port the API listened on last time (kept beside the key), to listen there again when its port is 0. */
export async function previousApiPort(dir: string): Promise<number | undefined> {
  const text = await readFile(join(dir, 'api.port'), 'utf8').catch(() => '');
  const port = Number(text.trim());
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

export async function keepApiPort(dir: string, port: number): Promise<void> {
  await writeFile(join(dir, 'api.port'), `${port}\n`);
}

/**
 * The key every node of an install uses: the first node that runs the API
 * publishes its own in the secrets store (sealed, like the gateway's CA), and
 * every other node, gateways on other machines included, uses the published
 * one, so the API takes the browser's address from any node's HAProxy. A
 * gateway finds none published until an API node has run: its own key then
 * only means the API ignores its X-Forwarded-For.
 */
export async function sharedEdgeKey(
  local: string,
  published: {
    get(): Promise<string | undefined>;
    /** Absent on a gateway, which never publishes. */
    put?(key: string): Promise<void>;
  },
): Promise<string> {
  const found = await published.get();
  if (found !== undefined && /^[A-Za-z0-9_-]{43}$/.test(found)) return found;
  await published.put?.(local);
  return local;
}
