import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';

/** Real clients and a real backend for gateway tests: TLS requests, a WebSocket echo server, raw frames. */
export interface Reply {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly issuer: string | undefined;
}

export interface RequestOptions {
  readonly port: number;
  /** The Host header and, unless `servername` says otherwise, the SNI name. */
  readonly host: string;
  readonly path?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly ca: string | readonly string[];
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
}

export function httpsFetch(o: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: o.port,
        path: o.path ?? '/',
        method: o.method ?? 'GET',
        servername: o.servername ?? o.host,
        headers: { host: o.host, ...o.headers },
        ca: o.ca as string[],
        rejectUnauthorized: o.rejectUnauthorized ?? true,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const cert = (res.socket as TLSSocket).getPeerCertificate?.() as PeerCertificate | undefined;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            issuer: [cert?.issuer?.CN].flat()[0],
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

export function httpFetch(port: number, host: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          issuer: undefined,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls until `check` passes, and returns how long that took. */
export async function within(ms: number, check: () => Promise<boolean>, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const wsGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** One WebSocket text frame (server side: unmasked; client side: masked). */
export function wsFrame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('test frames stay under 126 bytes');
  const header = Buffer.from([0x81, (mask ? 0x80 : 0) | payload.length]);
  if (!mask) return Buffer.concat([header, payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ (key[i % 4] ?? 0)));
  return Buffer.concat([header, key, masked]);
}

/** Reads one small frame's text from a buffer, or undefined when it is incomplete. */
export function readWsFrame(buffer: Buffer): string | undefined {
  if (buffer.length < 2) return undefined;
  const second = buffer[1] ?? 0;
  const masked = (second & 0x80) !== 0;
  const length = second & 0x7f;
  const start = 2 + (masked ? 4 : 0);
  if (buffer.length < start + length) return undefined;
  const payload = buffer.subarray(start, start + length);
  if (!masked) return payload.toString();
  const key = buffer.subarray(2, 6);
  return Buffer.from(payload.map((b, i) => b ^ (key[i % 4] ?? 0))).toString();
}

/**
 * A stage stand-in: echoes each request as JSON (method, url, headers,
 * body length) and answers WebSocket upgrades with an echo of each frame.
 */
export async function startEchoBackend(): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Duplex>();
  const server = createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      const body = JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        bodyBytes: size,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const accept = createHash('sha1')
      .update(key + wsGuid)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\nX-Seen-Forwarded-For: ${String(req.headers['x-forwarded-for'])}\r\n\r\n`,
    );
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const text = readWsFrame(buffered);
      if (text === undefined) return;
      buffered = Buffer.alloc(0);
      socket.write(wsFrame(`echo: ${text}`, false));
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A WebSocket round trip through the gateway: handshake, one frame out, one frame back. */
export function webSocketEcho(
  port: number,
  host: string,
  ca: string,
  text: string,
): Promise<{ status: string; headers: string; reply: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: host, ca });
    let buffered = Buffer.alloc(0);
    let head: string | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no WebSocket reply; got ${buffered.toString()}`));
    }, 10_000);
    socket.on('secureConnect', () => {
      socket.write(
        `GET /socket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (head === undefined) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = buffered.subarray(0, end).toString();
        buffered = buffered.subarray(end + 4);
        if (!head.startsWith('HTTP/1.1 101')) {
          clearTimeout(timer);
          socket.destroy();
          resolve({ status: head.split('\r\n')[0] ?? '', headers: head, reply: '' });
          return;
        }
        socket.write(wsFrame(text, true));
      }
      const reply = readWsFrame(buffered);
      if (reply !== undefined) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ status: head.split('\r\n')[0] ?? '', headers: head, reply });
      }
    });
    socket.on('error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Whether a TLS handshake with these client settings succeeds. */
export function handshake(
  port: number,
  options: {
    minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    ciphers?: string;
  },
  ca: string,
  servername: string,
): Promise<{ ok: boolean; protocol?: string | null; cipher?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername, ca, ...options });
    socket.on('secureConnect', () => {
      const result = { ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().name };
      socket.destroy();
      resolve(result);
    });
    socket.on('error', (error: Error) => resolve({ ok: false, error: error.message }));
  });
}
