import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, InputError, NotFoundError } from '../../../src/core/errors.ts';
import {
  Directory,
  VersionMismatchError,
  type Filter,
  type UserGone,
} from '../../../src/identity/directory/index.ts';
import { WriteBatcher } from '../../../src/identity/scim/batch.ts';
import { cloneControlDb, type TestControlDb } from '../../harness/control-db.ts';
import { silentLogger } from '../../harness/steward.ts';

const path = (attribute: string, sub: string | null = null, schema: string | null = null) => ({
  schema,
  attribute,
  sub,
});
const eq = (attribute: string, value: string | boolean, sub: string | null = null): Filter => ({
  kind: 'compare',
  path: path(attribute, sub),
  op: 'eq',
  value,
});

describe('the Directory against the real control DB', () => {
  let db: TestControlDb;
  let directory: Directory;
  let acme: string;
  let globex: string;
  const gone: UserGone[] = [];

  beforeAll(async () => {
    db = await cloneControlDb();
    directory = new Directory({ db: db.store.db, logger: silentLogger });
    directory.onUserGone((event) => void gone.push(event));
    acme = await db.tenant();
    globex = await db.tenant();
  });
  afterAll(async () => {
    await db.close();
  });

  it('creates users and finds them by userName (any case), externalId and e-mail, within the tenant only', async () => {
    const ann = await directory.createUser(
      acme,
      { userName: 'Ann@Acme.example', externalId: 'ext-ann', email: 'Ann@Acme.example', givenName: 'Ann' },
      'scim',
    );
    expect(ann).toMatchObject({
      userName: 'Ann@Acme.example',
      email: 'ann@acme.example',
      active: true,
      version: 1,
    });
    expect((await directory.findUser(acme, { userName: 'ann@ACME.example' }))?.id).toBe(ann.id);
    expect((await directory.findUser(acme, { externalId: 'ext-ann' }))?.id).toBe(ann.id);
    expect(await directory.findUser(acme, { externalId: 'EXT-ANN' })).toBeUndefined();
    expect((await directory.usersByEmail(acme, 'ANN@acme.example')).map((u) => u.id)).toEqual([ann.id]);
    expect(await directory.getUser(globex, ann.id)).toBeUndefined();
    expect(await directory.findUser(globex, { userName: 'ann@acme.example' })).toBeUndefined();
    expect(await directory.getUser(acme, 'not-a-uuid')).toBeUndefined();

    // The same names are free in another tenant; in this one they are a 409 naming the field.
    await directory.createUser(globex, { userName: 'ann@acme.example', externalId: 'ext-ann' }, 'scim');
    const dup = await directory
      .createUser(acme, { userName: 'ANN@acme.EXAMPLE' }, 'scim')
      .catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ConflictError);
    expect((dup as ConflictError).field).toBe('userName');
    const dupExt = await directory
      .createUser(acme, { userName: 'other', externalId: 'ext-ann' }, 'scim')
      .catch((e: unknown) => e);
    expect((dupExt as ConflictError).field).toBe('externalId');
    const bad = await directory.createUser(acme, { userName: '' }, 'scim').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InputError);
    expect((bad as InputError).message).toContain('userName');
  });

  it('updates under the row lock: concurrent changes all land, each bumps the version; a stale version is refused', async () => {
    const u = await directory.createUser(acme, { userName: 'counter', attributes: { n: 0 } }, 'local');
    await Promise.all(
      Array.from({ length: 8 }, () =>
        directory.updateUser(acme, u.id, (cur) => ({
          ...cur,
          attributes: { n: (cur.attributes.n as number) + 1 },
        })),
      ),
    );
    const after = await directory.getUser(acme, u.id);
    expect(after).toMatchObject({ attributes: { n: 8 }, version: 9 });
    const stale = await directory
      .updateUser(acme, u.id, (cur) => cur, { ifVersion: 3 })
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(VersionMismatchError);
    expect((stale as VersionMismatchError).status).toBe(412);
    const missing = await directory.updateUser(globex, u.id, (cur) => cur).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
  });

  it('groups: CRUD, set-based memberships, no membership lost to concurrent changes', async () => {
    const users = await directory.write(async (w) => {
      const made = [];
      for (let i = 0; i < 300; i += 1) made.push(await w.createUser(acme, { userName: `bulk-${i}` }, 'scim'));
      return made;
    });
    const ids = users.map((u) => u.id);
    const g = await directory.createGroup(acme, { displayName: 'Engineering', externalId: 'g-eng' }, 'scim');
    expect((await directory.findGroup(acme, { displayName: 'engineering' }))?.id).toBe(g.id);
    const dup = await directory
      .createGroup(acme, { displayName: 'ENGINEERING' }, 'scim')
      .catch((e: unknown) => e);
    expect((dup as ConflictError).field).toBe('displayName');

    expect(await directory.addMembers(acme, g.id, ids.slice(0, 200))).toBe(200);
    expect(await directory.addMembers(acme, g.id, ids.slice(100, 200))).toBe(0);
    // Ten concurrent writers, ten users each: every one ends up a member.
    await Promise.all(
      Array.from({ length: 10 }, (_, k) =>
        directory.addMembers(acme, g.id, ids.slice(200 + k * 10, 210 + k * 10)),
      ),
    );
    expect((await directory.membersOf(acme, g.id)).length).toBe(300);
    expect(await directory.removeMembers(acme, g.id, ids.slice(0, 50))).toBe(50);
    await directory.replaceMembers(acme, g.id, ids.slice(25, 75));
    expect(new Set((await directory.membersOf(acme, g.id)).map((m) => m.userId))).toEqual(
      new Set(ids.slice(25, 75)),
    );
    expect(await directory.groupsOf(acme, ids[30] as string)).toEqual([
      { id: g.id, displayName: 'Engineering' },
    ]);
    expect((await directory.getGroup(acme, g.id))?.version).toBeGreaterThan(5);

    const foreign = await directory.createUser(globex, { userName: 'outsider' }, 'scim');
    const refused = await directory.addMembers(acme, g.id, [foreign.id]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InputError);
    expect((refused as InputError).message).toContain(foreign.id);
    expect(
      (await directory.addMembers(globex, g.id, [foreign.id]).catch((e: unknown) => e)) instanceof
        NotFoundError,
    ).toBe(true);
    const renamed = await directory.updateGroup(acme, g.id, (cur) => ({ ...cur, displayName: 'Eng' }));
    expect(renamed.displayName).toBe('Eng');
    await directory.deleteGroup(acme, g.id);
    expect(await directory.groupsOf(acme, ids[30] as string)).toEqual([]);
  });

  it('deactivation keeps the user and its memberships and tells the listeners; deletion removes both and tells them', async () => {
    const u = await directory.createUser(acme, { userName: 'leaver' }, 'scim');
    const g = await directory.createGroup(acme, { displayName: 'Leavers' }, 'scim');
    await directory.addMembers(acme, g.id, [u.id]);
    gone.length = 0;
    const off = await directory.setActive(acme, u.id, false);
    expect(off.active).toBe(false);
    await directory.setActive(acme, u.id, false);
    expect(gone).toEqual([{ kind: 'deactivated', tenantId: acme, userId: u.id }]);
    expect(await directory.groupsOf(acme, u.id)).toHaveLength(1);
    // A failed transaction tells nobody.
    await directory
      .write(async (w) => {
        await w.deleteUser(acme, u.id);
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    expect(gone).toHaveLength(1);
    await directory.deleteUser(acme, u.id);
    expect(gone[1]).toEqual({ kind: 'deleted', tenantId: acme, userId: u.id });
    expect(await directory.getUser(acme, u.id)).toBeUndefined();
    expect(await directory.membersOf(acme, g.id)).toEqual([]);
  });

  it('records the last sign-in', async () => {
    const u = await directory.createUser(acme, { userName: 'signer' }, 'oidc');
    const at = new Date('2026-03-01T10:00:00Z');
    await directory.recordSignIn(acme, u.id, at);
    expect((await directory.getUser(acme, u.id))?.lastSignInAt?.toISOString()).toBe(at.toISOString());
  });

  it('lists in a stable order (created_at, id) and pages without gaps or repeats', async () => {
    const t = await db.tenant();
    for (let i = 0; i < 25; i += 1) await directory.createUser(t, { userName: `p${i}` }, 'scim');
    const seen: string[] = [];
    for (let start = 1; start <= 25; start += 10) {
      const page = await directory.listUsers(t, { startIndex: start, count: 10 });
      expect(page.total).toBe(start === 1 ? 25 : 26);
      seen.push(...page.items.map((u) => u.userName));
      // A user added between pages lands at the end, not in the middle.
      if (start === 1) await directory.createUser(t, { userName: 'late' }, 'scim');
    }
    expect(seen.slice(0, 25)).toEqual(Array.from({ length: 25 }, (_, i) => `p${i}`));
    expect((await directory.listUsers(t, { count: 0 })).items).toEqual([]);
  });

  it('filters in SQL: columns, attributes, value paths, extensions, memberships', async () => {
    const t = await db.tenant();
    const enterprise = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    const a = await directory.createUser(
      t,
      {
        userName: 'Alice',
        displayName: 'Alice A',
        attributes: {
          emails: [
            { type: 'work', value: 'alice@Work.example', primary: true },
            { type: 'home', value: 'alice@home.example' },
          ],
          title: 'Engineer 100%',
          [enterprise]: { employeeNumber: '42', manager: { value: 'boss' } },
        },
      },
      'scim',
    );
    const b = await directory.createUser(
      t,
      {
        userName: 'bob',
        active: false,
        attributes: { emails: [{ type: 'home', value: 'bob@work.example' }] },
      },
      'scim',
    );
    const g = await directory.createGroup(t, { displayName: 'Admins' }, 'scim');
    await directory.addMembers(t, g.id, [a.id]);
    const names = async (filter: Filter) =>
      (await directory.listUsers(t, { filter })).items.map((u) => u.userName).sort();

    expect(await names(eq('USERNAME', 'alice'))).toEqual(['Alice']);
    expect(await names(eq('active', false))).toEqual(['bob']);
    expect(await names({ kind: 'not', filter: eq('active', false) })).toEqual(['Alice']);
    expect(
      await names({ kind: 'compare', path: path('emails', 'value'), op: 'ew', value: 'WORK.example' }),
    ).toEqual(['Alice', 'bob']);
    const workEmail: Filter = {
      kind: 'valuePath',
      path: path('emails'),
      filter: {
        kind: 'and',
        left: eq('type', 'work'),
        right: { kind: 'compare', path: path('value'), op: 'co', value: '@work' },
      },
    };
    expect(await names(workEmail)).toEqual(['Alice']);
    expect(await names({ kind: 'compare', path: path('title'), op: 'co', value: '100%' })).toEqual(['Alice']);
    expect(await names({ kind: 'compare', path: path('title'), op: 'co', value: '_' })).toEqual([]);
    // Regular-expression characters in a value are only themselves.
    expect(await names({ kind: 'compare', path: path('title'), op: 'co', value: 'Engineer.1' })).toEqual([]);
    expect(await names({ kind: 'compare', path: path('title'), op: 'sw', value: 'engineer 1' })).toEqual([
      'Alice',
    ]);
    expect(await names({ kind: 'compare', path: path('title'), op: 'eq', value: 'Engineer (.*)' })).toEqual(
      [],
    );
    expect(await names({ kind: 'present', path: path('title') })).toEqual(['Alice']);
    expect(
      await names({ kind: 'compare', path: path('employeeNumber', null, enterprise), op: 'eq', value: '42' }),
    ).toEqual(['Alice']);
    expect(
      await names({ kind: 'compare', path: path('manager', 'value', enterprise), op: 'eq', value: 'boss' }),
    ).toEqual(['Alice']);
    expect(
      await names({
        kind: 'or',
        left: eq('userName', 'bob'),
        right: { kind: 'present', path: path('displayName') },
      }),
    ).toEqual(['Alice', 'bob']);
    expect(
      await names({
        kind: 'compare',
        path: path('meta', 'created'),
        op: 'gt',
        value: '2000-01-01T00:00:00Z',
      }),
    ).toHaveLength(2);
    // A value that looks like SQL is only a value.
    expect(await names(eq('userName', "x' or '1'='1"))).toEqual([]);
    await expect(
      directory.listUsers(t, {
        filter: { kind: 'compare', path: path('meta', 'created'), op: 'gt', value: 'soon' },
      }),
    ).rejects.toBeInstanceOf(InputError);

    const groups = async (filter: Filter) =>
      (await directory.listGroups(t, { filter })).items.map((x) => x.displayName);
    expect(await groups({ kind: 'valuePath', path: path('members'), filter: eq('value', a.id) })).toEqual([
      'Admins',
    ]);
    expect(await groups({ kind: 'valuePath', path: path('members'), filter: eq('value', b.id) })).toEqual([]);
    expect(await groups(eq('displayName', 'admins'))).toEqual(['Admins']);
  });

  it('SCIM batches writes that arrive together into one transaction; one that fails there fails alone', async () => {
    const t = await db.tenant();
    const g = await directory.createGroup(t, { displayName: 'Batched' }, 'scim');
    const users = await Promise.all(
      ['b1', 'b2', 'b3'].map((n) => directory.createUser(t, { userName: n }, 'scim')),
    );
    const batches: number[] = [];
    const batcher = new WriteBatcher<string>(directory, (_w, _caller, summaries) => {
      batches.push(summaries.length);
      return Promise.resolve();
    });
    const caller = { tenantId: t, tenant: 'x', tokenId: '1', name: 'idp' };
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    const add = (id: string) =>
      batcher.submit({ caller, run: async (w) => String(await w.addMembers(t, g.id, [id])) });
    // The first holds its transaction open; the next three queue behind it and go in as one batch.
    const first = batcher.submit({ caller, run: async () => (await held, 'held') });
    const queued = [
      add(users[0]?.id as string),
      add('00000000-0000-4000-8000-000000000000'),
      add(users[1]?.id as string),
    ];
    release();
    await first;
    const outcomes = await Promise.allSettled(queued);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    // [held], then [3 together] rolled back, then each alone: the good ones recorded, the bad one not.
    expect(batches).toEqual([1, 1, 1]);
    expect((await directory.membersOf(t, g.id)).map((m) => m.userName).sort()).toEqual(['b1', 'b2']);
    // Good ones queued together: one transaction, one record of two.
    let release2 = (): void => undefined;
    const held2 = new Promise<void>((r) => (release2 = r));
    const second = batcher.submit({ caller, run: async () => (await held2, 'held') });
    const both = [add(users[2]?.id as string), add(users[0]?.id as string)];
    release2();
    await second;
    await Promise.all(both);
    expect(batches.slice(-2)).toEqual([1, 2]);
    expect((await directory.membersOf(t, g.id)).map((m) => m.userName).sort()).toEqual(['b1', 'b2', 'b3']);
  });
});
