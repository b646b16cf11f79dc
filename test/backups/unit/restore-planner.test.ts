import { describe, expect, it } from 'vitest';
import {
  nextRestoreStep,
  swapBegun,
  type ClusterObserved,
  type CopyObserved,
  type HaMemberObserved,
  type HaObserved,
  type RestoreFacts,
  type RestoreStep,
} from '../../../src/backups/restore/planner.ts';
import { restoreMarkerIn } from '../../../src/backups/restore/cluster-restore.ts';

const row = (over: Partial<RestoreFacts> = {}): RestoreFacts => ({
  status: 'running',
  mode: 'in-place',
  archived_wal: null,
  fingerprint: null,
  files_note: null,
  target_stage: 'prod',
  ...over,
});

const ready = { state: 'ready', reason: '', phase: 'ready', waitedMs: 0, timeoutMs: 600_000 } as const;

const copy = (
  databases: [live: boolean, replacement: boolean, kept: boolean],
  over: Partial<CopyObserved> = {},
): CopyObserved => ({
  method: 'copy',
  targetStage: ready,
  databases: { live: databases[0], replacement: databases[1], kept: databases[2] },
  stagedFiles: false,
  ...over,
});

const cluster = (over: Partial<ClusterObserved> = {}): ClusterObserved => ({
  method: 'cluster',
  cluster: 'running',
  restoredByThis: false,
  stagePaused: false,
  stagedFiles: false,
  ...over,
});

const kind = (step: RestoreStep): string => step.kind;
const wal = '000000010000000000000007';
const verified = '[]';
const files = 'files not restored: no export';

describe('nextRestoreStep: a copying restore in place (shared tier)', () => {
  it.each<[string, CopyObserved, Partial<RestoreFacts>, string]>([
    ['nothing done yet', copy([true, false, false]), {}, 'archive'],
    ['WAL archived', copy([true, false, false]), { archived_wal: wal }, 'copy'],
    // A kill -9 mid-copy leaves a replacement with part of the copy and no fingerprint: copied again.
    ['a half-made copy', copy([true, true, false]), { archived_wal: wal }, 'copy'],
    [
      'a verified copy',
      copy([true, true, false]),
      { archived_wal: wal, fingerprint: verified },
      'stage-files',
    ],
    [
      'copy verified, files staged',
      copy([true, true, false]),
      { archived_wal: wal, fingerprint: verified, files_note: files },
      'swap-databases',
    ],
    // A kill -9 mid-swap: the live name set aside, the replacement not yet renamed.
    [
      'half-swapped',
      copy([false, true, true]),
      { archived_wal: wal, fingerprint: verified },
      'swap-databases',
    ],
    // An older hand-made crash state: half-swapped before the copy was recorded verified.
    ['half-swapped, unrecorded', copy([false, true, true]), {}, 'swap-databases'],
    [
      'swapped, files staged',
      copy([true, false, true], { stagedFiles: true }),
      { fingerprint: verified, files_note: files },
      'swap-files',
    ],
    ['swapped, files in place', copy([true, false, true]), { fingerprint: verified }, 'finish'],
    ['the live database gone before any swap', copy([false, false, false]), {}, 'fail'],
  ])('%s: %s', (_what, observed, facts, expected) => {
    expect(kind(nextRestoreStep(observed, row(facts)))).toBe(expected);
  });

  it('restarts the stage at the end of an in-place restore', () => {
    expect(nextRestoreStep(copy([true, false, true]), row({ fingerprint: verified }))).toEqual({
      kind: 'finish',
      restart: true,
    });
  });

  it('does nothing for a restore that has ended', () => {
    expect(nextRestoreStep(copy([true, false, false]), row({ status: 'failed' }))).toEqual({ kind: 'done' });
    expect(nextRestoreStep(cluster(), row({ status: 'succeeded' }))).toEqual({ kind: 'done' });
  });
});

