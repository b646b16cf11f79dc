import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Agent } from 'node:https';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect as tlsConnect } from 'node:tls';
import type { Listen } from '../../src/dataplane/index.ts';
import type { Answer } from './support.ts';

/** A real app process (fixtures/app.ts) on a free loopback port. */
export interface AppProcess {
  readonly name: string;
  readonly port: number;
  /** SIGTERM: it finishes its requests in flight, then says which POST bodies it received. */
  stop(): Promise<string[]>;
  readonly child: ChildProcess;
}

export async function startApp(name: string): Promise<AppProcess> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'app.ts')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', APP_NAME: name },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await iterator.next();
  const { port } = JSON.parse(String(first.value)) as { port: number };
  return {
    name,
    port,
    child,
    async stop() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const last = await iterator.next();
      await exited;
      return last.done ? [] : (JSON.parse(String(last.value)) as { received: string[] }).received;
    },
  };
}

/**
 * The lines the data plane's config gets for the activator (dp-edge renders
 * them from DataPlaneState.activator): every stage backend names its stage to
 * the activator and has it as its backup server.
 */
export function withActivator(config: string, activator: Listen): string {
  return config.replace(
    /^(backend st_\S+\n {4}balance roundrobin\n)/gm,
    `$1    http-request set-header X-Steward-Stage %[be_name]\n    server activator ${activator.address}:${activator.port} backup\n`,
  );
}

export interface Sent extends Answer {
  readonly json: Record<string, unknown>;
}

/** One HTTPS request through the edge, with a body when given. */
export function send(
  port: number,
  host: string,
  options: {
    method?: string;
    path?: string;
    body?: Buffer;
    headers?: Record<string, string>;
    agent?: Agent | false;
    timeoutMs?: number;
  } = {},
): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        servername: host,
        headers: { host, ...options.headers },
        rejectUnauthorized: false,
        agent: options.agent ?? false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(body) as Record<string, unknown>;
          } catch {
            // Not JSON: an error page.
          }
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers, json });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** An HTTP/1.1 upgrade through the TLS edge (as a WebSocket starts); resolves with the answer's head, then echoes. */
export function upgrade(
  port: number,
  host: string,
): Promise<{ head: string; echo: (text: string) => Promise<string>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: '127.0.0.1', port, servername: host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] },
      () => {
        socket.write(`GET /socket HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
      },
    );
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buffered.slice(0, end);
      resolve({
        head,
        echo: (text) =>
          new Promise((echoed) => {
            let got = '';
            const collect = (data: Buffer) => {
              got += data.toString('utf8');
              if (got.length >= text.length) {
                socket.off('data', collect);
                echoed(got);
              }
            };
            socket.on('data', collect);
            socket.write(text);
          }),
        close: () => socket.destroy(),
      });
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
  });
}
