import { describe, expect, it } from 'vitest';
import {
  archivingSettings,
  socketDirectoryOf,
  withLocalPeer,
  withSettings,
} from '../../../src/backups/pgbackrest/archiving.ts';
import { renderConfig, type PgBackRestConfig } from '../../../src/backups/pgbackrest/config.ts';
import { newestWal, parseInfo } from '../../../src/backups/pgbackrest/info.ts';

const base: PgBackRestConfig = {
  stanza: 'main',
  pg: {
    path: '/var/lib/steward/pg',
    port: 5433,
    socketPath: '/var/lib/steward/backup/socket',
    user: 'postgres',
  },
  stateDir: '/var/lib/steward/backup',
  compressType: 'zst',
  processMax: 2,
  repositories: [
    { kind: 'path', path: '/srv/repo1', passphrase: 'pass-one', retention: { kind: 'time', days: 30 } },
    { kind: 'path', path: '/mnt/offsite', passphrase: 'pass-two', retention: { kind: 'time', days: 90 } },
  ],
};

function options(text: string, section: string): Record<string, string> {
  const out: Record<string, string> = {};
  let current = '';
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1]!;
    else if (current === section && line.includes('=')) {
      const at = line.indexOf('=');
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}

describe('renderConfig', () => {
  const cases: {
    name: string;
    config: PgBackRestConfig;
    global?: Record<string, string>;
    stanza?: Record<string, string>;
  }[] = [
    {
      name: 'two encrypted path repositories with their own retention',
      config: base,
      global: {
        'repo1-path': '/srv/repo1',
        'repo1-cipher-type': 'aes-256-cbc',
        'repo1-cipher-pass': 'pass-one',
        'repo1-retention-full-type': 'time',
        'repo1-retention-full': '30',
        'repo2-path': '/mnt/offsite',
        'repo2-cipher-type': 'aes-256-cbc',
        'repo2-cipher-pass': 'pass-two',
        'repo2-retention-full': '90',
      },
    },
    {
      name: 'asynchronous archiving, parallelism, compression and state paths',
      config: base,
      global: {
        'archive-async': 'y',
        'process-max': '2',
        'compress-type': 'zst',
        'lock-path': '/var/lib/steward/backup/lock',
        'log-path': '/var/lib/steward/backup/log',
        'spool-path': '/var/lib/steward/backup/spool',
      },
    },
    {
      name: 'the stanza section points at the cluster and its socket',
      config: base,
      stanza: {
        'pg1-path': '/var/lib/steward/pg',
        'pg1-port': '5433',
        'pg1-socket-path': '/var/lib/steward/backup/socket',
        'pg1-user': 'postgres',
      },
    },
    {
      name: 'a build without zstd falls back to what it has',
      config: { ...base, compressType: 'lz4', processMax: 4 },
      global: { 'compress-type': 'lz4', 'process-max': '4' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const text = renderConfig(c.config);
      if (c.global) expect(options(text, 'global')).toMatchObject(c.global);
      if (c.stanza) expect(options(text, c.config.stanza)).toEqual(c.stanza);
    });
  }

  it('is deterministic', () => {
    expect(renderConfig(base)).toBe(renderConfig({ ...base }));
  });

  const refused: { name: string; config: PgBackRestConfig; error: RegExp }[] = [
    { name: 'a stanza with a bracket', config: { ...base, stanza: 'main]\n[x' }, error: /stanza/ },
    { name: 'an upper-case stanza', config: { ...base, stanza: 'Main' }, error: /stanza/ },
    {
      name: 'a passphrase that would start a new line',
      config: {
        ...base,
        repositories: [{ ...base.repositories[0]!, passphrase: 'a\nrepo1-path=/tmp' }],
      },
      error: /repositories\[0\]\.passphrase/,
    },
    { name: 'no repository', config: { ...base, repositories: [] }, error: /1 to 4 repositories/ },
    { name: 'zero processes', config: { ...base, processMax: 0 }, error: /processMax/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      expect(() => renderConfig(c.config)).toThrow(c.error);
    });
  }
});