describe('nextRestoreStep: a copying restore into a new stage', () => {
  const into = (over: Partial<RestoreFacts> = {}): RestoreFacts =>
    row({ mode: 'into', target_stage: 'copy', ...over });

  it('waits for the new stage, then fails when it does not come', () => {
    const pending = {
      state: 'pending',
      reason: 'creating its database',
      phase: 'creating',
      waitedMs: 5_000,
      timeoutMs: 600_000,
    } as const;
    expect(nextRestoreStep(copy([false, false, false], { targetStage: pending }), into())).toEqual({
      kind: 'wait-for-stage',
      reason: 'waiting for the new stage copy to be ready (creating)',
    });
    expect(
      nextRestoreStep(
        copy([false, false, false], { targetStage: { ...pending, waitedMs: 700_000 } }),
        into(),
      ),
    ).toEqual({
      kind: 'fail',
      reason: 'the stage copy to restore into was not ready after 10 min (creating: creating its database)',
    });
    expect(
      nextRestoreStep(copy([true, false, false], { targetStage: { ...ready, state: 'absent' } }), into()),
    ).toEqual({ kind: 'fail', reason: 'the stage copy to restore into was removed' });
    expect(
      kind(
        nextRestoreStep(
          copy([true, false, false], { targetStage: { ...ready, state: 'failed', reason: 'no disk' } }),
          into(),
        ),
      ),
    ).toBe('fail');
  });

  it.each<[string, CopyObserved, Partial<RestoreFacts>, string]>([
    ['the stage ready, nothing done', copy([true, false, false]), {}, 'archive'],
    ['archived', copy([true, false, false]), { archived_wal: wal }, 'copy'],
    [
      'verified, files staged',
      copy([true, true, false]),
      { archived_wal: wal, fingerprint: verified, files_note: files },
      'swap-databases',
    ],
    // The swap set the new stage's empty database aside: it goes.
    ['swapped', copy([true, false, true]), { fingerprint: verified, files_note: files }, 'drop-set-aside'],
    [
      'the empty one dropped, files staged',
      copy([true, false, false], { stagedFiles: true }),
      { fingerprint: verified, files_note: files },
      'swap-files',
    ],
    ['all done', copy([true, false, false]), { fingerprint: verified, files_note: files }, 'finish'],
  ])('%s: %s', (_what, observed, facts, expected) => {
    expect(kind(nextRestoreStep(observed, into(facts)))).toBe(expected);
  });

  it('does not restart a new stage (its processes start with its release)', () => {
    expect(nextRestoreStep(copy([true, false, false]), into({ fingerprint: verified }))).toEqual({
      kind: 'finish',
      restart: false,
    });
  });

  it('once swapped, no longer asks whether the stage is ready', () => {
    const gone = copy([true, false, true], { targetStage: { ...ready, state: 'pending' } });
    expect(kind(nextRestoreStep(gone, into({ fingerprint: verified })))).toBe('drop-set-aside');
  });
});

describe('swapBegun', () => {
  it('is true once the stage holds (part of) the restore', () => {
    expect(swapBegun(copy([true, true, false]), { mode: 'in-place', fingerprint: verified })).toBe(false);
    expect(swapBegun(copy([false, true, true]), { mode: 'in-place', fingerprint: null })).toBe(true);
    expect(swapBegun(copy([true, false, false]), { mode: 'into', fingerprint: null })).toBe(false);
    expect(swapBegun(copy([true, false, false]), { mode: 'into', fingerprint: verified })).toBe(true);
  });
});

describe("nextRestoreStep: a restore of a stage's own cluster in place (dedicated tier)", () => {
  it.each<[string, ClusterObserved, Partial<RestoreFacts>, string]>([
    ['nothing done yet', cluster(), {}, 'archive'],
    ['archived', cluster(), { archived_wal: wal }, 'stage-files'],
    [
      'archived, files staged',
      cluster({ stagedFiles: true }),
      { archived_wal: wal, files_note: files },
      'restore-cluster',
    ],
    // A kill -9 after the stop or mid pgbackrest restore: no marker yet, restored (delta) again.
    [
      'stopped, not restored',
      cluster({ cluster: 'stopped', stagePaused: true }),
      { archived_wal: wal, files_note: files },
      'restore-cluster',
    ],
    [
      'restored, stopped',
      cluster({ cluster: 'stopped', restoredByThis: true, stagePaused: true }),
      {},
      'recover',
    ],
    [
      'restored, still recovering',
      cluster({ cluster: 'recovering', restoredByThis: true, stagePaused: true }),
      {},
      'recover',
    ],
    [
      'recovered, stage paused',
      cluster({ restoredByThis: true, stagePaused: true, stagedFiles: true }),
      {},
      'resume-stage',
    ],
    ['resumed, files staged', cluster({ restoredByThis: true, stagedFiles: true }), {}, 'swap-files'],
    ['all done', cluster({ restoredByThis: true }), {}, 'finish'],
  ])('%s: %s', (_what, observed, facts, expected) => {
    expect(kind(nextRestoreStep(observed, row(facts)))).toBe(expected);
  });
});

describe('restoreMarkerIn', () => {
  it('reads the last marker pgbackrest wrote into postgresql.auto.conf', () => {
    expect(restoreMarkerIn('port = 5433\n')).toBeNull();
    expect(restoreMarkerIn("port = 5433\nsteward.restore = 'a1'\nrecovery_target_time = 'x'\n")).toBe('a1');
    // A backup taken after an earlier restore carries its marker; the newer one is written below it.
    expect(
      restoreMarkerIn("steward.restore = 'old'\n# steward.restore = 'x'\nsteward.restore = 'new'\n"),
    ).toBe('new');
  });
});

