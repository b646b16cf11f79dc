import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSteward, type TestSteward } from '../harness/steward.ts';

const MiB = 1024 * 1024;
const uploadBytes = 256 * MiB;

interface Upload {
  /** The status line and headers, as soon as they came. */
  readonly head: string;
  /** Bytes of body the client could write before the server closed the connection. */
  readonly written: number;
  readonly closedByServer: boolean;
}

/**
 * Starts a 256 MiB release upload and sends body bytes for as long as the
 * server reads them, up to `budgetMs` after the answer. A server that
 * answers before the body and closes the connection lets only what fits in
 * the sockets' buffers through.
 */
function upload(port: number, authorization: string | undefined, budgetMs = 3000): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunk = Buffer.alloc(64 * 1024, 0x1f);
    let head = '';
    let written = 0;
    let closed = false;
    let answeredAt: number | undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no answer before the body was sent (${written} bytes written, head ${JSON.stringify(head)})`,
        ),
      );
    }, 10_000);
    const finish = (): void => {
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ head, written, closedByServer: closed });
    };
    socket.on('data', (data: Buffer) => {
      head += data.toString('latin1');
      answeredAt ??= Date.now();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
    const pump = (): void => {
      while (!socket.destroyed && written < uploadBytes) {
        if (answeredAt !== undefined && Date.now() - answeredAt > budgetMs) return finish();
        written += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          // A server that stopped reading never drains: check the budget again meanwhile.
          setTimeout(() => {
            if (answeredAt !== undefined && Date.now() - answeredAt > budgetMs) finish();
          }, budgetMs + 100);
          return;
        }
      }
    };
    socket.on('connect', () => {
      socket.write(
        [
          'POST /api/v1/releases?version=1.0.0 HTTP/1.1',
          'Host: 127.0.0.1',
          'Content-Type: application/gzip',
          `Content-Length: ${uploadBytes}`,
          ...(authorization ? [`Authorization: ${authorization}`] : []),
          '',
          '',
        ].join('\r\n'),
      );
      pump();
    });
  });
}

describe('the API authenticates before it reads a request body', () => {
  let t: TestSteward;
  let port: number;

  beforeAll(async () => {
    t = await startTestSteward();
    const address = t.api.server.address();
    if (address === null || typeof address === 'string') throw new Error('the API does not listen on TCP');
    port = address.port;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses an anonymous 256 MiB upload at its headers and closes the connection', async () => {
    const result = await upload(port, undefined);
    expect(result.head).toMatch(/^HTTP\/1\.1 401 /);
    expect(result.head).toContain('this request needs an API token');
    expect(result.head.toLowerCase()).toContain('connection: close');
    expect(result.closedByServer).toBe(true);
    // What the kernel buffers, not the upload: the server did not read it.
    expect(result.written).toBeLessThan(32 * MiB);
  });

  it('refuses an upload with a wrong token at its headers too', async () => {
    const result = await upload(port, 'Bearer stw_not-a-token');
    expect(result.head).toMatch(/^HTTP\/1\.1 401 /);
    expect(result.closedByServer).toBe(true);
    expect(result.written).toBeLessThan(32 * MiB);
  });

  it('refuses an upload by a role that may not add releases at its headers, with 403', async () => {
    const auditor = await t.request('POST', '/api/v1/tokens', { name: 'auditor', role: 'auditor' });
    expect(auditor.status, auditor.text).toBe(201);
    const result = await upload(port, `Bearer ${auditor.body.token as string}`);
    expect(result.head).toMatch(/^HTTP\/1\.1 403 /);
    expect(result.head).toContain('role auditor may not do this (needs releases.write)');
    expect(result.closedByServer).toBe(true);
    expect(result.written).toBeLessThan(32 * MiB);
  });

  it('still takes a small authenticated request with a body', async () => {
    const res = await t.request('POST', '/api/v1/releases?version=1.0.0', undefined);
    // No body: the route says what it needs, after authentication passed.
    expect(res.status, res.text).toBe(400);
    const anonymous = await t.request('GET', '/api/v1/tenants', undefined, null);
    expect(anonymous.status).toBe(401);
  });
});
