import { describe, expect, it } from 'vitest';
import {
  applyUserPatch,
  parsePatchRequest,
  planGroupPatch,
  ScimInputError,
} from '../../../src/identity/scim/patch.ts';
import { canonical, project, userFields, type Doc } from '../../../src/identity/scim/resources.ts';

const ent = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const patchSchema = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const base = (): Doc => ({
  id: 'u1',
  userName: 'ann@example.com',
  externalId: 'ext-1',
  name: { givenName: 'Ann', familyName: 'Smith', formatted: 'Ann Smith' },
  displayName: 'Ann Smith',
  active: true,
  emails: [
    { value: 'ann@example.com', type: 'work', primary: true },
    { value: 'ann@home.example', type: 'home' },
  ],
  [ent]: { employeeNumber: '7', manager: { value: 'm1' } },
});

const patch = (doc: Doc, ...Operations: unknown[]) =>
  applyUserPatch(doc, parsePatchRequest({ schemas: [patchSchema], Operations }));

describe('SCIM PATCH of users, in the dialects clients send', () => {
  // [what, operations, check on the result]
  const table: [string, unknown[], (d: Doc) => void][] = [
    [
      'Entra: Replace of the work e-mail by a value filter and of name.familyName',
      [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updated@example.com' },
        { op: 'Replace', path: 'name.familyName', value: 'Jones' },
      ],
      (d) => {
        expect(d.emails).toEqual([
          { value: 'updated@example.com', type: 'work', primary: true },
          { value: 'ann@home.example', type: 'home' },
        ]);
        expect(d.name).toEqual({ givenName: 'Ann', familyName: 'Jones', formatted: 'Ann Smith' });
      },
    ],
    [
      'Entra: active "False" as a string',
      [{ op: 'Replace', path: 'active', value: 'False' }],
      (d) => expect(d.active).toBe(false),
    ],
    [
      'Entra: active "True" with Add',
      [{ op: 'Add', path: 'active', value: 'True' }],
      (d) => expect(d.active).toBe(true),
    ],
    [
      'RFC: active false',
      [{ op: 'replace', path: 'active', value: false }],
      (d) => expect(d.active).toBe(false),
    ],
    [
      'Okta: path-less replace of active',
      [{ op: 'replace', value: { active: false } }],
      (d) => expect(d.active).toBe(false),
    ],
    [
      'Entra: path-less Add with dotted keys and an extension attribute',
      [
        {
          op: 'Add',
          value: {
            'name.givenName': 'Anna',
            displayName: 'Anna S',
            [`${ent}:employeeNumber`]: '701984',
            'emails[type eq "work"].value': 'anna@example.com',
          },
        },
      ],
      (d) => {
        expect((d.name as Doc).givenName).toBe('Anna');
        expect(d.displayName).toBe('Anna S');
        expect((d[ent] as Doc).employeeNumber).toBe('701984');
        expect((d.emails as Doc[])[0]?.value).toBe('anna@example.com');
      },
    ],
    [
      'Entra: Add of the manager as a bare id',
      [{ op: 'Add', path: `${ent}:manager`, value: '2819c223-7f76-453a-919d-413861904646' }],
      (d) => expect((d[ent] as Doc).manager).toEqual({ value: '2819c223-7f76-453a-919d-413861904646' }),
    ],
    [
      'Entra: Remove of the manager',
      [{ op: 'Remove', path: `${ent}:manager` }],
      (d) => expect((d[ent] as Doc).manager).toBeUndefined(),
    ],
    [
      'path-less replace with the whole enterprise extension (Okta)',
      [{ op: 'replace', value: { [ent]: { department: 'R&D' } } }],
      (d) => expect(d[ent]).toEqual({ employeeNumber: '7', manager: { value: 'm1' }, department: 'R&D' }),
    ],
    [
      'Entra: Add of a work address that does not exist yet makes it',
      [
        { op: 'Add', path: 'addresses[type eq "work"].streetAddress', value: '1 Main St' },
        { op: 'Add', path: 'addresses[type eq "work"].locality', value: 'Springfield' },
      ],
      (d) =>
        expect(d.addresses).toEqual([{ type: 'work', streetAddress: '1 Main St', locality: 'Springfield' }]),
    ],
    [
      'Entra: Add of a mobile phone number',
      [{ op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' }],
      (d) => expect(d.phoneNumbers).toEqual([{ type: 'mobile', value: '+1 555 0100' }]),
    ],
    [
      'RFC: add to a multi-valued attribute appends (and a repeat adds nothing)',
      [
        { op: 'add', path: 'emails', value: [{ value: 'x@example.com', type: 'other' }] },
        { op: 'add', path: 'emails', value: [{ value: 'x@example.com', type: 'other' }] },
      ],
      (d) =>
        expect((d.emails as Doc[]).map((e) => e.value)).toEqual([
          'ann@example.com',
          'ann@home.example',
          'x@example.com',
        ]),
    ],
    [
      'RFC: remove by a value filter',
      [{ op: 'remove', path: 'emails[type eq "home"]' }],
      (d) => expect((d.emails as Doc[]).map((e) => e.type)).toEqual(['work']),
    ],
    [
      'RFC: replace of a matched element merges the value into it',
      [{ op: 'replace', path: 'emails[type eq "home"]', value: { value: 'new@home.example' } }],
      (d) => expect((d.emails as Doc[])[1]).toEqual({ value: 'new@home.example', type: 'home' }),
    ],
    [
      'RFC: replace of the whole list',
      [{ op: 'replace', path: 'emails', value: [{ value: 'only@example.com', primary: 'True' }] }],
      (d) => expect(d.emails).toEqual([{ value: 'only@example.com', primary: true }]),
    ],
    [
      'one primary at most: a new primary takes it from the old',
      [{ op: 'add', path: 'emails', value: [{ value: 'new@example.com', type: 'work', primary: true }] }],
      (d) =>
        expect((d.emails as Doc[]).filter((e) => e.primary === true).map((e) => e.value)).toEqual([
          'new@example.com',
        ]),
    ],
    [
      'RFC: replace of a complex attribute keeps the sub-attributes not named',
      [{ op: 'replace', path: 'name', value: { givenName: 'Annie' } }],
      (d) => expect(d.name).toEqual({ givenName: 'Annie', familyName: 'Smith', formatted: 'Ann Smith' }),
    ],
    [
      'remove of a sub-attribute',
      [{ op: 'remove', path: 'name.formatted' }],
      (d) => expect(d.name).toEqual({ givenName: 'Ann', familyName: 'Smith' }),
    ],
    [
      'remove of an attribute',
      [{ op: 'remove', path: 'displayName' }],
      (d) => expect(d.displayName).toBeUndefined(),
    ],
    [
      'attribute names in any case',
      [{ op: 'REPLACE', path: 'DisplayName', value: 'X' }],
      (d) => expect(d.displayName).toBe('X'),
    ],
    [
      'Entra: Remove of listed values from a multi-valued attribute',
      [{ op: 'Remove', path: 'emails', value: [{ value: 'ann@home.example' }] }],
      (d) => expect((d.emails as Doc[]).map((e) => e.value)).toEqual(['ann@example.com']),
    ],
    [
      'externalId by Add',
      [{ op: 'Add', path: 'externalId', value: 'ext-2' }],
      (d) => expect(d.externalId).toBe('ext-2'),
    ],
    [
      'a password is accepted and never kept',
      [{ op: 'replace', path: 'password', value: 'hunter2' }],
      (d) => expect(d.password).toBeUndefined(),
    ],
    [
      'the id as it is (Okta sends it along)',
      [{ op: 'replace', value: { id: 'u1', displayName: 'Y' } }],
      (d) => expect(d.displayName).toBe('Y'),
    ],
    [
      'an unknown extension is kept under its URN',
      [{ op: 'add', path: 'urn:ietf:params:scim:schemas:extension:acme:2.0:User:badge', value: 'B-7' }],
      (d) => expect(d['urn:ietf:params:scim:schemas:extension:acme:2.0:User']).toEqual({ badge: 'B-7' }),
    ],
  ];
  for (const [what, ops, check] of table) {
    it(what, () => {
      const before = base();
      const after = patch(before, ...ops);
      check(after);
      expect(before).toEqual(base());
    });
  }

  const refused: [string, unknown, string][] = [
    ['an unknown op', { schemas: [patchSchema], Operations: [{ op: 'move', path: 'x' }] }, 'invalidSyntax'],
    ['no operations', { schemas: [patchSchema], Operations: [] }, 'invalidSyntax'],
    [
      'a wrong schema',
      { schemas: ['urn:x'], Operations: [{ op: 'add', path: 'title', value: 'x' }] },
      'invalidSyntax',
    ],
    ['a remove without a path', { Operations: [{ op: 'remove' }] }, 'noTarget'],
    ['a path-less add of a scalar', { Operations: [{ op: 'add', value: 'x' }] }, 'invalidValue'],
    ['an unknown attribute', { Operations: [{ op: 'add', path: 'shoeSize', value: 44 }] }, 'invalidPath'],
    ['a bad path', { Operations: [{ op: 'add', path: 'emails[type eq', value: 1 }] }, 'invalidPath'],
    ['a read-only attribute', { Operations: [{ op: 'replace', path: 'id', value: 'other' }] }, 'mutability'],
    [
      'groups of a user',
      { Operations: [{ op: 'add', path: 'groups', value: [{ value: 'g' }] }] },
      'mutability',
    ],
    [
      'a filter that matches nothing (replace)',
      { Operations: [{ op: 'replace', path: 'emails[type eq "other"]', value: { value: 'x' } }] },
      'noTarget',
    ],
    ['active as a word', { Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] }, 'input'],
  ];
  for (const [what, body, scimType] of refused) {
    it(`refuses ${what}`, () => {
      let error: unknown;
      try {
        applyUserPatch(base(), parsePatchRequest(body));
      } catch (e) {
        error = e;
      }
      expect(error, what).toBeDefined();
      if (scimType !== 'input') expect((error as ScimInputError).scimType).toBe(scimType);
      expect((error as Error).message.length).toBeGreaterThan(10);
    });
  }

  it('turns a patched document into the Directory fields: columns, the join e-mail, attributes', () => {
    const fields = userFields(
      patch(base(), { op: 'Replace', path: 'emails[type eq "work"].value', value: 'NEW@Example.com' }),
    );
    expect(fields).toMatchObject({
      userName: 'ann@example.com',
      externalId: 'ext-1',
      givenName: 'Ann',
      familyName: 'Smith',
      displayName: 'Ann Smith',
      email: 'NEW@Example.com',
      active: true,
    });
    expect(Object.keys(fields.attributes ?? {}).sort()).toEqual(['emails', 'name', ent].sort());
  });

  it('canonicalises a posted resource: names in any case, booleans from strings, the manager as an id', () => {
    const doc = canonical('User', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ent],
      USERNAME: 'x',
      Active: 'False',
      Emails: [{ Value: 'x@example.com', Primary: 'true' }],
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user': { Manager: 'boss' },
    });
    expect(doc).toMatchObject({
      userName: 'x',
      active: false,
      emails: [{ value: 'x@example.com', primary: true }],
      [ent]: { manager: { value: 'boss' } },
    });
    expect(() => canonical('User', { userName: 'x', shoeSize: 44 })).toThrow(/no such attribute/);
  });

  it('projects attributes and excludedAttributes, keeping id, schemas and meta', () => {
    const doc = { schemas: ['s'], id: 'u1', meta: { version: 'W/"1"' }, ...base() };
    expect(Object.keys(project(doc, ['userName', 'name.givenName'], [])).sort()).toEqual([
      'id',
      'meta',
      'name',
      'schemas',
      'userName',
    ]);
    expect(project(doc, ['name.givenName'], []).name).toEqual({ givenName: 'Ann' });
    expect(project(doc, ['emails.value'], []).emails).toEqual([
      { value: 'ann@example.com' },
      { value: 'ann@home.example' },
    ]);
    expect(project(doc, [], ['emails', 'name'])).not.toHaveProperty('emails');
    expect(project(doc, [], [ent])).not.toHaveProperty(ent);
    expect(project(doc, [`${ent}:employeeNumber`], [])[ent]).toEqual({ employeeNumber: '7' });
  });
});