describe('nextRestoreStep: an ha cluster restored in place', () => {
  type Data = 'restored' | 'recovering' | 'other' | 'empty';
  const m = (data: Data, up = false): HaMemberObserved => ({ patroni: up, postmaster: up, data });
  const ha = (
    first: HaMemberObserved,
    others: HaMemberObserved[],
    over: Partial<HaObserved> = {},
  ): HaObserved => ({
    method: 'ha',
    restoredMember: first,
    others,
    dcsKeys: true,
    restoredLeads: false,
    healthy: false,
    stagePaused: false,
    stagedFiles: false,
    ...over,
  });
  const archived = { archived_wal: wal, files_note: files };

  it.each<[string, HaObserved, Partial<RestoreFacts>, string]>([
    ['the cluster runs', ha(m('other', true), [m('other', true), m('other', true)]), {}, 'archive'],
    [
      'archived',
      ha(m('other', true), [m('other', true), m('other', true)]),
      { archived_wal: wal },
      'stage-files',
    ],
    ['files staged', ha(m('other', true), [m('other', true), m('other', true)]), archived, 'stop-members'],
    // A kill -9 mid stop-members (the stage paused, one replica or an orphaned postmaster left): stopped again.
    [
      'partly stopped',
      ha(m('other'), [m('other', true), m('other')], { stagePaused: true }),
      archived,
      'stop-members',
    ],
    [
      'a postmaster without its Patroni',
      ha({ patroni: false, postmaster: true, data: 'other' }, [m('other'), m('other')], {
        stagePaused: true,
      }),
      archived,
      'stop-members',
    ],
    // A kill -9 after the members stopped, or mid pgbackrest restore (no marker yet): restored again.
    ['stopped', ha(m('other'), [m('other'), m('other')]), archived, 'restore-member'],
    ['restored files, recovering', ha(m('recovering'), [m('other'), m('other')]), archived, 'recover-member'],
    // The recovering PostgreSQL runs alone, started by the step itself: still recover-member.
    [
      'recovering, its postmaster up',
      ha(m('recovering', true), [m('other'), m('other')]),
      archived,
      'recover-member',
    ],
    ['recovered', ha(m('restored'), [m('other'), m('other')]), archived, 'empty-members'],
    // Something (a keeper) started a member with the old data: stopped before it is emptied.
    ['an old member up again', ha(m('restored'), [m('other', true), m('empty')]), archived, 'stop-members'],
    // A kill -9 mid empty-members: the one left is emptied.
    ['one other emptied', ha(m('restored'), [m('empty'), m('other')]), archived, 'empty-members'],
    ['others emptied', ha(m('restored'), [m('empty'), m('empty')]), archived, 'reset-dcs'],
    ['keys gone', ha(m('restored'), [m('empty'), m('empty')], { dcsKeys: false }), archived, 'start-member'],
    // Started, but Patroni has not yet initialised the cluster from it: an emptied member started now
    // would find no initialised cluster, run initdb and bootstrap an empty one (seen in CI).
    [
      'the restored member started, not yet leading',
      ha(m('restored', true), [m('empty'), m('empty')]),
      archived,
      'await-leader',
    ],
    [
      'the restored member leads',
      ha(m('restored', true), [m('empty'), m('empty')], { restoredLeads: true }),
      archived,
      'start-members',
    ],
    // A kill -9 mid start-members: the one not started yet is started.
    [
      'one other started',
      ha(m('restored', true), [m('empty', true), m('empty')], { restoredLeads: true }),
      archived,
      'start-members',
    ],
    ['copying', ha(m('restored', true), [m('empty', true), m('restored', true)]), archived, 'await-cluster'],
    [
      'healthy, stage paused',
      ha(m('restored', true), [m('restored', true), m('restored', true)], {
        healthy: true,
        stagePaused: true,
      }),
      archived,
      'resume-stage',
    ],
    [
      'all done',
      ha(m('restored', true), [m('restored', true), m('restored', true)], { healthy: true }),
      archived,
      'finish',
    ],
    // A kill -9 after the stage was resumed: its staged files take their place, then it finishes.
    [
      'resumed, files staged',
      ha(m('restored', true), [m('restored', true), m('restored', true)], {
        healthy: true,
        stagedFiles: true,
      }),
      archived,
      'swap-files',
    ],
    // A kill -9 of Steward stops nothing: a restored cluster whose replicas still copy is awaited, not restarted.
    [
      'restored, not yet healthy, paused',
      ha(m('restored', true), [m('restored', true), m('empty', true)], { stagePaused: true }),
      archived,
      'await-cluster',
    ],
    // Every member down after they had copied the restored one: started again, the keys kept.
    [
      'a restored cluster all down',
      ha(m('restored'), [m('restored'), m('restored')]),
      archived,
      'start-member',
    ],
  ])('%s: %s', (_what, observed, facts, expected) => {
    expect(kind(nextRestoreStep(observed, row(facts)))).toBe(expected);
  });
});
