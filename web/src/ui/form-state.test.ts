import { describe, expect, expectTypeOf, it } from 'vitest';
import type { paths } from '../../../src/api/client/schema.ts';
import type { ListItem, ResponseBody } from '../../../src/api/client/typed.ts';
import { numberOrTyped } from './form-state.ts';

describe("a form's number field", () => {
  it('goes to the API as a number, or as typed so that its message names the value', () => {
    expect(numberOrTyped('')).toBeUndefined();
    expect(numberOrTyped('  ')).toBeUndefined();
    expect(numberOrTyped('30')).toBe(30);
    expect(numberOrTyped(' 7 ')).toBe(7);
    expect(numberOrTyped('1.5')).toBe(1.5);
    expect(numberOrTyped('ten')).toBe('ten');
    expect(numberOrTyped('2 h')).toBe('2 h');
  });
});

describe("the pages' row types", () => {
  it("are a list's item: the one array its body holds", () => {
    expectTypeOf<ListItem<paths, '/api/v1/tenants'>>().toEqualTypeOf<
      ResponseBody<paths, '/api/v1/tenants'>['tenants'][number]
    >();
    expectTypeOf<ListItem<paths, '/api/v1/tenants/{tenant}/scim-tokens'>>().toEqualTypeOf<
      ResponseBody<paths, '/api/v1/tenants/{tenant}/scim-tokens'>['tokens'][number]
    >();
    expectTypeOf<ListItem<paths, '/api/v1/tenants/{tenant}/identity/roles'>>().toHaveProperty('group');
  });
});
