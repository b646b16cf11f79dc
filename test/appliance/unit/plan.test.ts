import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  applianceSchema,
  checkAppliance,
  nodeConfig,
  type ApplianceSettings,
} from '../../../src/appliance/config.ts';
import { renderRouterConfig } from '../../../src/databases/patroni/router.ts';
import { defaultSettings } from '../../../src/databases/patroni/settings.ts';
import { nodeLossVerdict, type NodeLossMeasurement } from '../../../src/appliance/evidence.ts';
import { unhealthyBecause } from '../../../src/appliance/members.ts';
import { controlRoute, controlUrls, etcdArgs, patroniConfig } from '../../../src/appliance/plan.ts';
import { parseConfig } from '../../../src/core/config.ts';
import { InputError } from '../../../src/core/errors.ts';

const nodes = [1, 2, 3].map((i) => ({
  name: `n${i}`,
  host: `10.0.0.${i}`,
}));
const appliance = (extra: Record<string, unknown> = {}): ApplianceSettings =>
  checkAppliance(applianceSchema.parse({ node: 'n1', nodes, ...extra }));
const credentials = {
  superuserPassword: 'su-secret',
  replicationPassword: 'rep-secret',
  appPassword: 'app/secret',
  restPassword: 'rest-secret',
};

describe('appliance config', () => {
  it('fills in every port with the defaults of three machines', () => {
    expect(appliance().nodes[0]).toEqual({
      name: 'n1',
      host: '10.0.0.1',
      apiPort: 8440,
      gatewayPort: 8443,
      gatewayHttpPort: 0,
      etcdClientPort: 2379,
      etcdPeerPort: 2380,
      patroniPort: 8008,
      postgresPort: 5432,
      routerPort: 5433,
    });
  });

  it.each([
    [{ nodes: nodes.slice(0, 2) }, /nodes/],
    [{ nodes: [...nodes, { name: 'n4' }] }, /4 nodes is not accepted: use 3 or 5/],
    [{ node: 'n9' }, /appliance.node: "n9" is not one of the nodes \(n1, n2, n3\)/],
    [{ nodes: [nodes[0], nodes[1], { ...nodes[1] }] }, /nodes.2.name: "n2" is named twice/],
    [
      { nodes: nodes.map((n) => ({ ...n, host: '127.0.0.1' })) },
      /nodes.1.apiPort: 8440 on "127.0.0.1" is already n1's apiPort/,
    ],
    [
      { nodes: [{ ...nodes[0], patroniPort: 5432 }, nodes[1], nodes[2]] },
      /nodes.0.postgresPort: 5432 .* n1's patroniPort/,
    ],
  ])('refuses %j, naming the field and the value', (input, message) => {
    expect(() => parseConfig({ dataDir: '/d', appliance: { node: 'n1', nodes, ...input } })).toThrow(message);
    expect(() => parseConfig({ dataDir: '/d', appliance: { node: 'n1', nodes, ...input } })).toThrow(
      InputError,
    );
  });

  it("runs the node's API and gateway on its own ports, and names the node after it", () => {
    const config = nodeConfig(
      parseConfig({
        dataDir: '/d',
        appliance: {
          node: 'n2',
          nodes: nodes.map((n, i) => ({ ...n, apiPort: 9000 + i, gatewayPort: 9100 + i })),
        },
      }),
    );
    expect(config.api).toMatchObject({ host: '10.0.0.2', port: 9001 });
    expect(config.gateway).toMatchObject({ port: 9101, httpPort: 0 });
    expect(config.node.name).toBe('n2');
    expect(config.ha.etcd).toEqual(['http://10.0.0.1:2379', 'http://10.0.0.2:2379', 'http://10.0.0.3:2379']);
  });
});

