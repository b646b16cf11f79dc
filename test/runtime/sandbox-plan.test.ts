import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config.ts';
import { InputError } from '../../src/core/errors.ts';
import {
  bwrapArgs,
  bwrapInvocation,
  describeIsolation,
  isolationReport,
  nftRuleset,
  tableName,
  type IsolationProbe,
  type IsolationReport,
  type MountPlan,
  type NetworkPlan,
} from '../../src/runtime/sandbox/index.ts';

const host = {
  links: [['/bin', 'usr/bin'] as const],
  readOnly: ['/usr', '/etc/resolv.conf'],
};

const stagePlan: MountPlan = {
  host,
  readOnly: ['/data/releases/app/1.0.0'],
  writable: ['/data/files/acme/prod'],
  cwd: '/data/releases/app/1.0.0',
  network: true,
  dieWithParent: false,
};

function problem(run: () => unknown): InputError {
  try {
    run();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('no error');
}

describe('bubblewrap argv', () => {
  it('binds the system read-only, then a private /tmp, then the release read-only and the files writable', () => {
    expect(bwrapArgs(stagePlan)).toEqual([
      '/usr/bin/bwrap',
      '--unshare-user',
      '--disable-userns',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-cgroup-try',
      '--symlink',
      'usr/bin',
      '/bin',
      '--ro-bind',
      '/usr',
      '/usr',
      '--ro-bind',
      '/etc/resolv.conf',
      '/etc/resolv.conf',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--size',
      '536870912',
      '--tmpfs',
      '/tmp',
      '--bind',
      '/data/files/acme/prod',
      '/data/files/acme/prod',
      '--ro-bind',
      '/data/releases/app/1.0.0',
      '/data/releases/app/1.0.0',
      '--remount-ro',
      '/',
      '--chdir',
      '/data/releases/app/1.0.0',
      '--',
    ]);
  });

  it.each([
    [
      'a build without network',
      { network: false, dieWithParent: true },
      ['--unshare-net', '--die-with-parent'],
    ],
    ['a one-shot command with network', { network: true, dieWithParent: true }, ['--die-with-parent']],
    ['a supervised process (outlives Steward)', { network: true, dieWithParent: false }, []],
  ])('%s', (_name, change, flags) => {
    const args = bwrapArgs({ ...stagePlan, ...change });
    for (const flag of ['--unshare-net', '--die-with-parent']) {
      expect(args.includes(flag)).toBe(flags.includes(flag));
    }
  });

  it('keeps the options (paths that name a tenant) off the command line: bubblewrap reads them on fd 3', () => {
    const invocation = bwrapInvocation(stagePlan);
    expect(invocation.argv).toEqual(['/usr/bin/bwrap', '--args', '3', '--']);
    expect(invocation.fd3.split('\0')).toEqual([...bwrapArgs(stagePlan).slice(1, -1), '']);
    expect(invocation.argv.join(' ')).not.toContain('acme');
  });

  it('binds parents before children, whatever order they come in', () => {
    const args = bwrapArgs({ ...stagePlan, readOnly: ['/a/b/c', '/a'], writable: ['/a/b'] });
    const binds = args.filter(
      (_, i) => ['--bind', '--ro-bind'].includes(args[i - 1] ?? '') && _.startsWith('/a'),
    );
    expect(binds).toEqual(['/a', '/a/b', '/a/b/c']);
  });

  it.each([
    ['relative', { cwd: 'releases/app' }, 'cwd'],
    ['with ..', { writable: ['/data/files/../../etc'] }, 'writable path'],
    ['with a newline', { readOnly: ['/data/x\n--bind'] }, 'read-only path'],
  ])('refuses a path that is %s, naming it', (_name, change, field) => {
    const error = problem(() => bwrapArgs({ ...stagePlan, ...change }));
    expect(error.field).toBe(field);
    expect(error.message).toContain('is not an absolute path');
  });
});

const network: NetworkPlan = {
  table: 'steward_0123456789ab',
  uids: { first: 300_000, last: 300_999 },
  stages: [
    { uid: 300_002, databasePorts: [5433, 5433] },
    { uid: 300_001, databasePorts: [5432, 6000] },
    { uid: 300_003, databasePorts: [] },
  ],
  publicPorts: [8443, 8080],
  outbound: true,
};

describe('nftables ruleset', () => {
  it('judges only the uid range, and lets each stage reach its database and the gateway', () => {
    expect(nftRuleset(network)).toBe(
      [
        'table inet steward_0123456789ab',
        'delete table inet steward_0123456789ab',
        'table inet steward_0123456789ab {',
        '  chain output {',
        '    type filter hook output priority filter; policy accept;',
        '    meta skuid != 300000-300999 accept',
        '    ct state established,related accept',
        '    meta skuid 300001 fib daddr type local tcp dport { 5432, 6000 } accept',
        '    meta skuid 300002 fib daddr type local tcp dport 5433 accept',
        '    fib daddr type local tcp dport { 8080, 8443 } accept',
        '    fib daddr type local meta l4proto { tcp, udp } th dport 53 accept',
        '    fib daddr type local meta l4proto tcp reject with tcp reset',
        '    fib daddr type local reject',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('refuses everything else outbound when outbound is off, except for the builds when they may', () => {
    const rules = nftRuleset({ ...network, outbound: false, outboundUid: 300_000 }).split('\n');
    expect(rules.slice(-6, -3)).toEqual([
      '    meta skuid 300000 accept',
      '    meta l4proto tcp reject with tcp reset',
      '    reject',
    ]);
    expect(nftRuleset({ ...network, outbound: false })).not.toContain('meta skuid 300000 accept');
  });

  it.each([
    ['a port out of range', { publicPorts: [70_000] }, 'port', '"70000" is not a TCP port (1-65535)'],
    ['a stage outside the range', { stages: [{ uid: 5, databasePorts: [5432] }] }, 'uid', 'outside'],
    ['an empty range', { uids: { first: 10, last: 9 } }, 'uids', 'not a range'],
    ['a table name with a space', { table: 'steward x' }, 'table', 'not an nftables table name'],
  ])('refuses %s, naming it', (_name, change, field, message) => {
    const error = problem(() => nftRuleset({ ...network, ...change }));
    expect(error.field).toBe(field);
    expect(error.message).toContain(message);
  });

  it('names one table per data dir', () => {
    expect(tableName('/var/lib/steward')).toBe(tableName('/var/lib/steward'));
    expect(tableName('/var/lib/steward')).not.toBe(tableName('/srv/steward'));
    expect(tableName('/srv/steward')).toMatch(/^steward_[0-9a-f]{12}$/);
  });
});

describe('isolation report', () => {
  const cases: [string, IsolationProbe, Omit<IsolationReport, 'reasons'>, RegExp[]][] = [
    [
      'root with bubblewrap and nftables',
      { root: true, mountsUnavailable: undefined, networkUnavailable: undefined },
      { level: 'full', users: true, mounts: 'bubblewrap', network: 'nftables' },
      [],
    ],
    [
      'not root',
      { root: false, mountsUnavailable: undefined, networkUnavailable: undefined },
      { level: 'reduced', users: false, mounts: 'none', network: 'none' },
      [/does not run as root/],
    ],
    [
      'root without bubblewrap',
      { root: true, mountsUnavailable: '/usr/bin/bwrap is not installed', networkUnavailable: undefined },
      { level: 'reduced', users: true, mounts: 'none', network: 'nftables' },
      [/no mount sandbox \(\/usr\/bin\/bwrap is not installed\).*install bubblewrap/],
    ],
    [
      'root without nftables',
      { root: true, mountsUnavailable: undefined, networkUnavailable: 'nft failed: Operation not permitted' },
      { level: 'reduced', users: true, mounts: 'bubblewrap', network: 'none' },
      [/no network rules \(nft failed: Operation not permitted\).*every port/],
    ],
  ];
  it.each(cases)('%s', (_name, probe, expected, reasons) => {
    const report = isolationReport(probe);
    expect({ ...report, reasons: undefined }).toEqual({ ...expected, reasons: undefined });
    expect(report.reasons).toHaveLength(reasons.length);
    reasons.forEach((pattern, i) => expect(report.reasons[i]).toMatch(pattern));
    const text = describeIsolation(report);
    if (report.level === 'full') expect(text).toMatch(/^isolation: full/);
    else expect(text).toMatch(/^WARNING: REDUCED ISOLATION/);
  });
});

describe('runtime config', () => {
  it('defaults to uids from 200000, outbound access for stages and builds', () => {
    expect(parseConfig({ dataDir: '/srv/steward' }).runtime).toEqual({
      uidBase: 200_000,
      uidCount: 100_000,
      outbound: true,
      buildNetwork: true,
    });
  });

  it.each([
    [{ uidBase: 0 }, 'runtime.uidBase'],
    [{ uidBase: 4_000_000_000, uidCount: 300_000_000 }, 'runtime.uidCount'],
    [{ outbound: 'yes' }, 'runtime.outbound'],
  ])('refuses %j, naming the field', (runtime, field) => {
    const error = problem(() => parseConfig({ dataDir: '/srv/steward', runtime }));
    expect(error.field).toBe(field);
    expect(error.message).toContain(`config field ${field}`);
  });
});
