import { describe, expect, it } from 'vitest';
import {
  forwardRequestHeaders,
  forwardResponseHeaders,
  type ForwardContext,
} from '../../src/gateway/proxy.ts';
import { buildRouteTable } from '../../src/gateway/routes.ts';
import { strippedRequestHeaders, upstreamHeaders } from '../../src/gateway/headers.ts';
import { gatewayLimitDefaults } from '../../src/gateway/limits.ts';

const route = buildRouteTable(
  [{ tenant: 'acme', stage: 'dev', publishedPort: 1, allowFrom: null, maintenance: false, domains: [] }],
  'localhost',
).routes[0];
if (!route) throw new Error('no route');
const context: ForwardContext = {
  route,
  requestId: 'req-1',
  clientAddress: '192.0.2.7',
  host: 'dev.acme.localhost',
  method: 'GET',
};

const pairs = (flat: readonly string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] ?? '', flat[i + 1] ?? '']);
  return out;
};

describe('headers sent to the stage', () => {
  it('keeps the client headers in order, drops hop-by-hop and gateway-owned ones, and adds its own', () => {
    const out = pairs(
      forwardRequestHeaders(
        [
          'Host',
          'dev.acme.localhost',
          'Accept',
          'text/html',
          'Connection',
          'keep-alive, X-Secret-Hop',
          'X-Secret-Hop',
          'dropped',
          'Keep-Alive',
          'timeout=5',
          'X-Forwarded-For',
          '6.6.6.6',
          'x-forwarded-proto',
          'http',
          'Forwarded',
          'for=6.6.6.6',
          'X-Real-IP',
          '6.6.6.6',
          'X-Request-Id',
          'mine',
          'X-Steward-User-Id',
          'admin',
          'Cookie',
          'a=1',
          'Cookie',
          'b=2',
        ],
        context,
      ),
    );
    expect(out).toEqual([
      ['Host', 'dev.acme.localhost'],
      ['Accept', 'text/html'],
      ['Cookie', 'a=1'],
      ['Cookie', 'b=2'],
      ['X-Forwarded-For', '192.0.2.7'],
      ['X-Forwarded-Proto', 'https'],
      ['X-Forwarded-Host', 'dev.acme.localhost'],
      ['X-Request-Id', 'req-1'],
    ]);
  });

  it('re-frames a chunked body as its own chunked body, and keeps Upgrade on upgrades', () => {
    const chunked = pairs(forwardRequestHeaders(['Transfer-Encoding', 'chunked', 'TE', 'trailers'], context));
    expect(chunked.slice(0, 1)).toEqual([['Transfer-Encoding', 'chunked']]);
    expect(chunked.some(([name]) => name === 'TE')).toBe(false);
    const upgrade = pairs(
      forwardRequestHeaders(
        ['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k'],
        context,
        { upgrade: true },
      ),
    );
    expect(upgrade.slice(0, 3)).toEqual([
      ['Upgrade', 'websocket'],
      ['Sec-WebSocket-Key', 'k'],
      ['Connection', 'Upgrade'],
    ]);
  });

  it("replaces the stage's HSTS and request id in responses and drops hop-by-hop headers", () => {
    const out = pairs(
      forwardResponseHeaders(
        [
          'Content-Type',
          'text/plain',
          'Connection',
          'keep-alive',
          'Transfer-Encoding',
          'chunked',
          'Strict-Transport-Security',
          'max-age=0',
          'X-Request-Id',
          'app',
          'Set-Cookie',
          'a=1',
        ],
        ['X-Request-Id', 'req-1', 'Strict-Transport-Security', 'max-age=100'],
      ),
    );
    expect(out).toEqual([
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=1'],
      ['X-Request-Id', 'req-1'],
      ['Strict-Transport-Security', 'max-age=100'],
    ]);
  });

  /** Every stripped name, and for each prefix a name that starts with it, in client spellings. */
  const strippable = [
    ...strippedRequestHeaders.names.map((n) =>
      n.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase()),
    ),
    ...strippedRequestHeaders.prefixes.map((p) => `${p.toUpperCase()}Anything`),
  ];
  const owned = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);

  it.each(strippable)("never sends a client's %s to the stage, on either request path", (name) => {
    const raw = ['Host', 'dev.acme.localhost', name, 'forged', 'Accept', '*/*'];
    for (const upgrade of [false, true]) {
      const out = pairs(forwardRequestHeaders(raw, context, { upgrade }));
      expect(out.filter(([n, v]) => n.toLowerCase() === name.toLowerCase() && v === 'forged')).toEqual([]);
      expect(out.some(([n]) => n === 'Accept')).toBe(true);
    }
    const decision = upstreamHeaders({
      rawHeaders: raw,
      clientAddress: '192.0.2.7',
      proto: 'https',
      authority: 'dev.acme.localhost',
      requestId: 'req-1',
      limits: gatewayLimitDefaults,
    });
    if (decision.kind !== 'ok') throw new Error(decision.reason);
    expect(
      decision.headers.filter(([n, v]) => n.toLowerCase() === name.toLowerCase() && v === 'forged'),
    ).toEqual([]);
    // Only the gateway's own forwarding headers come back, with the gateway's values.
    for (const [n] of decision.headers) {
      if (n.toLowerCase() === name.toLowerCase()) expect(owned.has(n.toLowerCase())).toBe(true);
    }
  });

  it('lists the headers some app stacks trust as if a proxy had set them', () => {
    for (const name of [
      'true-client-ip',
      'x-original-url',
      'x-rewrite-url',
      'x-original-host',
      'x-client-ip',
      'x-cluster-client-ip',
      'cf-connecting-ip',
      'fastly-client-ip',
      'x-proxyuser-ip',
      'proxy',
      'x-http-method-override',
      'x-original-method',
      'x-real-ip',
      'forwarded',
    ]) {
      expect(strippedRequestHeaders.names).toContain(name);
    }
    expect(strippedRequestHeaders.prefixes).toEqual(expect.arrayContaining(['x-forwarded-', 'x-steward-']));
  });
});
