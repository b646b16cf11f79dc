import { LdapReader } from '../../../src/identity/ldap/client.ts';
import { describe, expect, it } from 'vitest';
import {
  guidOf,
  normalDn,
  readGroup,
  readUser,
  type LdapGroup,
  type LdapUser,
} from '../../../src/identity/ldap/entries.ts';
import {
  countActions,
  planSync,
  type DirectoryGroupView,
  type DirectoryUserView,
  type PlanInput,
} from '../../../src/identity/ldap/plan.ts';
import {
  parseEvery,
  presets,
  resolveSettings,
  setDirectorySchema,
} from '../../../src/identity/ldap/settings.ts';

/** The planner and the entry readers, as tables: plain data in, plain data out. */

const base = 'ou=people,dc=acme,dc=example';
function entry(uid: string, extra: Partial<LdapUser> = {}): LdapUser {
  return {
    dn: `uid=${uid},${base}`,
    userName: uid,
    externalId: `uuid-${uid}`,
    email: `${uid}@acme.example`,
    displayName: uid.toUpperCase(),
    givenName: null,
    familyName: null,
    disabled: false,
    ...extra,
  };
}
function user(uid: string, extra: Partial<DirectoryUserView> = {}): DirectoryUserView {
  return {
    id: `id-${uid}`,
    userName: uid,
    externalId: `uuid-${uid}`,
    email: `${uid}@acme.example`,
    displayName: uid.toUpperCase(),
    givenName: null,
    familyName: null,
    active: true,
    source: 'ldap',
    ...extra,
  };
}
function group(name: string, members: string[], extra: Partial<LdapGroup> = {}): LdapGroup {
  return {
    dn: `cn=${name},ou=groups,dc=acme,dc=example`,
    displayName: name,
    externalId: `uuid-g-${name}`,
    members: members.map((m) => `uid=${m},${base}`),
    ...extra,
  };
}
function dirGroup(
  name: string,
  memberIds: string[],
  extra: Partial<DirectoryGroupView> = {},
): DirectoryGroupView {
  return {
    id: `gid-${name}`,
    displayName: name,
    externalId: `uuid-g-${name}`,
    source: 'ldap',
    memberIds,
    ...extra,
  };
}
function input(
  p: Partial<PlanInput> & { dirUsers?: DirectoryUserView[]; dirGroups?: DirectoryGroupView[] },
): PlanInput {
  return {
    users: p.users ?? [],
    groups: p.groups ?? null,
    incomplete: p.incomplete ?? null,
    directory: { users: p.dirUsers ?? [], groups: p.dirGroups ?? [] },
  };
}
/** Actions as short strings, for readable tables. */
function short(plan: ReturnType<typeof planSync>): string[] {
  return plan.actions.map((a) => {
    switch (a.kind) {
      case 'create-user':
        return `create ${a.user.userName}`;
      case 'update-user':
        return `update ${a.userName} ${Object.keys(a.changes).sort().join(',')}`;
      case 'deactivate-user':
        return `deactivate ${a.userName} (${a.why})`;
      case 'reactivate-user':
        return `reactivate ${a.userName}`;
      case 'create-group':
        return `create group ${a.displayName}`;
      case 'update-group':
        return `update group ${a.id} ${Object.keys(a.changes).sort().join(',')}`;
      case 'add-member':
        return `add ${a.user.id ?? a.user.externalId} to ${a.group.id ?? a.group.externalId}`;
      case 'remove-member':
        return `remove ${a.userId} from ${a.groupId}`;
      case 'delete-group':
        return `delete group ${a.displayName}`;
    }
  });
}

