import { connect as http2Connect } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveGatewayLimits } from '../../src/gateway/limits.ts';
import {
  backend,
  chunk,
  chunkedHead,
  expectChunkedBodyUpToLimit,
  get,
  seenBy,
  type Backend,
  type HostileEdge,
  type Reply,
} from '../gateway/hostile-cases.ts';
import { sendTo, startEdge, stopEdge, type Edge } from './edge-support.ts';
import { until } from './support.ts';

/**
 * The edge's limits against a real HAProxy, each describe with an edge of
 * its own limits in front of the hostile suite's tenants (edge-support.ts):
 * rates and connections per address, bodies without a Content-Length, a
 * tenant's requests in flight.
 */

let acme: Backend;
let globex: Backend;
const edges: Edge[] = [];

async function start(limits: Parameters<typeof resolveGatewayLimits>[0]): Promise<Edge> {
  const edge = await startEdge({ acme, globex }, resolveGatewayLimits(limits));
  edges.push(edge);
  return edge;
}

function send(
  chunks: string | readonly (string | number)[],
  options: { sni?: string | null; waitMs?: number; edge: Edge },
): Promise<Reply> {
  return sendTo(options.edge, chunks, options);
}

function shared(options: { edge: Edge }): HostileEdge {
  return { send: (chunks, more = {}) => send(chunks, { ...options, ...more }), acme, globex };
}

beforeAll(async () => {
  acme = await backend('acme');
  globex = await backend('globex');
});

afterAll(async () => {
  for (const edge of edges) await stopEdge(edge);
  for (const b of [acme, globex]) await new Promise((r) => b?.server.close(r));
});

afterEach(() => {
  acme.seen.length = 0;
  globex.seen.length = 0;
});

describe('HAProxy under a flood', () => {
  let limited: Edge;
  beforeAll(async () => {
    limited = await start({
      addressRatePerSecond: 0.1, // one request per 10 s: a slow machine lets none more through mid-test
      addressBurst: 3,
      maxConnectionsPerAddress: 3,
      tenantRatePerSecond: 1,
      tenantBurst: 5,
    });
  }, 30_000);

  it('answers 429 with Retry-After once a client address has used its burst, for every tenant it asks', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push(...(await send(get('acme.localhost', `/n${i}`), { edge: limited })).statuses);
    const other = await send(get('globex.localhost', '/n'), { edge: limited, sni: 'globex.localhost' });
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(other.statuses).toEqual([429]);
    // Two over the window's 3 (refused ones count): 2 × 30 s / 3 until the window lets them go.
    expect(other.text).toMatch(/\r\nretry-after: 20\r\n/i);
    expect(seenBy(acme)).toEqual(['GET /n0', 'GET /n1', 'GET /n2']);
    expect(seenBy(globex)).toEqual([]);
  });

  it('closes connections past the cap per client address, and admits again when one closes', async () => {
    const open = (): Promise<TLSSocket> =>
      new Promise((resolve, reject) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: limited.port,
          servername: 'acme.localhost',
          ca: limited.fixture.ca.certPem,
        });
        socket.once('secureConnect', () => resolve(socket));
        socket.once('error', reject);
        socket.once('close', () => reject(new Error('closed before the handshake')));
      });
    const held = [await open(), await open(), await open()];
    await expect(open()).rejects.toThrow();
    held[0]?.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const again = await open();
    expect(again.authorized).toBe(true);
    for (const socket of [...held, again]) socket.destroy();
  });
});

describe('HAProxy and bodies without a Content-Length', () => {
  const maxBodyBytes = 4096;
  let small: Edge;
  beforeAll(async () => {
    small = await start({ maxBodyBytes, bodyIdleTimeoutMs: 2_000, headersTimeoutMs: 3_000 });
  }, 30_000);

  it('passes a chunked body up to the limit', () =>
    expectChunkedBodyUpToLimit(shared({ edge: small }), maxBodyBytes));

  it('answers 413 to a chunked body over the limit, and the stage gets none of it', async () => {
    const chunks: (string | number)[] = [chunkedHead];
    for (let i = 0; i < 12; i++) chunks.push(chunk(1000), 30);
    chunks.push('0\r\n\r\n');
    const reply = await send(chunks, { edge: small });
    expect(reply.statuses, reply.text.slice(0, 300)).toEqual([413]);
    expect(reply.text).toContain('The request body is larger than this application accepts.');
    await new Promise((r) => setTimeout(r, 200));
    expect(acme.seen).toEqual([]);
  });
  it('answers 413 to an HTTP/2 body without content-length over the limit, and the stage gets none of it', async () => {
    const session = http2Connect(`https://127.0.0.1:${small.port}`, {
      servername: 'acme.localhost',
      ca: small.fixture.ca.certPem,
      checkServerIdentity: () => undefined,
    });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/h2-body',
          ':authority': 'acme.localhost',
        });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
        let sent = 0;
        const next = () => {
          if (sent === 6) return void stream.end();
          sent += 1;
          stream.write('x'.repeat(1000));
          setTimeout(next, 30);
        };
        next();
      });
      expect(status).toBe(413);
      await new Promise((r) => setTimeout(r, 200));
      expect(acme.seen).toEqual([]);
    } finally {
      session.destroy();
    }
  });
});

describe("HAProxy and a tenant's requests in flight", () => {
  let capped: Edge;
  beforeAll(async () => {
    capped = await start({ maxConcurrentRequestsPerTenant: 1, bodyIdleTimeoutMs: 5_000 });
  }, 30_000);

  it('answers 503 with Retry-After past the cap, for that tenant only, and serves again when one ends', async () => {
    // Past the bytes the edge holds, so it is at acme, waiting for the rest of its body.
    const held = send(
      [
        `POST /held HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(40_000)}`,
        3_000,
      ],
      { edge: capped, waitMs: 1_500 },
    );
    await new Promise((r) => setTimeout(r, 500));
    const second = await send(get('acme.localhost', '/second'), { edge: capped });
    expect(second.statuses).toEqual([503]);
    expect(second.text).toMatch(/\r\nretry-after: 1\r\n/i);
    const other = await send(get('globex.localhost', '/other'), { edge: capped, sni: 'globex.localhost' });
    expect(other.statuses).toEqual([200]);
    await held;
    await until('acme served again', async () => {
      const reply = await send(get('acme.localhost', '/again'), { edge: capped });
      return reply.statuses[0] === 200;
    });
    expect(seenBy(acme)).not.toContain('GET /second');
  });
});