describe('archiving settings', () => {
  it('sends WAL to pgbackrest archive-push with the config and stanza', () => {
    expect(
      archivingSettings({
        stanza: 'main',
        configPath: '/d/backup/pgbackrest.conf',
        bin: '/usr/bin/pgbackrest',
      }),
    ).toMatchObject({
      archive_mode: 'on',
      wal_level: 'replica',
      archive_command: '/usr/bin/pgbackrest --config=/d/backup/pgbackrest.conf --stanza=main archive-push %p',
    });
    expect(() =>
      archivingSettings({ stanza: 'main', configPath: '/d/my backup/x.conf', bin: '/usr/bin/pgbackrest' }),
    ).toThrow(/configPath/);
  });

  const settingCases: { name: string; text: string; set: Record<string, string>; want: string }[] = [
    {
      name: 'appends a new setting',
      text: 'port = 5433\n',
      set: { archive_mode: 'on' },
      want: "port = 5433\narchive_mode = 'on'\n",
    },
    {
      name: 'replaces an existing one and drops later duplicates',
      text: "archive_mode = 'off'\nport = 1\narchive_mode = 'always'\n",
      set: { archive_mode: 'on' },
      want: "archive_mode = 'on'\nport = 1\n",
    },
    { name: 'quotes single quotes', text: '', set: { x: "it's" }, want: "x = 'it''s'\n" },
    {
      name: 'keeps text when nothing changes',
      text: "archive_mode = 'on'\n",
      set: { archive_mode: 'on' },
      want: "archive_mode = 'on'\n",
    },
  ];
  for (const c of settingCases) {
    it(`withSettings ${c.name}`, () => {
      expect(withSettings(c.text, c.set)).toBe(c.want);
    });
  }

  it('reads the socket directory, and none for a TCP-only cluster', () => {
    expect(socketDirectoryOf("unix_socket_directories = ''\n")).toBeNull();
    expect(socketDirectoryOf("unix_socket_directories = '/d/pg'\n")).toBe('/d/pg');
    expect(socketDirectoryOf('port = 1\n')).toBeNull();
  });

  it('adds the local peer line for postgres once', () => {
    const once = withLocalPeer('host all all 0.0.0.0/0 reject\n');
    expect(once).toMatch(/^local\s+all\s+postgres\s+peer$/m);
    expect(withLocalPeer(once)).toBe(once);
  });
});

describe('parseInfo', () => {
  const sample = JSON.stringify([
    {
      name: 'main',
      status: { code: 0, message: 'ok' },
      archive: [
        {
          database: { id: 1, 'repo-key': 1 },
          id: '15-1',
          min: '000000010000000000000001',
          max: '000000010000000000000009',
        },
        {
          database: { id: 1, 'repo-key': 2 },
          id: '15-1',
          min: '000000010000000000000003',
          max: '000000010000000000000008',
        },
      ],
      backup: [
        {
          label: '20261123-120000F',
          type: 'full',
          prior: null,
          database: { id: 1, 'repo-key': 1 },
          timestamp: { start: 1_795_435_200, stop: 1_795_435_210 },
          info: { size: 30_000_000, delta: 30_000_000, repository: { size: 3_000_000, delta: 3_000_000 } },
          archive: { start: '000000010000000000000002', stop: '000000010000000000000002' },
          error: false,
        },
        {
          label: '20261123-120000F_20261123-140000I',
          type: 'incr',
          prior: '20261123-120000F',
          database: { id: 1, 'repo-key': 1 },
          timestamp: { start: 1_795_442_400, stop: 1_795_442_403 },
          info: { size: 30_000_000, delta: 100_000, repository: { size: 3_000_100, delta: 12_000 } },
          error: false,
        },
      ],
    },
  ]);

  it('reads backups, their repository, sizes and times, and the WAL range per repository', () => {
    const info = parseInfo(sample, 'main');
    expect(info.backups).toHaveLength(2);
    expect(info.backups[1]).toMatchObject({
      type: 'incr',
      repo: 1,
      prior: '20261123-120000F',
      databaseBytes: 30_000_000,
      repositoryBytes: 12_000,
      repositoryTotalBytes: 3_000_100,
      walStart: null,
    });
    expect(info.backups[0]!.stoppedAt.toISOString()).toBe(new Date(1_795_435_210_000).toISOString());
    expect(newestWal(info, 1)).toBe('000000010000000000000009');
    expect(newestWal(info, 2)).toBe('000000010000000000000008');
    expect(newestWal(info, 3)).toBeNull();
  });

  it('reports a stanza it does not list as missing, and refuses a shape it does not know', () => {
    expect(parseInfo(sample, 'other').status.message).toBe('missing stanza');
    expect(() => parseInfo(sample.replace('"incr"', '"snapshot"'), 'main')).toThrow(/unknown type snapshot/);
    expect(() => parseInfo('{}', 'main')).toThrow(/not a list/);
  });
});