describe('planSync: users', () => {
  const cases: { name: string; input: PlanInput; actions: string[]; problems?: RegExp[]; guard?: RegExp }[] =
    [
      {
        name: 'a first sync creates everyone',
        input: input({ users: [entry('ada'), entry('bob')] }),
        actions: ['create ada', 'create bob'],
      },
      {
        name: 'nothing changed: nothing to do',
        input: input({ users: [entry('ada')], dirUsers: [user('ada')] }),
        actions: [],
      },
      {
        name: 'a changed mail updates only that',
        input: input({ users: [entry('ada', { email: 'ada.l@acme.example' })], dirUsers: [user('ada')] }),
        actions: ['update ada email'],
      },
      {
        name: 'a renamed entry (same id) is renamed',
        input: input({ users: [entry('ada', { userName: 'ada.l' })], dirUsers: [user('ada')] }),
        actions: ['update ada userName'],
      },
      {
        name: 'a rename onto a name of another source is reported and the rest applied',
        input: input({
          users: [entry('ada', { userName: 'root', displayName: 'Ada' })],
          dirUsers: [user('ada'), user('root', { source: 'scim', externalId: null })],
        }),
        actions: ['update ada displayName'],
        problems: [/renamed to root, which belongs to another user \(source scim\)/],
      },
      {
        name: 'an entry gone deactivates its user',
        input: input({ users: [entry('ada')], dirUsers: [user('ada'), user('bob')] }),
        actions: ['deactivate bob (gone)'],
      },
      {
        name: 'a returning entry reactivates its user',
        input: input({ users: [entry('ada')], dirUsers: [user('ada', { active: false })] }),
        actions: ['reactivate ada'],
      },
      {
        name: 'an inactive user still gone stays as it is',
        input: input({ users: [entry('ada')], dirUsers: [user('ada'), user('bob', { active: false })] }),
        actions: [],
      },
      {
        name: 'an entry made again (new id, same userName) adopts the user',
        input: input({ users: [entry('ada', { externalId: 'uuid-new' })], dirUsers: [user('ada')] }),
        actions: ['update ada externalId'],
      },
      {
        name: 'users of another source are never touched, a clash on userName is reported',
        input: input({
          users: [entry('ada'), entry('carol')],
          dirUsers: [
            user('carol', { source: 'scim', externalId: 'x1', email: null }),
            user('dan', { source: 'local' }),
          ],
        }),
        actions: ['create ada'],
        problems: [/userName carol belongs to a user of source scim/],
      },
      {
        name: 'userName clashes ignore case',
        input: input({
          users: [entry('Carol')],
          dirUsers: [user('carol', { source: 'oidc', externalId: null })],
        }),
        actions: [],
        problems: [/userName Carol belongs to a user of source oidc/],
      },
      {
        name: 'an id held by a user of another source is a clash',
        input: input({
          users: [entry('ada')],
          dirUsers: [user('eve', { source: 'scim', externalId: 'uuid-ada' })],
        }),
        actions: [],
        problems: [/its id uuid-ada belongs to a user of source scim/],
      },
      {
        name: 'two entries with one userName: the second is reported',
        input: input({ users: [entry('ada'), entry('ADA', { externalId: 'uuid-2' })] }),
        actions: ['create ada'],
        problems: [/same userName or id \(ADA\)/],
      },
      {
        name: 'an incomplete search deactivates nobody but still creates and updates',
        input: input({
          users: [entry('ada', { email: 'new@acme.example' }), entry('bob')],
          dirUsers: [user('ada'), user('carol')],
          incomplete: 'the size limit of 2 entries was reached',
        }),
        actions: ['update ada email', 'create bob'],
        guard: /incomplete \(the size limit of 2 entries was reached\), so nobody was deactivated/,
      },
      {
        name: 'an empty result where there were users deactivates nobody',
        input: input({ users: [], dirUsers: [user('ada'), user('bob')] }),
        actions: [],
        guard: /returned no users while 2 are synced/,
      },
      {
        name: 'an empty result with only inactive users needs no guard',
        input: input({ users: [], dirUsers: [user('ada', { active: false })] }),
        actions: [],
      },
    ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planSync(c.input);
      expect(short(plan)).toEqual(c.actions);
      expect(plan.problems.map((p) => p.reason)).toEqual(
        (c.problems ?? []).map((r) => expect.stringMatching(r)),
      );
      if (c.guard) expect(plan.guard).toMatch(c.guard);
      else expect(plan.guard).toBeNull();
    });
  }
});

