import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import { checkGroupName, checkRole, groupKey, resolveRoles } from '../../../src/identity/roles/index.ts';

/** Groups to roles as plain data: names compared without case, per stage or all stages, each role once. */
const mappings = [
  { stage: null, group: 'Finance', role: 'finance.read' },
  { stage: 'prod', group: 'finance', role: 'finance.write' },
  { stage: 'dev', group: 'Developers', role: 'admin' },
  { stage: null, group: 'Ärzte', role: 'medic' },
  { stage: null, group: 'Auditors', role: 'finance.read' },
  { stage: 'prod', group: 'Auditors', role: 'audit' },
] as const;

describe('resolveRoles', () => {
  const cases: [string, string, string[], string[]][] = [
    ['no groups', 'prod', [], []],
    ['a group without mappings', 'prod', ['Sales'], []],
    [
      'all-stages and stage mappings together, without case',
      'prod',
      ['FINANCE'],
      ['finance.read', 'finance.write'],
    ],
    ["another stage's mapping does not apply", 'test', ['finance'], ['finance.read']],
    [
      'a role from two groups is there once, sorted',
      'prod',
      ['auditors', 'Finance'],
      ['audit', 'finance.read', 'finance.write'],
    ],
    ['stage-only mapping on its stage', 'dev', ['developers'], ['admin']],
    ['stage-only mapping elsewhere', 'prod', ['developers'], []],
    ['non-ASCII names compare in Unicode lower case', 'prod', ['ÄRZTE'], ['medic']],
    ['decomposed input matches the composed name (NFC)', 'prod', ['A\u0308rzte'], ['medic']],
    ['no prefix or substring matches', 'prod', ['Fin', 'Finance team'], []],
  ];
  it.each(cases)('%s', (_what, stage, groups, expected) => {
    expect(resolveRoles(mappings, stage, groups)).toEqual(expected);
  });
});

describe('checks', () => {
  it('group names: trimmed, 1 to 256 characters, no control characters; the error names field and value', () => {
    expect(checkGroupName('  Finance ')).toBe('Finance');
    expect(groupKey('Finance')).toBe(groupKey('FINANCE'));
    for (const bad of ['', '   ', 'x'.repeat(257), 'a\nb', 'tab\there', 7, null, undefined]) {
      const error = (() => {
        try {
          checkGroupName(bad);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, JSON.stringify(bad)).toBeInstanceOf(InputError);
      expect((error as InputError).field).toBe('group');
      expect((error as InputError).message).toContain('field "group"');
      expect((error as InputError).message).toContain('1 to 256 characters');
    }
  });

  it('roles: a plain token of letters, digits and _ . : -', () => {
    for (const good of ['admin', 'finance.write', 'Ledger:Reader', 'a', 'x'.repeat(64), 'role_1-2'])
      expect(checkRole(good)).toBe(good);
    for (const bad of ['', ' admin', 'admin ', '.admin', 'a b', 'x'.repeat(65), 'röle', 'a,b', 'a/b', 3]) {
      expect(() => checkRole(bad), JSON.stringify(bad)).toThrow(
        /field "role": .* is not a role name; use 1 to 64/,
      );
    }
  });
});
