import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/core/errors.ts';
import type { Filter } from '../../../src/identity/directory/index.ts';
import { parseFilter, parsePatchPath } from '../../../src/identity/scim/filter-parse.ts';

/** A compact rendering of the AST, so that each table row fits on a line. */
function show(f: Filter): string {
  const p = (path: { schema: string | null; attribute: string; sub: string | null }) =>
    `${path.schema ? `${path.schema}:` : ''}${path.attribute}${path.sub ? `.${path.sub}` : ''}`;
  switch (f.kind) {
    case 'and':
    case 'or':
      return `(${show(f.left)} ${f.kind} ${show(f.right)})`;
    case 'not':
      return `not ${show(f.filter)}`;
    case 'present':
      return `${p(f.path)} pr`;
    case 'compare':
      return `${p(f.path)} ${f.op} ${JSON.stringify(f.value)}`;
    case 'valuePath':
      return `${p(f.path)}[${show(f.filter)}]`;
  }
}

const ent = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

describe('SCIM filter parser', () => {
  // RFC 7644 §3.4.2.2's examples, then what Entra, Okta and OneLogin send.
  const table: [string, string][] = [
    ['userName eq "bjensen"', 'userName eq "bjensen"'],
    ['name.familyName co "O\'Malley"', 'name.familyName co "O\'Malley"'],
    ['userName sw "J"', 'userName sw "J"'],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"', 'userName sw "J"'],
    ['title pr', 'title pr'],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', 'meta.lastModified gt "2011-05-13T04:42:34Z"'],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', 'meta.lastModified ge "2011-05-13T04:42:34Z"'],
    ['meta.lastModified lt "2011-05-13T04:42:34Z"', 'meta.lastModified lt "2011-05-13T04:42:34Z"'],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', 'meta.lastModified le "2011-05-13T04:42:34Z"'],
    ['title pr and userType eq "Employee"', '(title pr and userType eq "Employee")'],
    ['title pr or userType eq "Intern"', '(title pr or userType eq "Intern")'],
    ['schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', `schemas eq "${ent}"`],
    [
      'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
      '(userType eq "Employee" and (emails co "example.com" or emails.value co "example.org"))',
    ],
    [
      'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
      '(userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org"))',
    ],
    [
      'userType eq "Employee" and (emails.type eq "work")',
      '(userType eq "Employee" and emails.type eq "work")',
    ],
    [
      'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
      '(userType eq "Employee" and emails[(type eq "work" and value co "@example.com")])',
    ],
    [
      'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
      '(emails[(type eq "work" and value co "@example.com")] or ims[(type eq "xmpp" and value co "@foo.com")])',
    ],
    // Precedence: and binds tighter than or; not tighter than and.
    ['a eq 1 or b eq 2 and c eq 3', '(a eq 1 or (b eq 2 and c eq 3))'],
    ['not (a eq 1) and b eq 2', '(not a eq 1 and b eq 2)'],
    ['a eq true or b eq false or c eq null', '((a eq true or b eq false) or c eq null)'],
    // Entra: the validator's queries.
    [
      'userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"',
      'userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"',
    ],
    [
      'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"',
      'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"',
    ],
    ['displayName eq "Group1DisplayName"', 'displayName eq "Group1DisplayName"'],
    [`${ent}:employeeNumber eq "701984"`, `${ent}:employeeNumber eq "701984"`],
    [
      `${ent}:manager.value eq "26118915-6090-4610-87a4-49d0ca31b9e1"`,
      `${ent}:manager.value eq "26118915-6090-4610-87a4-49d0ca31b9e1"`,
    ],
    // Okta: operators in capitals, a value filter on emails.
    ['userName EQ "ann@example.com"', 'userName eq "ann@example.com"'],
    [
      'emails[type eq "work"].value eq "ann@example.com"',
      'emails[(type eq "work" and value eq "ann@example.com")]',
    ],
    [
      'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
      'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
    ],
    ['id eq "g1" and members[value eq "u1"]', '(id eq "g1" and members[value eq "u1"])'],
    // Unquoted values, as some clients send them.
    ['userName eq john@example.com', 'userName eq "john@example.com"'],
    ['externalId eq 1234', 'externalId eq 1234'],
    ['active eq True', 'active eq true'],
    // Escapes in strings; a string with brackets and parentheses is one value.
    ['displayName eq "a \\"quoted\\" (name) [x]"', 'displayName eq "a \\"quoted\\" (name) [x]"'],
    ['  userName   eq   "spaced"  ', 'userName eq "spaced"'],
    ['not(active eq false)', 'not active eq false'],
    ['((userName eq "x"))', 'userName eq "x"'],
  ];
  for (const [input, expected] of table) {
    it(`parses ${input}`, () => {
      expect(show(parseFilter(input))).toBe(expected);
    });
  }

  const bad: [string, string][] = [
    ['', 'empty'],
    ['userName eq', 'a value expected'],
    ['userName xx "a"', 'an operator'],
    ['(userName eq "a"', '")" expected'],
    ['userName eq "open', 'not closed'],
    ['emails[type eq "work"', '"]" expected'],
    ['emails[type eq "work" and x[y eq 1]]', 'cannot be nested'],
    ['userName eq "a" garbage', 'after the end'],
    ['a.b.c eq 1', 'more than one sub-attribute'],
    ['1abc eq 1', 'not an attribute name'],
    ['"bad\\q" eq 1', 'bad escape'],
    [`${'('.repeat(40)}a eq 1${')'.repeat(40)}`, 'nests deeper'],
    ['a eq 1 and', 'an attribute name expected'],
  ];
  for (const [input, message] of bad) {
    it(`refuses ${JSON.stringify(input.slice(0, 40))} with a message naming the problem`, () => {
      let error: unknown;
      try {
        parseFilter(input);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).message).toContain(message);
      expect((error as InputError).field).toBe('filter');
    });
  }

  it('refuses a filter past the length limit', () => {
    expect(() => parseFilter(`userName eq "${'x'.repeat(5000)}"`)).toThrow(/at most 4096/);
  });

  it('parses PATCH paths: attribute, sub-attribute, extension, value filter with and without a sub-attribute', () => {
    expect(parsePatchPath('active')).toEqual({
      path: { schema: null, attribute: 'active', sub: null },
      filter: null,
      sub: null,
    });
    expect(parsePatchPath('name.givenName').path).toEqual({
      schema: null,
      attribute: 'name',
      sub: 'givenName',
    });
    expect(parsePatchPath(`${ent}:manager`).path).toEqual({ schema: ent, attribute: 'manager', sub: null });
    const work = parsePatchPath('emails[type eq "work"].value');
    expect(work.path.attribute).toBe('emails');
    expect(work.sub).toBe('value');
    expect(show(work.filter as Filter)).toBe('type eq "work"');
    expect(show(parsePatchPath('members[value eq "u1"]').filter as Filter)).toBe('value eq "u1"');
    expect(() => parsePatchPath('emails[type eq "work"] x')).toThrow(/after the end/);
    expect(() => parsePatchPath('name.givenName[type eq "x"]')).toThrow(/multi-valued/);
  });
});
