import { describe, expect, it } from 'vitest';
import {
  archivingSettings,
  socketDirectoryOf,
  withLocalPeer,
  withSettings,
} from '../../../src/backups/pgbackrest/archiving.ts';
import {
  renderConfig,
  type PgBackRestConfig,
  type S3Repository,
} from '../../../src/backups/pgbackrest/config.ts';
import { InputError } from '../../../src/core/errors.ts';
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

describe('renderConfig with an S3 repository', () => {
  const bucketRepo: S3Repository = {
    kind: 's3',
    endpoint: 's3.eu-central-1.amazonaws.com',
    bucket: 'acme-backups',
    s3Region: 'eu-central-1',
    path: '/steward/main',
    uriStyle: 'host',
    accessKeyId: 'AKIAEXAMPLEKEYID',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    verifyTls: true,
    passphrase: 'pass-two',
    retention: { kind: 'count', fulls: 2 },
  };
  const withS3 = (repo: Partial<S3Repository>): PgBackRestConfig => ({
    ...base,
    repositories: [base.repositories[0]!, { ...bucketRepo, ...repo }],
  });

  it('renders repo2 as an encrypted bucket with its own retention, next to a path repo1', () => {
    const global = options(renderConfig(withS3({})), 'global');
    expect(global).toMatchObject({
      'repo1-path': '/srv/repo1',
      'repo2-type': 's3',
      'repo2-path': '/steward/main',
      'repo2-s3-bucket': 'acme-backups',
      'repo2-s3-endpoint': 's3.eu-central-1.amazonaws.com',
      'repo2-storage-port': '443',
      'repo2-s3-region': 'eu-central-1',
      'repo2-s3-uri-style': 'host',
      'repo2-s3-key': 'AKIAEXAMPLEKEYID',
      'repo2-s3-key-secret': 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'repo2-storage-verify-tls': 'y',
      'repo2-cipher-type': 'aes-256-cbc',
      'repo2-cipher-pass': 'pass-two',
      'repo2-retention-full-type': 'count',
      'repo2-retention-full': '2',
    });
    expect(global).not.toHaveProperty('repo2-storage-ca-file');
    expect(global).not.toHaveProperty('repo1-type');
  });

  it('renders a test store: port, CA file, path-style addressing, TLS not verified', () => {
    const global = options(
      renderConfig(
        withS3({
          endpoint: 'localhost',
          port: 9443,
          uriStyle: 'path',
          caFile: '/etc/steward/s3-ca.pem',
          verifyTls: false,
          bucket: 'with.dots',
        }),
      ),
      'global',
    );
    expect(global).toMatchObject({
      'repo2-s3-endpoint': 'localhost',
      'repo2-storage-port': '9443',
      'repo2-s3-uri-style': 'path',
      'repo2-storage-ca-file': '/etc/steward/s3-ca.pem',
      'repo2-storage-verify-tls': 'n',
      'repo2-s3-bucket': 'with.dots',
    });
  });

  it('accepts the root of the bucket as its prefix', () => {
    expect(options(renderConfig(withS3({ path: '/' })), 'global')['repo2-path']).toBe('/');
  });

  const refused: { name: string; repo: Partial<S3Repository>; error: RegExp }[] = [
    {
      name: 'an endpoint with a scheme',
      repo: { endpoint: 'https://s3.amazonaws.com' },
      error: /^repositories\[1\]\.endpoint "https:\/\/s3\.amazonaws\.com" must be a host name only/,
    },
    { name: 'an endpoint with a port', repo: { endpoint: 'minio:9000' }, error: /endpoint "minio:9000"/ },
    { name: 'an endpoint with a path', repo: { endpoint: 's3.example.com/x' }, error: /endpoint/ },
    { name: 'an upper-case endpoint', repo: { endpoint: 'S3.example.com' }, error: /endpoint/ },
    { name: 'an endpoint label ending in -', repo: { endpoint: 'a-.example.com' }, error: /endpoint/ },
    {
      name: 'an IP address endpoint',
      repo: { endpoint: '127.0.0.1' },
      error: /endpoint "127\.0\.0\.1" must be a host name, not an IP address/,
    },
    { name: 'an endpoint that ends a line', repo: { endpoint: 'x.com\nrepo2-path=/' }, error: /endpoint/ },
    {
      name: 'an upper-case bucket',
      repo: { bucket: 'Acme' },
      error: /^repositories\[1\]\.bucket "Acme" must be 3 to 63 characters of a-z, 0-9, \. and -/,
    },
    { name: 'a two-letter bucket', repo: { bucket: 'ab' }, error: /bucket "ab"/ },
    { name: 'a bucket of 64 characters', repo: { bucket: 'a'.repeat(64) }, error: /bucket/ },
    { name: 'a bucket starting with -', repo: { bucket: '-acme' }, error: /bucket/ },
    { name: 'a bucket with an underscore', repo: { bucket: 'acme_backups' }, error: /bucket/ },
    { name: 'a bucket with ..', repo: { bucket: 'acme..backups', uriStyle: 'path' }, error: /"\.\."/ },
    { name: 'a bucket like an IP address', repo: { bucket: '192.168.1.1', uriStyle: 'path' }, error: /IP/ },
    {
      name: 'a dotted bucket with host-style addressing and TLS verified',
      repo: { bucket: 'acme.backups' },
      error: /bucket "acme\.backups" has dots.*use uriStyle path/,
    },
    {
      name: 'port 0',
      repo: { port: 0 },
      error: /^repositories\[1\]\.port 0 must be a whole number from 1 to 65535/,
    },
    { name: 'port 70000', repo: { port: 70_000 }, error: /port 70000/ },
    { name: 'a fractional port', repo: { port: 443.5 }, error: /port/ },
    {
      name: 'a relative prefix',
      repo: { path: 'steward/main' },
      error: /^repositories\[1\]\.path "steward\/main" must be an absolute prefix/,
    },
    { name: 'a prefix with a trailing slash', repo: { path: '/steward/' }, error: /path/ },
    { name: 'a prefix with ..', repo: { path: '/steward/../x' }, error: /path/ },
    { name: 'a prefix with an empty segment', repo: { path: '/steward//x' }, error: /path/ },
    { name: 'a prefix with a space', repo: { path: '/my backups' }, error: /path/ },
    { name: 'a region with a space', repo: { s3Region: 'eu central' }, error: /s3Region "eu central"/ },
    { name: 'an empty region', repo: { s3Region: '' }, error: /s3Region/ },
    {
      name: 'an unknown URI style',
      repo: { uriStyle: 'virtual' as 'host' },
      error: /uriStyle "virtual" must be one of host, path/,
    },
    {
      name: 'a relative CA file',
      repo: { caFile: 'ca.pem' },
      error: /caFile "ca\.pem" must be an absolute path/,
    },
    { name: 'an empty access key id', repo: { accessKeyId: '' }, error: /repositories\[1\]\.accessKeyId/ },
    {
      name: 'a secret key that would start a new line',
      repo: { secretAccessKey: 'abc\nrepo2-path=/tmp' },
      error: /^repositories\[1\]\.secretAccessKey must be one non-empty line/,
    },
    {
      name: 'a secret key with surrounding spaces',
      repo: { secretAccessKey: ' abc ' },
      error: /secretAccessKey/,
    },
    {
      name: 'an S3 passphrase that would start a new line',
      repo: { passphrase: 'a\nb' },
      error: /passphrase/,
    },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}, naming the field`, () => {
      let thrown: unknown;
      try {
        renderConfig(withS3(c.repo));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InputError);
      expect((thrown as InputError).message).toMatch(c.error);
      expect((thrown as InputError).field).toMatch(/^repositories\[1\]\./);
    });
  }

  it('never shows a secret key or a passphrase in its error', () => {
    const secret = 'sEcReT-value\nrepo2-type=posix';
    for (const repo of [{ secretAccessKey: secret }, { passphrase: secret }, { accessKeyId: secret }]) {
      expect(() => renderConfig(withS3(repo))).toThrow(InputError);
      try {
        renderConfig(withS3(repo));
      } catch (error) {
        expect((error as Error).message).not.toContain('sEcReT');
      }
    }
  });

  it('refuses a repository of a kind it does not know', () => {
    const config = {
      ...base,
      repositories: [{ kind: 'gcs', path: '/x', passphrase: 'p', retention: { kind: 'time', days: 1 } }],
    } as unknown as PgBackRestConfig;
    expect(() => renderConfig(config)).toThrow(/repositories\[0\]\.kind "gcs" must be path or s3/);
  });
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
