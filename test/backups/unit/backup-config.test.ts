import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/core/config.ts';
import { backupS3KeyVariables, readEnvironment } from '../../../src/core/env.ts';

describe('the backups section of the config', () => {
  it('defaults to two path repositories under the data dir, in the default region', () => {
    const config = parseConfig({
      dataDir: '/srv/steward',
      regions: [{ name: 'de-nbg', geography: 'eu' }],
      defaultRegion: 'de-nbg',
    });
    expect(config.backups).toMatchObject({
      enabled: true,
      repositories: [
        { kind: 'path', path: '/srv/steward/backups/repo1', region: 'de-nbg' },
        { kind: 'path', path: '/srv/steward/backups/repo2', region: 'de-nbg' },
      ],
      backupTimeoutMinutes: 240,
      processMax: 2,
      verifyHours: 24,
    });
  });

  it('takes an S3 repo2 with its defaults and no keys', () => {
    const config = parseConfig({
      dataDir: '/srv/steward',
      regions: [
        { name: 'de-nbg', geography: 'eu' },
        { name: 'fi-hel', geography: 'eu' },
      ],
      defaultRegion: 'de-nbg',
      backups: {
        repositories: [
          { kind: 'path', path: '/mnt/backups' },
          {
            kind: 's3',
            endpoint: 's3.eu-central-1.amazonaws.com',
            bucket: 'steward-offsite',
            s3Region: 'eu-central-1',
            path: '/steward',
            region: 'fi-hel',
          },
        ],
      },
    });
    expect(config.backups.repositories).toEqual([
      { kind: 'path', path: '/mnt/backups', region: 'de-nbg' },
      {
        kind: 's3',
        endpoint: 's3.eu-central-1.amazonaws.com',
        bucket: 'steward-offsite',
        s3Region: 'eu-central-1',
        path: '/steward',
        uriStyle: 'host',
        verifyTls: true,
        region: 'fi-hel',
      },
    ]);
  });

  const refused: [string, unknown, RegExp][] = [
    [
      'an unknown region',
      [{ kind: 'path', region: 'mars' }],
      /backups\.repositories\.0\.region: "mars" is not one of the regions \(local\)/,
    ],
    ['three repositories', [{ kind: 'path' }, { kind: 'path' }, { kind: 'path' }], /backups\.repositories/],
    ['a relative path', [{ kind: 'path', path: 'backups' }], /backups\.repositories\.0\.path/],
    ['an unknown kind', [{ kind: 'nfs' }], /backups\.repositories\.0/],
    [
      'keys in the config',
      [
        {
          kind: 's3',
          endpoint: 's3.example.com',
          bucket: 'b-1',
          s3Region: 'x',
          path: '/p',
          accessKeyId: 'AKIA',
        },
      ],
      /unknown field|accessKeyId|Unrecognized/i,
    ],
    [
      'an endpoint with a scheme',
      [{ kind: 's3', endpoint: 'https://s3.example.com', bucket: 'bucket', s3Region: 'x', path: '/p' }],
      /backups\.repositories\.0\.endpoint "https:\/\/s3\.example\.com" must be a host name only/,
    ],
    [
      'a bucket name S3 refuses',
      [{ kind: 's3', endpoint: 's3.example.com', bucket: 'Bad_Bucket', s3Region: 'x', path: '/p' }],
      /backups\.repositories\.0\.bucket "Bad_Bucket"/,
    ],
  ];
  it.each(refused)('refuses %s, naming the field', (_name, repositories, message) => {
    expect(() => parseConfig({ dataDir: '/x', backups: { repositories } })).toThrow(message);
  });

  it('reads S3 keys from STEWARD_BACKUP_REPO<N>_S3_KEY(_SECRET) only', () => {
    expect(backupS3KeyVariables(2)).toEqual({
      key: 'STEWARD_BACKUP_REPO2_S3_KEY',
      secret: 'STEWARD_BACKUP_REPO2_S3_KEY_SECRET',
    });
    const env = readEnvironment({
      STEWARD_BACKUP_REPO2_S3_KEY: 'id',
      STEWARD_BACKUP_REPO2_S3_KEY_SECRET: 's',
    });
    expect(env.backupS3Keys[2]).toEqual({ accessKeyId: 'id', secretAccessKey: 's' });
    expect(env.backupS3Keys[1]).toEqual({ accessKeyId: undefined, secretAccessKey: undefined });
  });
});
