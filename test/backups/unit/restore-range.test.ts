import { describe, expect, it } from 'vitest';
import { InputError, NotFoundError } from '../../../src/core/errors.ts';
import type { BackupInfo, StanzaInfo } from '../../../src/backups/pgbackrest/info.ts';
import {
  backupForTarget,
  checkRestoreTarget,
  newestBackup,
  restorableRange,
  restorableRanges,
} from '../../../src/backups/restore/range.ts';

const now = new Date('2026-11-23T15:00:00.250Z');

function backup(label: string, repo: number, stop: string, extra: Partial<BackupInfo> = {}): BackupInfo {
  const stoppedAt = new Date(stop);
  return {
    label,
    type: label.endsWith('F') ? 'full' : label.endsWith('D') ? 'diff' : 'incr',
    repo,
    prior: null,
    startedAt: new Date(stoppedAt.getTime() - 60_000),
    stoppedAt,
    databaseBytes: 1,
    repositoryBytes: 1,
    repositoryTotalBytes: 1,
    walStart: null,
    walStop: null,
    error: false,
    ...extra,
  };
}

const info: StanzaInfo = {
  stanza: 'main',
  status: { code: 0, message: 'ok' },
  backups: [
    // Out of order on purpose: the range sorts by stop.
    backup('20261121-100000F_20261121-100500I', 1, '2026-11-21T10:05:04Z'),
    backup('20261120-100000F', 1, '2026-11-20T10:00:04Z'),
    backup('20261122-100000F', 1, '2026-11-22T10:00:04Z', { error: true }),
    backup('20261122-110000F', 1, '2026-11-22T11:00:04Z'),
    backup('20261122-100000F', 2, '2026-11-22T10:00:09Z'),
  ],
  archives: [
    { repo: 1, min: '000000010000000000000001', max: '00000001000000000000002A' },
    { repo: 2, min: '000000010000000000000010', max: '000000010000000000000029' },
  ],
};

describe('restorableRange', () => {
  it('starts at the stop of the oldest good backup (next whole second) and names the newest WAL', () => {
    const range = restorableRange(info, 1, 'acme/prod');
    expect(range.earliest.toISOString()).toBe('2026-11-20T10:00:05.000Z');
    expect(range.newestWal).toBe('00000001000000000000002A');
    expect(range.backups.map((b) => b.label)).toEqual([
      '20261120-100000F',
      '20261121-100000F_20261121-100500I',
      '20261122-110000F',
    ]);
    expect(newestBackup(range).label).toBe('20261122-110000F');
  });

  it('is per repository', () => {
    const ranges = restorableRanges(info, 'acme/prod');
    expect(ranges.map((r) => [r.repo, r.earliest.toISOString(), r.newestWal])).toEqual([
      [1, '2026-11-20T10:00:05.000Z', '00000001000000000000002A'],
      [2, '2026-11-22T10:00:10.000Z', '000000010000000000000029'],
    ]);
  });

  it('has nothing to offer without a good backup', () => {
    const broken: StanzaInfo = {
      ...info,
      backups: [backup('20261122-100000F', 1, '2026-11-22T10:00:04Z', { error: true })],
    };
    expect(() => restorableRange(broken, 1, 'acme/prod')).toThrow(NotFoundError);
    expect(() => restorableRange(broken, 1, 'acme/prod')).toThrow(/no good backup of acme\/prod in repo1/);
    expect(restorableRanges(broken)).toEqual([]);
  });
});

describe('checkRestoreTarget', () => {
  const range = restorableRange(info, 1, 'acme/prod');

  it('accepts the range, ends included', () => {
    expect(() => checkRestoreTarget(new Date('2026-11-20T10:00:05Z'), range, now)).not.toThrow();
    expect(() => checkRestoreTarget(new Date('2026-11-22T00:00:00Z'), range, now)).not.toThrow();
    expect(() => checkRestoreTarget(now, range, now)).not.toThrow();
  });

  it('refuses a time before the oldest backup, naming the field, the value and the range', () => {
    let error: unknown;
    try {
      checkRestoreTarget(new Date('2026-11-01T00:00:00Z'), range, now);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).field).toBe('to-time');
    expect((error as InputError).message).toBe(
      'to-time 2026-11-01T00:00:00.000Z is before the oldest backup; restorable range for acme/prod in repo1: 2026-11-20T10:00:05Z … now (2026-11-23T15:00:00Z); newest archived WAL 00000001000000000000002A',
    );
    // Inside the second the oldest backup stopped in: not yet consistent.
    expect(() => checkRestoreTarget(new Date('2026-11-20T10:00:04.500Z'), range, now)).toThrow(
      /before the oldest/,
    );
  });

  it('refuses a time after now, and a time that is not one', () => {
    expect(() => checkRestoreTarget(new Date(now.getTime() + 1000), range, now)).toThrow(
      /^to-time 2026-11-23T15:00:01\.250Z is in the future; restorable range for acme\/prod in repo1: 2026-11-20T10:00:05Z … now/,
    );
    expect(() => checkRestoreTarget(new Date('nonsense'), range, now)).toThrow(InputError);
  });
});

describe('backupForTarget', () => {
  const range = restorableRange(info, 1, 'acme/prod');
  const cases: [string, string][] = [
    ['2026-11-20T10:00:05Z', '20261120-100000F'],
    ['2026-11-21T10:05:04Z', '20261120-100000F'],
    ['2026-11-21T10:05:05Z', '20261121-100000F_20261121-100500I'],
    // The failed backup in between is never chosen.
    ['2026-11-22T10:30:00Z', '20261121-100000F_20261121-100500I'],
    ['2026-11-23T00:00:00Z', '20261122-110000F'],
  ];
  it.each(cases)('for %s picks %s', (target, label) => {
    expect(backupForTarget(range, new Date(target)).label).toBe(label);
  });

  it('refuses a target before every backup', () => {
    expect(() => backupForTarget(range, new Date('2026-11-19T00:00:00Z'))).toThrow(InputError);
  });
});