describe('a node of the appliance, planned', () => {
  it('makes one etcd of the three members; a rerun has the same arguments', () => {
    const args = etcdArgs(appliance(), '/data/n1');
    const flag = (name: string): string | undefined => args[args.indexOf(name) + 1];
    expect(flag('--name')).toBe('steward-n1');
    expect(flag('--data-dir')).toBe('/data/n1/etcd');
    expect(flag('--listen-client-urls')).toBe('http://10.0.0.1:2379');
    expect(flag('--initial-cluster')).toBe(
      'steward-n1=http://10.0.0.1:2380,steward-n2=http://10.0.0.2:2380,steward-n3=http://10.0.0.3:2380',
    );
    expect(etcdArgs(appliance(), '/data/n1')).toEqual(args);
  });

  it("gives Patroni the tuned timings, synchronous mode and the embedded cluster's hba rules per node", () => {
    const config = parse(patroniConfig(appliance(), '/data/n1', credentials, { binDir: '/pg/bin' })) as {
      scope: string;
      name: string;
      etcd3: { hosts: string[] };
      bootstrap: { dcs: Record<string, unknown> & { postgresql: { parameters: Record<string, unknown> } } };
      postgresql: {
        data_dir: string;
        pg_hba: string[];
        basebackup: unknown;
        authentication: Record<string, { password: string }>;
      };
      watchdog: { mode: string };
      restapi: { authentication: { username: string; password: string } };
    };
    expect(config).toMatchObject({ scope: 'steward-control', name: 'n1', watchdog: { mode: 'off' } });
    expect(config.etcd3.hosts).toEqual(['10.0.0.1:2379', '10.0.0.2:2379', '10.0.0.3:2379']);
    // The ha tier's tuned timing (settings.ts), not Patroni's defaults.
    expect(config.bootstrap.dcs).toMatchObject({
      ttl: 7,
      loop_wait: 1,
      retry_timeout: 3,
      primary_start_timeout: 10,
      failsafe_mode: true,
      synchronous_mode: true,
    });
    expect(config.bootstrap.dcs.postgresql.parameters.fsync).toBeUndefined();
    expect(config.postgresql.data_dir).toBe('/data/n1/control/data');
    expect(config.postgresql.authentication.superuser?.password).toBe('su-secret');
    expect(config.restapi.authentication).toEqual({ username: 'steward', password: 'rest-secret' });
    expect(config.postgresql.pg_hba).toContain('host samerole all 10.0.0.3/32 scram-sha-256');
    expect(config.postgresql.basebackup).toEqual([{ checkpoint: 'fast' }]);
    expect(config.postgresql.pg_hba).toContain('host replication replicator 10.0.0.2/32 scram-sha-256');
    expect(config.postgresql.pg_hba).not.toContain('host all all 10.0.0.1/32 scram-sha-256');
    expect(config.postgresql.pg_hba.at(-1)).toBe('host all all ::/0 reject');
    const unsafe = parse(
      patroniConfig(appliance(), '/d', credentials, { binDir: '/b', unsafeFast: true }),
    ) as typeof config;
    expect(unsafe.bootstrap.dcs.postgresql.parameters.fsync).toBe('off');
    // pg_rewind needs full-page writes: only fsync goes.
    expect(unsafe.bootstrap.dcs.postgresql.parameters.full_page_writes).toBeUndefined();
  });

  it('routes the control database to the primary: every member checked on /primary', () => {
    const route = controlRoute(appliance());
    const text = renderRouterConfig({
      adminSocket: '/data/n1/ha/router/admin.sock',
      entries: [route],
      settings: defaultSettings,
    });
    expect(text).toContain('listen ha_steward-control\n    bind 127.0.0.1:5433');
    expect(text).toContain('option httpchk GET /primary');
    expect(text).toContain('default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions');
    expect(text).toContain('server n3 10.0.0.3:5432 check port 8008');
  });

  it("connects through the node's own router; passwords are URL-encoded", () => {
    const urls = controlUrls(appliance(), credentials);
    expect(urls.controlUrl).toBe('postgres://steward_app:app%2Fsecret@127.0.0.1:5433/steward');
    expect(urls.adminUrl).toBe('postgres://postgres:su-secret@127.0.0.1:5433/steward');
    expect(urls.superuserUrl).toBe('postgres://postgres:su-secret@127.0.0.1:5433/postgres');
  });
});

describe('nodeLossVerdict', () => {
  const measured: NodeLossMeasurement = {
    node: 'n1',
    killedAt: '2026-12-07T07:00:00.000Z',
    processesKilled: 10,
    apiSeconds: { n2: 10.2, n3: 10.5 },
    controlPlaneSeconds: 10.5,
    servingSeconds: 10.6,
    tenants: ['acme'],
    job: { tenant: 'drill-x', ranSeconds: 11 },
    checks: { count: 6, newestBefore: null, newestAfter: '2026-12-07T07:00:12.000Z' },
    notifications: { pending: ['1'], delivered: 1 },
    lost: { jobs: 0, checks: 0, notifications: 0 },
    oldLeader: 'n1',
    newLeader: 'n2',
    durationSeconds: 14,
  };

  it('passes when everything came back and nothing was lost', () => {
    expect(nodeLossVerdict(measured)).toEqual({
      outcome: 'passed',
      reason:
        'lost node n1: the API answered on every other node after 10.5 s, 1 tenant(s) served again after 10.6 s; nothing lost',
    });
  });

  it.each([
    [{ apiSeconds: { n2: 10, n3: null } }, 'the API on n3 never answered'],
    [{ servingSeconds: null }, 'not every tenant served again through every surviving gateway'],
    [{ lost: { jobs: 1, checks: 0, notifications: 0 } }, '1 job(s) queued before the kill never ran'],
    [{ lost: { jobs: 0, checks: 1, notifications: 0 } }, 'no check result after the kill'],
    [
      { lost: { jobs: 0, checks: 0, notifications: 2 } },
      '2 notification(s) pending across the kill were not delivered',
    ],
  ])('fails %j and says why', (change, reason) => {
    expect(nodeLossVerdict({ ...measured, ...change })).toEqual({
      outcome: 'failed',
      reason,
    });
  });
});

describe('unhealthyBecause: a drill starts from a cluster that can lose any node', () => {
  const roles = (entries: [string, string][]): Map<string, string> => new Map(entries);
  it('is healthy with a leader, a synchronous standby and every member running', () => {
    expect(
      unhealthyBecause(
        appliance(),
        roles([
          ['n1', 'leader (running)'],
          ['n2', 'sync_standby (running)'],
          ['n3', 'replica (streaming)'],
        ]),
      ),
    ).toBeUndefined();
  });
  it.each([
    [
      [
        ['n1', 'leader (running)'],
        ['n2', 'sync_standby (running)'],
      ],
      'members not running: n3 -',
    ],
    [
      [
        ['n1', 'leader (running)'],
        ['n2', 'sync_standby (running)'],
        ['n3', 'replica (creating replica)'],
      ],
      'members not running: n3 replica (creating replica)',
    ],
    [
      [
        ['n1', 'leader (running)'],
        ['n2', 'replica (running)'],
        ['n3', 'replica (running)'],
      ],
      'no synchronous standby yet',
    ],
    [
      [
        ['n1', 'replica (running)'],
        ['n2', 'sync_standby (running)'],
        ['n3', 'replica (running)'],
      ],
      'no single leader',
    ],
  ] as [[string, string][], string][])('%j: %s', (entries, reason) => {
    expect(unhealthyBecause(appliance(), roles(entries))).toBe(reason);
  });
});
