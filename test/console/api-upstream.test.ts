import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  apiUpstreamOf,
  chooseApiUpstream,
  ConsoleApiFollower,
  type ApiNode,
  type ApiUpstream,
} from '../../src/console/api-upstream.ts';
import { sharedEdgeKey } from '../../src/console/edge.ts';

/**
 * The console on a gateway-only node: which API the console host goes to,
 * chosen from the nodes' recorded API URLs (the integration is in
 * test/gateway/gateway.test.ts, with real `steward up --role gateway` processes).
 */
const node = (name: string, apiUrl: string | null, health: ApiNode['health'] = 'live'): ApiNode => ({
  name,
  apiUrl,
  health,
});

describe('the API a gateway routes the console host to', () => {
  it.each([
    ['https://127.0.0.1:8080', { address: '127.0.0.1', port: 8080, tls: true }],
    ['http://10.0.0.5:3000', { address: '10.0.0.5', port: 3000, tls: false }],
    ['https://[::1]:8443', { address: '::1', port: 8443, tls: true }],
    // An API on every address recorded the unspecified one: the loopback reaches it here.
    ['http://[::]:9000', { address: '::1', port: 9000, tls: false }],
    ['http://0.0.0.0:9000', { address: '127.0.0.1', port: 9000, tls: false }],
    ['https://10.0.0.5', { address: '10.0.0.5', port: 443, tls: true }],
  ])('reads %s', (url, upstream) => {
    expect(apiUpstreamOf(url)).toEqual(upstream);
  });

  it.each([[null], ['https://api.example.test:8443'], ['ftp://127.0.0.1:21'], ['not a url']])(
    'names no upstream for %s (HAProxy names servers by address)',
    (url) => {
      expect(apiUpstreamOf(url)).toBeUndefined();
    },
  );

  it('takes the first live node by name (a late one when none is live), keeps the current one until it is gone', () => {
    const nodes = [
      node('b', 'http://127.0.0.1:2000'),
      node('a', 'http://127.0.0.1:1000', 'gone'),
      node('c', 'http://127.0.0.1:3000'),
      node('d', null),
      node('e', 'http://127.0.0.1:5000', 'late'),
    ];
    expect(chooseApiUpstream(nodes, undefined)).toEqual({ address: '127.0.0.1', port: 2000, tls: false });
    const onC: ApiUpstream = { address: '127.0.0.1', port: 3000, tls: false };
    expect(chooseApiUpstream(nodes, onC)).toEqual(onC);
    // The current node is gone: the first live one.
    expect(chooseApiUpstream(nodes.slice(0, 2), onC)?.port).toBe(2000);
    // A late node (missed beats under load, its lease still holds) when no node is live, and kept while late.
    expect(
      chooseApiUpstream(
        nodes.slice(1, 5).filter((n) => n.name !== 'c'),
        undefined,
      )?.port,
    ).toBe(5000);
    const onE: ApiUpstream = { address: '127.0.0.1', port: 5000, tls: false };
    expect(chooseApiUpstream(nodes, onE)).toEqual(onE);
    expect(
      chooseApiUpstream([node('a', null), node('b', 'http://x.test:1', 'live')], undefined),
    ).toBeUndefined();
  });

  it('follows: routes once per change, before the data plane starts without a reload, and keeps the last API when none lives', async () => {
    let nodes: ApiNode[] = [];
    const routed: { port: number; edgeKey: string; refresh: boolean | undefined }[] = [];
    const follower = new ConsoleApiFollower({
      nodes: { list: () => Promise.resolve(nodes) },
      route: (api, options) => {
        routed.push({ port: api.port, edgeKey: api.edgeKey, refresh: options.refresh });
        return Promise.resolve();
      },
      edgeKey: 'k'.repeat(43),
      logger: pino({ level: 'silent' }),
    });
    await follower.pass({ refresh: false });
    expect(routed).toEqual([]);
    nodes = [node('api-1', 'https://127.0.0.1:1000')];
    await follower.pass({ refresh: false });
    await follower.pass();
    nodes = [node('api-1', 'https://127.0.0.1:1000', 'gone'), node('api-2', 'https://127.0.0.1:2000')];
    await follower.pass();
    nodes = [];
    await follower.pass();
    expect(routed).toEqual([
      { port: 1000, edgeKey: 'k'.repeat(43), refresh: false },
      { port: 2000, edgeKey: 'k'.repeat(43), refresh: undefined },
    ]);
    expect(follower.current?.port).toBe(2000);
    await follower.stop();
    await follower.stop();
  });

  it('shares the edge key: an API node publishes its own when none is, a gateway uses the published one', async () => {
    const mine = 'a'.repeat(43);
    let published: string | undefined;
    const store = {
      get: () => Promise.resolve(published),
      put: (key: string) => {
        published = key;
        return Promise.resolve();
      },
    };
    // A gateway before any API node ran: its own, published nowhere.
    expect(await sharedEdgeKey(mine, { get: store.get })).toBe(mine);
    expect(published).toBeUndefined();
    expect(await sharedEdgeKey(mine, store)).toBe(mine);
    expect(published).toBe(mine);
    // Another node (an API node or a gateway elsewhere) takes the published one over its own.
    expect(await sharedEdgeKey('b'.repeat(43), store)).toBe(mine);
    expect(await sharedEdgeKey('b'.repeat(43), { get: store.get })).toBe(mine);
    expect(published).toBe(mine);
  });
});