describe('planSync: Active Directory accounts', () => {
  it('a disabled account is deactivated, enabled again reactivated, never created while disabled', () => {
    const disabled = planSync(
      input({
        users: [entry('ada', { disabled: true }), entry('bob', { disabled: true })],
        dirUsers: [user('ada')],
      }),
    );
    expect(short(disabled)).toEqual(['deactivate ada (disabled)']);
    const enabled = planSync(input({ users: [entry('ada')], dirUsers: [user('ada', { active: false })] }));
    expect(short(enabled)).toEqual(['reactivate ada']);
    // A disabled account is a positive statement: it holds even when the search was incomplete.
    const partial = planSync(
      input({
        users: [entry('ada', { disabled: true })],
        dirUsers: [user('ada')],
        incomplete: 'a page failed',
      }),
    );
    expect(short(partial)).toEqual(['deactivate ada (disabled)']);
  });
});

describe('planSync: groups', () => {
  it('creates groups and their members, new users by their LDAP id', () => {
    const plan = planSync(
      input({
        users: [entry('ada'), entry('bob')],
        dirUsers: [user('ada')],
        groups: [group('staff', ['ada', 'bob', 'zed'])],
      }),
    );
    expect(short(plan)).toEqual([
      'create bob',
      'create group staff',
      'add id-ada to uuid-g-staff',
      'add uuid-bob to uuid-g-staff',
    ]);
    expect(countActions(plan.actions)).toMatchObject({ created: 1, groupsCreated: 1, membershipsAdded: 2 });
  });

  it('adds and removes memberships of ldap users; members of another source stay', () => {
    const plan = planSync(
      input({
        users: [entry('ada'), entry('bob')],
        dirUsers: [user('ada'), user('bob'), user('sam', { source: 'scim' })],
        groups: [group('staff', ['bob'])],
        dirGroups: [dirGroup('staff', ['id-ada', 'id-sam'])],
      }),
    );
    expect(short(plan)).toEqual(['add id-bob to gid-staff', 'remove id-ada from gid-staff']);
  });

  it('memberUid values (posixGroup) name users by userName', () => {
    const plan = planSync(
      input({
        users: [entry('ada')],
        dirUsers: [user('ada')],
        groups: [group('posix', [], { members: ['ADA'] })],
      }),
    );
    expect(short(plan)).toEqual(['create group posix', 'add id-ada to uuid-g-posix']);
  });

  it('member DNs match however the server spaced and cased them', () => {
    const plan = planSync(
      input({
        users: [entry('ada')],
        dirUsers: [user('ada')],
        groups: [group('staff', [], { members: ['UID=ada, OU=People, DC=acme, DC=example'] })],
      }),
    );
    expect(short(plan)).toEqual(['create group staff', 'add id-ada to uuid-g-staff']);
  });

  it('a renamed group is renamed; a gone group is deleted; a group of another source is a clash', () => {
    const plan = planSync(
      input({
        users: [entry('ada')],
        dirUsers: [user('ada')],
        groups: [group('staff', ['ada'], { externalId: 'uuid-g-old' }), group('admins', [])],
        dirGroups: [
          dirGroup('old', ['id-ada']),
          dirGroup('gone', []),
          dirGroup('admins', [], { source: 'scim', externalId: null }),
        ],
      }),
    );
    expect(short(plan)).toEqual(['update group gid-old displayName', 'delete group gone']);
    expect(plan.problems.map((p) => p.reason)).toEqual([
      expect.stringMatching(/group name admins belongs to a group of source scim/),
    ]);
  });

  it('guarded: an incomplete search removes no membership and deletes no group', () => {
    const plan = planSync(
      input({
        users: [entry('ada')],
        dirUsers: [user('ada'), user('bob')],
        groups: [group('staff', ['ada'])],
        dirGroups: [dirGroup('staff', ['id-bob']), dirGroup('gone', [])],
        incomplete: 'time limit',
      }),
    );
    expect(short(plan)).toEqual(['add id-ada to gid-staff']);
  });

  it('an empty group search where there were groups deletes none', () => {
    const plan = planSync(
      input({
        users: [entry('ada')],
        dirUsers: [user('ada')],
        groups: [],
        dirGroups: [dirGroup('staff', ['id-ada'])],
      }),
    );
    expect(short(plan)).toEqual([]);
  });

  it('groups not synced (no group base): ldap groups are left alone', () => {
    const plan = planSync(
      input({ users: [entry('ada')], dirUsers: [user('ada')], dirGroups: [dirGroup('staff', [])] }),
    );
    expect(short(plan)).toEqual([]);
  });

  it('a clashed user is no member of anything', () => {
    const plan = planSync(
      input({
        users: [entry('carol')],
        dirUsers: [user('carol', { source: 'scim', externalId: null })],
        groups: [group('staff', ['carol'])],
      }),
    );
    expect(short(plan)).toEqual(['create group staff']);
  });
});

