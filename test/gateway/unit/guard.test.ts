import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { checkRequest, createGatewayGuard, watchBody } from '../../../src/gateway/guard.ts';
import { gatewayLimitDefaults, resolveGatewayLimits } from '../../../src/gateway/limits.ts';
import { createGatewayMetrics } from '../../../src/gateway/metrics.ts';

const route = { host: 'acme.localhost', tenant: 'acme', stage: 'prod' };

function request(
  url: string,
  rawHeaders: string[] = ['Host', 'acme.localhost'],
  socket: { encrypted?: boolean; servername?: string | false } = {
    encrypted: true,
    servername: 'acme.localhost',
  },
): IncomingMessage {
  return {
    method: 'GET',
    url,
    httpVersion: '1.1',
    rawHeaders,
    headers: {},
    socket,
  } as unknown as IncomingMessage;
}

describe('gateway guard', () => {
  it.each<[string, IncomingMessage, number | undefined]>([
    ['a plain request', request('/a?b=1'), undefined],
    ['absolute-form for the routed host', request('https://acme.localhost/a'), undefined],
    ['absolute-form for another host', request('https://globex.localhost/a'), 421],
    ['Host differing from SNI', request('/', ['Host', 'globex.localhost']), 421],
    ['two Host headers', request('/', ['Host', 'acme.localhost', 'Host', 'acme.localhost']), 400],
    ['a dot-dot path', request('/a/%2e%2e/b'), 400],
    [
      'a spoofable header is fine (it is dropped, not refused)',
      request('/', ['Host', 'acme.localhost', 'X-Forwarded-For', '1.2.3.4']),
      undefined,
    ],
    [
      'too many headers',
      request('/', ['Host', 'acme.localhost', ...Array.from({ length: 100 }, () => ['X-A', 'b']).flat()]),
      431,
    ],
    [
      'both framings',
      request('/', ['Host', 'acme.localhost', 'Content-Length', '1', 'Transfer-Encoding', 'chunked']),
      400,
    ],
    ['plain HTTP without SNI', request('/', ['Host', 'acme.localhost'], {}), undefined],
  ])('%s → %s', (_name, req, status) => {
    const guard = createGatewayGuard({ limits: gatewayLimitDefaults });
    expect(guard.admit(req, route, '203.0.113.9')?.status).toBe(status);
  });

  it('rewrites an admitted absolute-form target to origin-form', () => {
    const req = request('https://ACME.localhost:8443/a?b=1');
    expect(
      createGatewayGuard({ limits: gatewayLimitDefaults }).admit(req, route, '203.0.113.9'),
    ).toBeUndefined();
    expect(req.url).toBe('/a?b=1');
  });

  it.each<[string, IncomingMessage, { kind: string; host?: string; status?: number }]>([
    ['Host decides', request('/a'), { kind: 'ok', host: 'acme.localhost' }],
    [
      'the absolute-form authority wins over Host (plain HTTP)',
      request('http://acme.localhost/a', ['Host', 'globex.localhost'], {}),
      { kind: 'ok', host: 'acme.localhost' },
    ],
    [
      'Host of another tenant than SNI',
      request('/a', ['Host', 'globex.localhost']),
      { kind: 'refuse', status: 421 },
    ],
    ['an encoded slash', request('/a%2Fb'), { kind: 'refuse', status: 400 }],
    [
      'a body over the limit',
      request('/', ['Host', 'acme.localhost', 'Content-Length', '99999999']),
      { kind: 'refuse', status: 413 },
    ],
  ])('checks before the route lookup: %s', (_name, req, expected) => {
    const first = checkRequest(req, gatewayLimitDefaults);
    const { page, ...rest } = first.kind === 'refuse' ? first : { ...first, page: undefined };
    expect({ ...rest, status: page?.status }).toMatchObject(expected);
    // A second check (the admit hook after the lookup) gives the same verdict, on the rewritten target too.
    expect(checkRequest(req, gatewayLimitDefaults)).toBe(first);
  });

  it('admits a request whose absolute-form authority won over Host, once routed by that authority', () => {
    const req = request('http://acme.localhost/a', ['Host', 'globex.localhost'], {});
    const guard = createGatewayGuard({ limits: gatewayLimitDefaults });
    expect(checkRequest(req, gatewayLimitDefaults)).toMatchObject({ kind: 'ok', host: 'acme.localhost' });
    expect(req.url).toBe('/a');
    expect(req.rawHeaders).toEqual(['Host', 'acme.localhost']);
    expect(req.headers.host).toBe('acme.localhost');
    expect(guard.admit(req, route, '203.0.113.9')).toBeUndefined();
    expect(guard.admit(request('/a', ['Host', 'globex.localhost'], {}), route, '203.0.113.9')?.status).toBe(
      421,
    );
  });

  it('limits per client address, then per tenant, with time passed in', async () => {
    let now = 0;
    const metrics = createGatewayMetrics();
    const limits = resolveGatewayLimits({
      addressRatePerSecond: 1,
      addressBurst: 2,
      tenantRatePerSecond: 1,
      tenantBurst: 3,
    });
    const guard = createGatewayGuard({ limits, metrics, now: () => now });
    const admit = (address: string): number | undefined => guard.admit(request('/'), route, address)?.status;
    expect([admit('10.0.0.1'), admit('10.0.0.1'), admit('10.0.0.1')]).toEqual([undefined, undefined, 429]);
    expect([admit('10.0.0.2'), admit('10.0.0.2')]).toEqual([undefined, 429]); // the tenant's 3 are spent
    expect(guard.admit(request('/'), route, '10.0.0.1')).toMatchObject({ status: 429, retryAfterSeconds: 1 });
    now = 1_000;
    expect(admit('10.0.0.2')).toBeUndefined();
    const text = await metrics.render();
    expect(text).toContain(
      'steward_gateway_rate_limited_total{tenant="acme",stage="prod",scope="address"} 2',
    );
    expect(text).toContain('steward_gateway_rate_limited_total{tenant="acme",stage="prod",scope="tenant"} 1');
  });

  it('observes finished exchanges into metrics and the access log', async () => {
    const lines: unknown[] = [];
    const metrics = createGatewayMetrics();
    const accessLog = { info: (entry: unknown) => lines.push(entry) } as unknown as Logger;
    const guard = createGatewayGuard({ limits: gatewayLimitDefaults, metrics, accessLog, now: () => 10_000 });
    guard.observe({
      requestId: 'r1',
      method: 'GET',
      host: 'acme.localhost',
      route,
      status: 200,
      durationMs: 12,
      clientAddress: '10.0.0.1',
    });
    expect(await metrics.render()).toContain(
      'steward_gateway_requests_total{tenant="acme",stage="prod",status_class="2xx"} 1',
    );
    expect(lines).toMatchObject([
      { requestId: 'r1', status: 200, tenant: 'acme', stage: 'prod', time: '1970-01-01T00:00:09.988Z' },
    ]);
  });

  it('caps open connections per client address and counts them', async () => {
    const metrics = createGatewayMetrics();
    const limits = resolveGatewayLimits({ maxConnectionsPerAddress: 2 });
    const guard = createGatewayGuard({ limits, metrics });
    const socket = (remoteAddress: string) => {
      const s = Object.assign(new EventEmitter(), {
        remoteAddress,
        destroyed: false,
        destroy: () => (s.destroyed = true),
      });
      return s;
    };
    const sockets = ['10.0.0.1', '::ffff:10.0.0.1', '10.0.0.1', '10.0.0.2'].map(socket);
    for (const s of sockets) guard.connection(s as unknown as Socket);
    expect(sockets.map((s) => s.destroyed)).toEqual([false, false, true, false]);
    expect(await metrics.render()).toContain('steward_gateway_open_connections 3');
    sockets[0]?.emit('close');
    const again = socket('10.0.0.1');
    guard.connection(again as unknown as Socket);
    expect(again.destroyed).toBe(false);
    expect(await metrics.render()).toContain(
      'steward_gateway_rejected_requests_total{reason="connection_limit"} 1',
    );
  });

  it.each<[string, readonly (['data', number] | ['end', number])[], boolean]>([
    [
      'a body that keeps coming',
      [
        ['data', 900],
        ['data', 1_800],
        ['data', 2_700],
        ['end', 3_000],
      ],
      false,
    ],
    [
      'a body that stalls',
      [
        ['data', 500],
        ['data', 1_600],
      ],
      true,
    ],
    ['a body that ends', [['end', 100]], false],
  ])('watches the body: %s', (_name, events, cut) => {
    vi.useFakeTimers();
    try {
      let destroyed = false;
      const req = Object.assign(new EventEmitter(), { socket: { destroy: () => (destroyed = true) } });
      watchBody(req as unknown as IncomingMessage, 1_000);
      watchBody(req as unknown as IncomingMessage, 1_000);
      let at = 0;
      for (const [event, time] of events) {
        vi.advanceTimersByTime(time - at);
        at = time;
        if (destroyed) break;
        req.emit(event, Buffer.from('x'));
      }
      vi.advanceTimersByTime(5_000);
      expect(destroyed).toBe(cut);
    } finally {
      vi.useRealTimers();
    }
  });
});
