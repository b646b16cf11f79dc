import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  defaultSettings,
  dynamicConfig,
  configPatch,
  memberPgHba,
  patroniDefaults,
  renderMemberConfig,
  type HaMember,
} from '../../../src/databases/patroni/index.ts';
import { prefixEnd } from '../../../src/databases/patroni/etcd.ts';

const member = (i: number, host = '127.0.0.1'): HaMember => ({
  name: `s_${i}`,
  node: 'n1',
  host,
  pgPort: 5500 + i,
  restPort: 8000 + i,
  dataDir: `/var/lib/steward/ha/s/m${i}/data`,
});
const members = [member(1), member(2), member(3)];
const credentials = { superuser: 'su-secret', replication: 'repl-secret', rest: 'rest-secret' };
const render = (overrides: Partial<Parameters<typeof renderMemberConfig>[0]> = {}) =>
  parse(
    renderMemberConfig({
      scope: 's',
      namespace: '/steward/',
      member: members[1]!,
      members,
      etcdHosts: ['127.0.0.1:2379'],
      binDir: '/usr/lib/postgresql/15/bin',
      synchronous: true,
      settings: defaultSettings,
      credentials,
      ...overrides,
    }),
  ) as Record<string, any>;

describe('a member patroni.yml', () => {
  it('binds the REST API and PostgreSQL to the member host, the REST API behind basic auth', () => {
    const config = render();
    expect(config.name).toBe('s_2');
    expect(config.restapi).toEqual({
      listen: '127.0.0.1:8002',
      connect_address: '127.0.0.1:8002',
      authentication: { username: 'steward', password: 'rest-secret' },
    });
    expect(config.postgresql.listen).toBe('127.0.0.1:5502');
    expect(config.postgresql.data_dir).toBe('/var/lib/steward/ha/s/m2/data');
    expect(config.postgresql.parameters.unix_socket_directories).toBe('/var/lib/steward/ha/s/m2');
    expect(config.postgresql.authentication.replication).toEqual({
      username: 'replicator',
      password: 'repl-secret',
    });
    expect(config.watchdog).toEqual({ mode: 'off' });
    // Bounded logs: Patroni rotates its own, PostgreSQL one file per weekday.
    expect(config.log).toEqual({
      level: 'INFO',
      dir: '/var/lib/steward/ha/s/m2',
      file_size: 16_777_216,
      file_num: 4,
    });
    expect(config.bootstrap.dcs.postgresql.parameters).toMatchObject({
      logging_collector: 'on',
      log_filename: 'postgresql-%a.log',
      log_truncate_on_rotation: 'on',
    });
    expect(config.etcd3).toEqual({ hosts: ['127.0.0.1:2379'] });
  });

  it.each([
    [true, true],
    [false, false],
  ])('synchronous %s sets synchronous_mode %s', (synchronous, mode) => {
    expect(render({ synchronous }).bootstrap.dcs.synchronous_mode).toBe(mode);
  });

  it('carries the tuned timings and pg_rewind into the cluster-wide settings', () => {
    const dcs = render().bootstrap.dcs;
    expect(dcs).toMatchObject({
      ttl: 7,
      loop_wait: 1,
      retry_timeout: 3,
      primary_start_timeout: 10,
      failsafe_mode: true,
    });
    expect(dcs.postgresql.use_pg_rewind).toBe(true);
    expect(dcs.postgresql.parameters.wal_log_hints).toBe('on');
    expect(dcs.postgresql.parameters.fsync).toBeUndefined();
    expect(render({ unsafeFast: true }).bootstrap.dcs.postgresql.parameters.fsync).toBe('off');
  });

  it('keeps Patroni safe: loop_wait + 2 x retry_timeout <= ttl, for ours and for the defaults', () => {
    for (const settings of [defaultSettings, patroniDefaults]) {
      const dcs = dynamicConfig({ settings, synchronous: true });
      expect(dcs.loop_wait + 2 * dcs.retry_timeout).toBeLessThanOrEqual(dcs.ttl);
    }
  });
});

describe('member pg_hba', () => {
  it.each([
    ['one host', [member(1), member(2), member(3)], ['127.0.0.1/32']],
    [
      'three hosts',
      [member(1, '10.0.0.1'), member(2, '10.0.0.2'), member(3, '10.0.0.3')],
      ['10.0.0.1/32', '10.0.0.2/32', '10.0.0.3/32'],
    ],
    ['ipv6', [member(1, '::1')], ['::1/128']],
  ])(
    '%s: replication and superuser only from the members, stage roles only to their own database',
    (_name, list, cidrs) => {
      const lines = memberPgHba(list);
      expect(lines[0]).toBe('local all postgres peer map=steward');
      expect(lines.filter((l) => l.startsWith('host replication'))).toEqual(
        cidrs.map((c) => `host replication replicator ${c} scram-sha-256`),
      );
      expect(lines.filter((l) => l.startsWith('host postgres postgres'))).toEqual(
        cidrs.map((c) => `host postgres postgres ${c} scram-sha-256`),
      );
      expect(lines.filter((l) => / all \S+ scram/.test(l) && !l.includes('samerole'))).toEqual([]);
      expect(lines.slice(-2)).toEqual(['host all all 0.0.0.0/0 reject', 'host all all ::/0 reject']);
    },
  );
});

describe('etcd prefix range', () => {
  it.each([
    ['/steward/s/', '/steward/s0'],
    ['a', 'b'],
  ])('%s ends before %s', (prefix, end) => {
    expect(prefixEnd(prefix)).toBe(end);
  });
});

describe('keeping a running cluster in line with the settings', () => {
  const desired = dynamicConfig({ settings: defaultSettings, synchronous: true });
  it.each([
    ['as bootstrapped', { ...desired }, undefined],
    ['ttl changed behind Steward', { ...desired, ttl: 30 }, { ttl: 7 }],
    ['synchronous mode off', { ...desired, synchronous_mode: false }, { synchronous_mode: true }],
    [
      'failsafe never set',
      {
        ttl: 7,
        loop_wait: 1,
        retry_timeout: 3,
        primary_start_timeout: 10,
        maximum_lag_on_failover: 1048576,
        synchronous_mode: true,
      },
      { failsafe_mode: true },
    ],
  ])('%s', (_name, current, patch) => {
    expect(configPatch(current, desired)).toEqual(patch);
  });
});