describe('reading entries', () => {
  const openldap = presets.openldap.attributes;
  const ad = presets['active-directory'].attributes;

  it('reads an OpenLDAP inetOrgPerson (attribute names in any case, mail lower-cased)', () => {
    const read = readUser(
      {
        dn: 'uid=ada,ou=people,dc=acme,dc=example',
        uid: 'ada',
        MAIL: 'Ada@ACME.example',
        cn: 'Ada Lovelace',
        givenName: 'Ada',
        sn: 'Lovelace',
        entryUUID: 'F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6',
      },
      openldap,
    );
    expect(read).toEqual({
      kind: 'ok',
      value: {
        dn: 'uid=ada,ou=people,dc=acme,dc=example',
        userName: 'ada',
        externalId: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
        email: 'ada@acme.example',
        displayName: 'Ada Lovelace',
        givenName: 'Ada',
        familyName: 'Lovelace',
        disabled: false,
      },
    });
  });

  it('reads an Active Directory user: objectGUID as a GUID, userAccountControl bit 2 as disabled', () => {
    // The GUID {3F2504E0-4F89-11D3-9A0C-0305E82C3301} as AD stores it (first three fields little-endian).
    const guid = Buffer.from('e004253f894fd3119a0c0305e82c3301', 'hex');
    expect(guidOf(guid)).toBe('3f2504e0-4f89-11d3-9a0c-0305e82c3301');
    const row = (uac: string) =>
      readUser(
        {
          dn: 'CN=Ada,OU=Staff,DC=acme,DC=local',
          sAMAccountName: 'ada',
          objectGUID: guid,
          userAccountControl: uac,
        },
        ad,
      );
    expect(row('512')).toMatchObject({
      kind: 'ok',
      value: { userName: 'ada', externalId: '3f2504e0-4f89-11d3-9a0c-0305e82c3301', disabled: false },
    });
    expect(row('514')).toMatchObject({ kind: 'ok', value: { disabled: true } });
    expect(row('66050')).toMatchObject({ kind: 'ok', value: { disabled: true } });
    expect(row('66048')).toMatchObject({ kind: 'ok', value: { disabled: false } });
    // userPrincipalName instead of sAMAccountName, as an attribute override.
    const upn = readUser(
      { dn: 'CN=Ada,DC=acme,DC=local', userPrincipalName: 'ada@acme.local', objectGUID: guid },
      { ...ad, userName: 'userPrincipalName' },
    );
    expect(upn).toMatchObject({ kind: 'ok', value: { userName: 'ada@acme.local' } });
  });

  it('skips entries it cannot read, saying why', () => {
    expect(readUser({ dn: 'cn=x', mail: 'x@y' }, openldap)).toEqual({
      kind: 'skipped',
      skipped: { dn: 'cn=x', reason: 'it has no uid (the userName attribute)' },
    });
    expect(readUser({ dn: 'cn=x', uid: 'x' }, openldap)).toMatchObject({
      skipped: { reason: 'it has no entryUUID (the stable id attribute)' },
    });
    expect(readUser({ dn: 'cn=x', uid: 'x'.repeat(300), entryUUID: 'u' }, openldap)).toMatchObject({
      skipped: { reason: 'its userName is 300 characters long; the directory keeps at most 256' },
    });
    expect(readGroup({ dn: 'cn=g', member: ['a'] }, openldap, 'member')).toMatchObject({ kind: 'skipped' });
  });

  it('reads groups with one or many members', () => {
    expect(
      readGroup({ dn: 'cn=g', cn: 'g', entryUUID: 'U1', member: 'uid=a,dc=x' }, openldap, 'member'),
    ).toEqual({
      kind: 'ok',
      value: { dn: 'cn=g', displayName: 'g', externalId: 'u1', members: ['uid=a,dc=x'] },
    });
    expect(
      readGroup({ dn: 'cn=g', cn: 'g', entryUUID: 'U1', memberUid: ['a', 'b'] }, openldap, 'memberUid'),
    ).toMatchObject({
      value: { members: ['a', 'b'] },
    });
  });

  it('normalises DNs', () => {
    expect(normalDn('UID=Ada , OU=People,DC=acme')).toBe('uid=ada,ou=people,dc=acme');
    expect(normalDn('cn=Smith\\, John,dc=x')).toBe('cn=smith\\, john,dc=x');
  });
});

