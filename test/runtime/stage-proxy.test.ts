import { Agent, createServer, request, type Server } from 'node:http';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { StageProxy } from '../../src/runtime/stage-proxy.ts';

const logger = pino({ level: 'silent' });

interface Backend {
  server: Server;
  port: number;
  hits: number;
  close(): Promise<void>;
}

async function backend(name: string, delayMs = 0): Promise<Backend> {
  const state = { hits: 0 };
  const server = createServer((req, res) => {
    state.hits++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
        res.end(`${name}:${Buffer.concat(chunks).length}`);
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    server,
    port,
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function get(port: number, body = ''): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: body ? 'POST' : 'GET', path: '/x', agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('StageProxy', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function proxy(options: { holdTimeoutMs?: number; onWake?: () => void } = {}): Promise<StageProxy> {
    const p = new StageProxy({ host: '127.0.0.1', port: 0, logger, ...options });
    await p.listen();
    cleanups.push(() => p.close());
    return p;
  }

  it('forwards requests and bodies to the backend', async () => {
    const a = await backend('a');
    cleanups.push(() => a.close());
    const p = await proxy();
    p.setBackends([a.port]);
    expect(await get(p.port, 'hello')).toEqual({ status: 200, text: 'a:5' });
  });

  it('switches backends under steady load without a single failed request', async () => {
    const a = await backend('a', 5);
    const b = await backend('b', 5);
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const p = await proxy();
    p.setBackends([a.port]);
    let stop = false;
    const results: number[] = [];
    const load = Array.from({ length: 8 }, async () => {
      while (!stop) results.push((await get(p.port).catch(() => ({ status: 0 }))).status);
    });
    await new Promise((r) => setTimeout(r, 200));
    p.setBackends([b.port]);
    expect(await p.drain([a.port], 5000)).toBe(true);
    await a.close();
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(load);
    expect(results.length).toBeGreaterThan(50);
    expect(results.filter((s) => s !== 200)).toEqual([]);
    expect(b.hits).toBeGreaterThan(0);
  });

  it('drain waits for a slow request on the old backend to finish', async () => {
    const slow = await backend('slow', 400);
    const fast = await backend('fast');
    cleanups.push(
      () => slow.close(),
      () => fast.close(),
    );
    const p = await proxy();
    p.setBackends([slow.port]);
    const pending = get(p.port);
    await new Promise((r) => setTimeout(r, 50));
    p.setBackends([fast.port]);
    const started = Date.now();
    expect(await p.drain([slow.port], 5000)).toBe(true);
    expect(Date.now() - started).toBeGreaterThan(250);
    expect((await pending).text).toBe('slow:0');
    expect((await get(p.port)).text).toBe('fast:0');
  });

  it('holds requests while there is no backend, wakes the stage, and serves once one is set', async () => {
    let woken = 0;
    const p = await proxy({ onWake: () => woken++ });
    const a = await backend('a');
    cleanups.push(() => a.close());
    const pending = get(p.port);
    await new Promise((r) => setTimeout(r, 100));
    expect(woken).toBe(1);
    p.setBackends([a.port]);
    expect(await pending).toEqual({ status: 200, text: 'a:0' });
  });

  it('answers 503 when no backend comes in time, and 502 when the backend is down', async () => {
    const p = await proxy({ holdTimeoutMs: 100 });
    expect((await get(p.port)).status).toBe(503);
    const a = await backend('a');
    const port = a.port;
    await a.close();
    p.setBackends([port]);
    expect((await get(p.port)).status).toBe(502);
  });

  it('holds a request without a body while its backend restarts, and 502s one with a body', async () => {
    const p = await proxy();
    const a = await backend('a');
    const port = a.port;
    await a.close();
    p.setBackends([port]);
    expect((await get(p.port, 'body')).status).toBe(502);
    const pending = get(p.port);
    await new Promise((r) => setTimeout(r, 300));
    const again = createServer((_req, res) => res.end('again'));
    await new Promise<void>((r) => again.listen(port, '127.0.0.1', () => r()));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          again.closeAllConnections();
          again.close(() => r());
        }),
    );
    expect(await pending).toEqual({ status: 200, text: 'again' });
  });

  it('reports idle time for scale to zero', async () => {
    const a = await backend('a');
    cleanups.push(() => a.close());
    const p = await proxy();
    p.setBackends([a.port]);
    await get(p.port);
    await new Promise((r) => setTimeout(r, 120));
    expect(p.idleMs()).toBeGreaterThanOrEqual(100);
  });
});
