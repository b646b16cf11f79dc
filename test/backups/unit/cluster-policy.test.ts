import { describe, expect, it } from 'vitest';
import { clusterPolicy, type PhysicalPolicy } from '../../../src/backups/policy.ts';
import { freshnessOf, restorableViews } from '../../../src/backups/freshness.ts';
import type { BackupInfo, StanzaInfo } from '../../../src/backups/pgbackrest/info.ts';
import { parseProgress } from '../../../src/backups/pgbackrest/info.ts';
import { parseRetain, requestLines } from '../../../src/cli/backup-commands.ts';

const noTiers = { keepDaily: null, keepWeekly: null, keepMonthly: null };
const weekly: PhysicalPolicy = { full: 'weekly', diff: null, incr: null, retainDays: 7, ...noTiers };

describe('clusterPolicy: the most demanding of the tenants on a cluster', () => {
  const cases: [string, PhysicalPolicy[], PhysicalPolicy][] = [
    [
      'no tenants: the default',
      [],
      { full: 'weekly', diff: 'daily', incr: null, retainDays: 30, ...noTiers },
    ],
    ['one tenant: its own', [weekly], weekly],
    [
      'each kind at its most frequent, the longest retention',
      [
        { full: 'weekly', diff: 'daily', incr: null, retainDays: 30, ...noTiers },
        { full: 'daily', diff: null, incr: null, retainDays: 7, ...noTiers },
        { full: 'weekly', diff: null, incr: '2h', retainDays: 90, ...noTiers },
      ],
      { full: 'daily', diff: 'daily', incr: '2h', retainDays: 90, ...noTiers },
    ],
    [
      'a kind off everywhere stays off',
      [weekly, { ...weekly, retainDays: 14, ...noTiers }],
      { full: 'weekly', diff: null, incr: null, retainDays: 14, ...noTiers },
    ],
    [
      'each tier at its longest; off only where every tenant has it off',
      [{ ...weekly, keepDaily: 7, keepMonthly: 12 }, { ...weekly, keepDaily: 14, keepWeekly: null }, weekly],
      { ...weekly, keepDaily: 14, keepWeekly: null, keepMonthly: 12 },
    ],
    [
      "tenants' export schedules are per stage, not part of the cluster's",
      [{ ...weekly, exports: 'daily' } as PhysicalPolicy],
      weekly,
    ],
  ];
  it.each(cases)('%s', (_name, policies, expected) => {
    expect(clusterPolicy(policies)).toEqual(expected);
  });
});

function backup(partial: Partial<BackupInfo> & Pick<BackupInfo, 'label' | 'repo'>): BackupInfo {
  return {
    type: 'full',
    prior: null,
    startedAt: new Date('2026-11-20T10:00:00Z'),
    stoppedAt: new Date('2026-11-20T10:05:00Z'),
    databaseBytes: 1,
    repositoryBytes: 1,
    repositoryTotalBytes: 1,
    walStart: null,
    walStop: null,
    error: false,
    ...partial,
  };
}

describe('freshness and restorable ranges from pgbackrest info', () => {
  const info: StanzaInfo = {
    stanza: 'shared',
    status: { code: 0, message: 'ok' },
    backups: [
      backup({ label: 'F1', repo: 1 }),
      backup({
        label: 'I1',
        repo: 1,
        type: 'incr',
        prior: 'F1',
        stoppedAt: new Date('2026-11-21T10:00:00Z'),
      }),
      backup({ label: 'BAD', repo: 1, error: true, stoppedAt: new Date('2026-11-22T10:00:00Z') }),
      backup({ label: 'F2', repo: 2, stoppedAt: new Date('2026-11-20T11:00:00Z') }),
    ],
    archives: [
      { repo: 1, min: '000000010000000000000001', max: '000000010000000000000009' },
      { repo: 2, min: '000000010000000000000002', max: '000000010000000000000008' },
    ],
  };

  it('takes the newest backup without error, and its age', () => {
    expect(freshnessOf(info, new Date('2026-11-21T12:00:00Z'))).toEqual({
      label: 'I1',
      type: 'incr',
      repo: 1,
      stoppedAt: '2026-11-21T10:00:00.000Z',
      ageSeconds: 7200,
    });
    expect(freshnessOf({ ...info, backups: [] }, new Date())).toBeNull();
  });

  it("gives each repository its range, from its oldest good backup's consistent point to its newest WAL", () => {
    expect(restorableViews(info, 'acme/prod')).toEqual([
      {
        repo: 1,
        from: '2026-11-20T10:05:01.000Z',
        latestBackupAt: '2026-11-21T10:00:00.000Z',
        latestWal: '000000010000000000000009',
      },
      {
        repo: 2,
        from: '2026-11-20T11:00:01.000Z',
        latestBackupAt: '2026-11-20T11:00:00.000Z',
        latestWal: '000000010000000000000008',
      },
    ]);
  });

  it("reads the percent complete from pgbackrest info's text", () => {
    expect(parseProgress('    status: ok (backup/expire running - 42.17% complete)\n')).toBe(42.17);
    expect(parseProgress('    status: error (no valid backups, backup/expire running)\n')).toBeNull();
    expect(parseProgress('    status: ok\n')).toBeNull();
  });
});

describe('the backup CLI', () => {
  it('reads --retain as days and names the flag, the value and what is accepted otherwise', () => {
    expect(parseRetain('30d')).toBe(30);
    expect(parseRetain('7')).toBe(7);
    for (const bad of ['0d', '30w', 'month', '10000d', '-1d']) {
      expect(() => parseRetain(bad)).toThrow(`--retain ${JSON.stringify(bad)} is not accepted`);
    }
  });

  it('prints a line per repository of a request', () => {
    const lines = requestLines({
      id: 'r',
      tenant: 'acme',
      stage: 'prod',
      cluster: 'shared',
      type: 'full',
      status: 'running',
      reason: '',
      requestedBy: 'operator:admin',
      createdAt: '',
      finishedAt: null,
      repos: [
        {
          repo: 1,
          status: 'succeeded',
          percent: null,
          run: {
            id: '1',
            cluster: 'shared',
            type: 'full',
            repo: 1,
            status: 'succeeded',
            label: '20261123-101500F',
            startedAt: '',
            finishedAt: '',
            durationMs: 4100,
            sizeBytes: 120 * 1024 * 1024,
            databaseBytes: 1,
            error: null,
            requestId: 'r',
            requestedBy: 'operator:admin',
          },
        },
        { repo: 2, status: 'running', percent: 42.5, run: null },
      ],
    });
    expect(lines).toEqual([
      'repo1: full backup 20261123-101500F done in 4.1 s, 120.0 MiB',
      'repo2: full backup running… 42%',
    ]);
  });
});