describe('settings', () => {
  const ok = { url: 'ldaps://ldap.acme.example', bindDn: 'cn=steward,dc=acme', baseDn: 'dc=acme' };
  it('applies the preset, with overrides', () => {
    const ad = resolveSettings(
      setDirectorySchema.parse({
        ...ok,
        preset: 'active-directory',
        attributes: { userName: 'userPrincipalName' },
        every: '15m',
      }),
    );
    expect(ad.attributes).toMatchObject({
      userName: 'userPrincipalName',
      externalId: 'objectGUID',
      accountControl: 'userAccountControl',
    });
    expect(ad.userFilter).toBe('(&(objectCategory=person)(objectClass=user))');
    expect(ad.everySeconds).toBe(900);
    const ol = resolveSettings(setDirectorySchema.parse(ok));
    expect(ol.attributes.userName).toBe('uid');
    expect(ol.everySeconds).toBe(3600);
  });

  it('refuses bad input, naming what is accepted', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ url: 'http://ldap.acme.example' }, /ldaps:\/\/host\[:port\]/],
      [{ url: 'ldap://user:pw@ldap.acme.example' }, /without a path or credentials/],
      [{ userFilter: 'objectClass=person(' }, /RFC 4515/],
      [{ every: '1m' }, /from 5m to 7d/],
      [{ caPem: 'not a cert' }, /PEM certificate/],
      [{ attributes: { userName: 'u id' } }, /LDAP attribute name/],
      [{ preset: 'novell' }, /openldap|active-directory/],
    ];
    for (const [change, message] of bad) {
      const result = setDirectorySchema.safeParse({ ...ok, ...change });
      expect(result.success, JSON.stringify(change)).toBe(false);
      expect(result.error?.issues[0]?.message ?? '').toMatch(message);
    }
    expect(parseEvery('off')).toBeNull();
    expect(parseEvery('7d')).toBe(604_800);
    expect(parseEvery('8d')).toBeUndefined();
  });
});

describe('the driver refuses directories on Steward’s own machine', () => {
  const settings = (url: string) =>
    resolveSettings(setDirectorySchema.parse({ url, bindDn: 'cn=steward,dc=acme', baseDn: 'dc=acme' }));
  for (const url of [
    'ldap://127.0.0.1:389',
    'ldaps://localhost',
    'ldap://[::1]',
    'ldaps://169.254.169.254',
    'ldap://0.0.0.0',
  ]) {
    it(url, async () => {
      await expect(new LdapReader().read(settings(url), 'pw', () => undefined)).rejects.toThrow(
        /resolves to .*, on Steward's own machine or link-local: a tenant's directory must be on a host of its own/,
      );
    });
  }
  it('link-local stays refused even where loopback is allowed (tests)', async () => {
    await expect(
      new LdapReader({ allowLoopback: true }).read(settings('ldap://169.254.169.254'), 'pw', () => undefined),
    ).rejects.toThrow(/resolves to 169\.254\.169\.254/);
  });
});
