import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

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