describe('SCIM PATCH of groups: member steps, never the member list', () => {
  const g = { id: 'g1' };
  const plan = (...Operations: unknown[]) =>
    planGroupPatch(parsePatchRequest({ schemas: [patchSchema], Operations }), g);

  it('Entra: Add and Remove of members with value lists; consecutive adds merge into one step', () => {
    expect(
      plan(
        { op: 'Add', path: 'members', value: [{ $ref: null, value: 'u1' }] },
        { op: 'Add', path: 'members', value: [{ value: 'u2' }, { value: 'u3' }] },
        { op: 'Remove', path: 'members', value: [{ $ref: null, value: 'u1' }] },
      ),
    ).toEqual({
      members: [
        { kind: 'add', ids: ['u1', 'u2', 'u3'] },
        { kind: 'remove', ids: ['u1'] },
      ],
    });
  });

  it('RFC: remove by members[value eq …], also several joined by or', () => {
    expect(plan({ op: 'remove', path: 'members[value eq "u1"]' }).members).toEqual([
      { kind: 'remove', ids: ['u1'] },
    ]);
    expect(plan({ op: 'remove', path: 'members[value eq "u1" or value eq "u2"]' }).members).toEqual([
      { kind: 'remove', ids: ['u1', 'u2'] },
    ]);
  });

  it('Okta: path-less replace of id and displayName; add of members with display', () => {
    expect(
      plan(
        { op: 'replace', value: { id: 'g1', displayName: 'Test SCIMv2' } },
        { op: 'add', path: 'members', value: [{ value: 'u9', display: 'test.user@okta.local' }] },
      ),
    ).toEqual({ displayName: 'Test SCIMv2', members: [{ kind: 'add', ids: ['u9'] }] });
  });

  it('replace of members sets them; remove without a value clears them; externalId set and removed', () => {
    expect(
      plan(
        { op: 'add', path: 'members', value: [{ value: 'a' }] },
        { op: 'replace', path: 'members', value: [{ value: 'b' }] },
      ).members,
    ).toEqual([{ kind: 'replace', ids: ['b'] }]);
    expect(plan({ op: 'remove', path: 'members' }).members).toEqual([{ kind: 'replace', ids: [] }]);
    expect(plan({ op: 'Replace', path: 'externalId', value: 'e' })).toEqual({ externalId: 'e', members: [] });
    expect(plan({ op: 'remove', path: 'externalId' })).toEqual({ externalId: null, members: [] });
    expect(plan({ op: 'add', value: { members: [{ value: 'z' }] } }).members).toEqual([
      { kind: 'add', ids: ['z'] },
    ]);
  });

  it('refuses a removal of displayName, another id, a member without a value, an unknown attribute', () => {
    expect(() => plan({ op: 'remove', path: 'displayName' })).toThrow(ScimInputError);
    expect(() => plan({ op: 'replace', value: { id: 'other' } })).toThrow(/read-only/);
    expect(() => plan({ op: 'add', path: 'members', value: [{ display: 'x' }] })).toThrow(/members like/);
    expect(() => plan({ op: 'add', path: 'owner', value: 'x' })).toThrow(/no attribute/);
    expect(() => plan({ op: 'remove', path: 'members[display eq "x"]' })).toThrow(/value eq/);
  });
});
