import { describe, expect, it } from 'vitest';
import { renderConfig } from '../../../src/backups/pgbackrest/config.ts';
import { haArchivingParameters, haStanzaInstances } from '../../../src/backups/pgbackrest/ha.ts';

const members = [1, 2, 3].map((n) => ({
  dataDir: `/var/lib/steward/ha/st_x/m${n}/data`,
  pgPort: 5440 + n,
  socketDir: `/var/lib/steward/ha/st_x/m${n}`,
}));

const config = {
  stanza: 'st_x',
  ...haStanzaInstances(members),
  stateDir: '/var/lib/steward/backups/state/st_x',
  compressType: 'zst',
  processMax: 1,
  repositories: [
    { kind: 'path', path: '/backups/repo1', passphrase: 'p', retention: { kind: 'count', fulls: 2 } },
  ],
} as const;

describe('pgBackRest for an ha cluster', () => {
  it('lists every member as pgN and backs up from a standby', () => {
    const text = renderConfig(config);
    const stanza = text.slice(text.indexOf('[st_x]'));
    expect(stanza).toBe(
      [
        '[st_x]',
        ...[1, 2, 3].flatMap((n) => [
          `pg${n}-path=/var/lib/steward/ha/st_x/m${n}/data`,
          `pg${n}-port=${5440 + n}`,
          `pg${n}-socket-path=/var/lib/steward/ha/st_x/m${n}`,
          `pg${n}-user=postgres`,
        ]),
        'backup-standby=y',
        '',
      ].join('\n'),
    );
  });

  it('keeps a single instance as it was: no backup-standby', () => {
    const text = renderConfig({ ...config, standbys: [] });
    expect(text).toContain('pg1-path=/var/lib/steward/ha/st_x/m1/data');
    expect(text).not.toContain('pg2-path');
    expect(text).not.toContain('backup-standby');
  });

  it('refuses a bad port or a path with a line break, naming the member', () => {
    const bad = haStanzaInstances([members[0]!, { ...members[1]!, pgPort: 70_000 }]);
    expect(() => renderConfig({ ...config, ...bad })).toThrow(
      /^standbys\[0\]\.port 70000 must be a whole number from 1 to 65535$/,
    );
    const broken = haStanzaInstances([members[0]!, { ...members[1]!, dataDir: '/x\npg9-path=/y' }]);
    expect(() => renderConfig({ ...config, ...broken })).toThrow(
      /standbys\[0\]\.path must be one non-empty line/,
    );
  });

  it('archives from whichever member is primary: one archive_command naming its own data dir', () => {
    const settings = haArchivingParameters({
      stanza: 'st_x',
      configPath: '/var/lib/steward/backups/state/st_x/pgbackrest.conf',
      bin: '/usr/bin/pgbackrest',
    });
    expect(settings).toMatchObject({
      archive_mode: 'on',
      wal_level: 'replica',
      archive_command:
        '/usr/bin/pgbackrest --config=/var/lib/steward/backups/state/st_x/pgbackrest.conf --stanza=st_x --pg1-path="$(pwd -P)" archive-push "%p"',
    });
    expect(() =>
      haArchivingParameters({ stanza: 'st_x', configPath: 'relative.conf', bin: '/usr/bin/pgbackrest' }),
    ).toThrow(/configPath relative.conf must be an absolute path/);
  });
});
