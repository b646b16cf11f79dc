import { describe, expect, it } from 'vitest';
import type { ObservedRename } from '../../src/databases/rename.ts';
import { planRename, stageDatabaseNameAt, type StageNaming } from '../../src/tenants/rename-plan.ts';

const underWay: StageNaming = {
  databaseName: 'st_b7k2m9x4q8r3',
  previousName: 'st_acme_prod',
  renamed: false,
  renamable: true,
};
const before: ObservedRename = {
  fromDatabase: true,
  fromRole: true,
  fromRoleCanLogin: true,
  toDatabase: false,
  toRole: false,
};
const at = (o: Partial<ObservedRename>): ObservedRename => ({ ...before, ...o });

describe('planRename', () => {
  it('a slug-bearing name gets an opaque one chosen first', () => {
    const naming = { ...underWay, databaseName: 'st_acme_prod', previousName: null };
    expect(planRename('present', naming)).toMatchObject({ kind: 'step', step: 'choose-opaque-name' });
  });

  it.each([
    ['an opaque name', { ...underWay, previousName: null }],
    ['a finished rename', { ...underWay, renamed: true }],
    [
      'a dedicated stage (its cluster is its own)',
      { ...underWay, databaseName: 'st_acme_prod', previousName: null, renamable: false },
    ],
  ])('%s needs nothing', (_name, naming) => {
    expect(planRename('present', naming)).toEqual({ kind: 'converged' });
  });

  it('asks for the catalog while a rename is under way', () => {
    expect(planRename('present', underWay)).toEqual({
      kind: 'observe',
      from: 'st_acme_prod',
      to: 'st_b7k2m9x4q8r3',
    });
  });

  // Each row is what a kill -9 after the step before leaves behind.
  it.each([
    ['nothing renamed yet', before, 'block-logins'],
    ['logins blocked', at({ fromRoleCanLogin: false }), 'rename-database'],
    [
      'database renamed',
      at({ fromDatabase: false, toDatabase: true, fromRoleCanLogin: false }),
      'rename-role',
    ],
    [
      'role renamed too',
      at({ fromDatabase: false, fromRole: false, fromRoleCanLogin: false, toDatabase: true, toRole: true }),
      'resume',
    ],
    ['the old database went missing', at({ fromDatabase: false, fromRoleCanLogin: true }), 'rename-role'],
  ] as const)('present, %s → %s', (_name, observed, step) => {
    expect(planRename('present', underWay, observed)).toMatchObject({ kind: 'step', step });
  });

  it.each([
    [
      'both databases',
      at({ toDatabase: true }),
      /databases st_acme_prod .* and st_b7k2m9x4q8r3 .* both exist/,
    ],
    [
      'both roles',
      at({ fromDatabase: false, toDatabase: true, toRole: true }),
      /roles st_acme_prod .* both exist/,
    ],
  ])('refuses to choose when %s exist', (_name, observed, reason) => {
    const plan = planRename('present', underWay, observed);
    expect(plan.kind).toBe('conflict');
    expect(plan.kind === 'conflict' && plan.reason).toMatch(reason);
  });

  it.each([
    ['both exist', before, 'drop-old-database'],
    ['the database is gone', at({ fromDatabase: false }), 'drop-old-role'],
  ] as const)('absent mid-rename, %s → %s', (_name, observed, step) => {
    expect(planRename('absent', underWay, observed)).toMatchObject({ kind: 'step', step });
  });

  it('absent: the old names gone → converged (the stage planner drops the new ones)', () => {
    expect(planRename('absent', underWay, at({ fromDatabase: false, fromRole: false }))).toEqual({
      kind: 'converged',
    });
  });

  it('absent and never renamed: nothing to rename, the stage planner drops it by its name', () => {
    const naming = { ...underWay, databaseName: 'st_acme_prod', previousName: null };
    expect(planRename('absent', naming)).toEqual({ kind: 'converged' });
  });
});

describe('stageDatabaseNameAt', () => {
  const renamedAt = new Date('2026-12-06T12:00:00Z');
  const stage = { database: 'st_b7k2m9x4q8r3', previousName: 'st_acme_prod', renamedAt };
  it.each([
    ['before the rename', new Date('2026-12-06T11:59:59Z'), 'st_acme_prod'],
    ['at the rename', renamedAt, 'st_b7k2m9x4q8r3'],
    ['after it', new Date('2026-12-07T00:00:00Z'), 'st_b7k2m9x4q8r3'],
  ])('%s → %s', (_name, at, name) => {
    expect(stageDatabaseNameAt(stage, at)).toBe(name);
  });
  it('a stage never renamed, or still being renamed, has its present name', () => {
    const at = new Date('2020-01-01T00:00:00Z');
    expect(stageDatabaseNameAt({ ...stage, previousName: null, renamedAt: null }, at)).toBe(stage.database);
    expect(stageDatabaseNameAt({ ...stage, renamedAt: null }, at)).toBe(stage.database);
  });
});
