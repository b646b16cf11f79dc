import { request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Activator, activatorVia } from '../../src/dataplane/index.ts';
import { nameServer, until } from './support.ts';

/**
 * The activator on its own, as HAProxy reaches it (plain HTTP on loopback,
 * the stage named in X-Steward-Stage): what it does with requests it holds.
 */

let activator: Activator;
let port: number;
const woken: string[] = [];

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function ask(stage: string | undefined, options: { signal?: AbortSignal } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        headers: stage === undefined ? {} : { 'x-steward-stage': stage },
        agent: false,
        signal: options.signal,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  activator = new Activator({ holdTimeoutMs: 5_000, maxHeldPerStage: 2, retryAfterSeconds: 7 });
  activator.onWake((stageId) => woken.push(stageId));
  port = (await activator.listen()).port;
});

afterAll(async () => {
  await activator?.close();
});

describe('the activator', () => {
  it('answers a request that names no stage backend with the branded 503, and wakes nothing', async () => {
    for (const stage of [undefined, 'acme', 'st_', 'st_a b']) {
      const reply = await ask(stage);
      expect([reply.status, reply.headers['retry-after']]).toEqual([503, '7']);
      expect(reply.body).toContain('The application is starting');
    }
    expect(woken).toEqual([]);
  });

  it('forgets a request whose client left, and holds at most its bound per stage', async () => {
    const leaving = new AbortController();
    const left = ask('st_21', { signal: leaving.signal }).catch(() => undefined);
    await until('held', () => activator.held('21') === 1);
    leaving.abort();
    await left;
    await until('forgotten', () => activator.held('21') === 0);
    const held = [ask('st_21'), ask('st_21')];
    await until('two held', () => activator.held('21') === 2);
    // Over the bound: answered at once.
    const started = Date.now();
    expect((await ask('st_21')).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(1_000);
    // The stage goes away: its held requests get their answer now.
    activator.remove('21');
    expect((await Promise.all(held)).map((reply) => reply.status)).toEqual([503, 503]);
    expect(woken).toEqual(['21']);
  });

  it('forwards at once for a stage that serves, naming itself in Via', async () => {
    const app = await nameServer('app');
    try {
      activator.serve('22', [app.port]);
      const reply = await ask('st_22');
      expect([reply.status, reply.body]).toEqual([200, 'app']);
      expect(woken).toEqual(['21']);
      expect(activatorVia).toBe('1.1 steward-activator');
    } finally {
      app.server.close();
    }
  });
});
