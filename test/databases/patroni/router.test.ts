import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/core/config.ts';
import {
  defaultSettings,
  planMembers,
  renderRouterConfig,
  type RouterEntry,
} from '../../../src/databases/patroni/index.ts';

const entry = (name: string, port: number): RouterEntry => ({
  name,
  port,
  members: [2, 1, 3].map((i) => ({
    name: `${name}_${i}`,
    host: '127.0.0.1',
    pgPort: 5000 + i,
    restPort: 8000 + i,
  })),
});

describe('the database router config', () => {
  const text = renderRouterConfig({
    adminSocket: '/var/lib/steward/ha/router/admin.sock',
    entries: [entry('st_b', 6002), entry('st_a', 6001)],
    settings: defaultSettings,
    runAs: { user: 'haproxy', group: 'haproxy' },
  });

  it("checks each member's Patroni /primary and sends connections only to the primary", () => {
    expect(text).toContain('default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions');
    const listen = text.slice(text.indexOf('listen ha_st_a'), text.indexOf('listen ha_st_b'));
    expect(listen.trim().split('\n')).toEqual([
      'listen ha_st_a',
      '    bind 127.0.0.1:6001',
      '    option httpchk GET /primary',
      '    http-check expect status 200',
      '    server st_a_1 127.0.0.1:5001 check port 8001',
      '    server st_a_2 127.0.0.1:5002 check port 8002',
      '    server st_a_3 127.0.0.1:5003 check port 8003',
    ]);
    expect(text).toContain('    mode tcp');
    expect(text).toContain('    user haproxy');
  });

  it("keeps the servers' checked states across reloads when given a state file", () => {
    const withState = renderRouterConfig({
      adminSocket: '/r/admin.sock',
      stateFile: '/r/servers.state',
      entries: [entry('st_a', 6001)],
      settings: defaultSettings,
    });
    expect(withState).toContain('    server-state-file /r/servers.state\n');
    expect(withState).toContain('    load-server-state-from-file global\n');
    expect(text).not.toContain('server-state-file');
  });

  it('renders the same text whatever the order of clusters and members', () => {
    const again = renderRouterConfig({
      adminSocket: '/var/lib/steward/ha/router/admin.sock',
      entries: [entry('st_a', 6001), entry('st_b', 6002)],
      settings: defaultSettings,
      runAs: { user: 'haproxy', group: 'haproxy' },
    });
    expect(again).toBe(text);
  });

  it('refuses a name that could change the config', () => {
    expect(() =>
      renderRouterConfig({
        adminSocket: '/x/admin.sock',
        entries: [{ ...entry('st_a', 1), name: 'st_a\n  bind :80' }],
        settings: defaultSettings,
      }),
    ).toThrow(/router entry name .* is not accepted/);
  });
});

describe('member placement', () => {
  const ports = [1, 2, 3].map((i) => ({ pgPort: 5000 + i, restPort: 8000 + i }));
  it.each([
    [['n1'], ['n1', 'n1', 'n1']],
    [
      ['n1', 'n2', 'n3'],
      ['n1', 'n2', 'n3'],
    ],
    [
      ['n1', 'n2'],
      ['n1', 'n2', 'n1'],
    ],
  ])('nodes %j place members on %j', (nodes, placed) => {
    const members = planMembers(
      'st_x',
      '/d/ha/clusters',
      nodes.map((node) => ({ node, host: '127.0.0.1' })),
      ports,
    );
    expect(members.map((m) => m.node)).toEqual(placed);
    expect(members.map((m) => m.name)).toEqual(['st_x_1', 'st_x_2', 'st_x_3']);
    expect(members[0]!.dataDir).toBe('/d/ha/clusters/st_x/st_x_1/data');
  });
});

describe('config key ha', () => {
  it('defaults: synchronous prod, the tuned timings, an embedded etcd', () => {
    const { ha } = parseConfig({ dataDir: '/d' });
    expect(ha).toEqual({
      enabled: true,
      etcd: undefined,
      synchronousStages: ['prod'],
      tuning: defaultSettings,
    });
  });

  it('takes etcd URLs and tuning overrides', () => {
    const { ha } = parseConfig({
      dataDir: '/d',
      ha: { etcd: ['http://10.0.0.1:2379'], synchronousStages: [], tuning: { ttl: 20, loopWait: 5 } },
    });
    expect(ha.etcd).toEqual(['http://10.0.0.1:2379']);
    expect(ha.synchronousStages).toEqual([]);
    expect(ha.tuning).toMatchObject({ ttl: 20, loopWait: 5, retryTimeout: 3 });
  });

  it.each([
    [
      { tuning: { ttl: 5 } },
      /config field ha\.tuning\.ttl: 5 is less than loopWait \+ 2 x retryTimeout \(1 \+ 2 x 3\); raise ttl to at least 7/,
    ],
    [{ etcd: ['etcd:2379'] }, /config field ha\.etcd\.0: must be http:\/\/host:port/],
    [{ tuning: { ttll: 5 } }, /config field ha\.tuning/],
    [{ synchronousStages: ['Prod'] }, /config field ha\.synchronousStages\.0/],
  ])('refuses %j, naming the field', (ha, message) => {
    expect(() => parseConfig({ dataDir: '/d', ha })).toThrow(message);
  });
});
