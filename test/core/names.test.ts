import { describe, expect, it } from 'vitest';
import {
  isSlugDatabaseName,
  newStageDatabaseName,
  opaqueNameAlphabet,
  stageNameProblem,
  tenantSlugProblem,
} from '../../src/core/names.ts';

describe('tenant slugs', () => {
  it.each(['acme', 'acme-gmbh', 'a', 'a1', 'x'.repeat(40), 'customer-42'])('accepts %j', (slug) => {
    expect(tenantSlugProblem(slug)).toBeUndefined();
  });

  it.each([
    ['', 'not accepted'],
    ['Acme', 'not accepted'],
    ['acme;drop', 'not accepted'],
    ["acme'", 'not accepted'],
    ['ac me', 'not accepted'],
    ['\u0430cme', 'not accepted'], // Cyrillic a
    ['1acme', 'not accepted'],
    ['-acme', 'not accepted'],
    ['acme-', 'not accepted'],
    ['acme_x', 'not accepted'],
    ['x'.repeat(41), 'not accepted'],
    ['xn--acme', 'two hyphens'],
    ['admin', 'reserved'],
    ['www', 'reserved'],
  ])('refuses %j and says why', (slug, why) => {
    const problem = tenantSlugProblem(slug);
    expect(problem).toContain(why);
    // Quoted, bounded, and with anything outside printable ASCII escaped ("\u0430cme").
    const shown = JSON.stringify(slug.length > 80 ? slug.slice(0, 77) + '...' : slug).replace(
      /[^\x20-\x7e]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    expect(problem).toContain(shown);
  });
});

describe('stage names', () => {
  it.each(['dev', 'test', 'prod', 'qa2', 'prod-restored', 'x'.repeat(14)])('accepts %j', (name) =>
    expect(stageNameProblem(name)).toBeUndefined(),
  );
  it.each(['Dev', 'pre--prod', '-prod', 'prod-', 'a_b', '2nd', '', 'x'.repeat(15)])('refuses %j', (name) =>
    expect(stageNameProblem(name)).toMatch(/not accepted/),
  );
});

describe('stage database names', () => {
  it('are the prefix and 12 characters of consonants and digits: no word, no slug', () => {
    const name = newStageDatabaseName('st_');
    expect(name).toMatch(new RegExp(`^st_[${opaqueNameAlphabet}]{12}$`));
    expect(opaqueNameAlphabet).not.toMatch(/[aeiouy_]/);
  });
  it('differ every time', () => {
    const names = new Set(Array.from({ length: 1000 }, () => newStageDatabaseName('st_')));
    expect(names.size).toBe(1000);
  });
  it('stay far within the 63 bytes of a PostgreSQL identifier, with the longest prefix', () => {
    expect(newStageDatabaseName('abcdefg_').length).toBe(20);
  });
  it('tell the old slug-bearing names from opaque ones', () => {
    expect(isSlugDatabaseName('st_acme_prod')).toBe(true);
    expect(isSlugDatabaseName('t1a2b3_acme_gmbh_prod-restored')).toBe(true);
    expect(isSlugDatabaseName(newStageDatabaseName('st_'))).toBe(false);
    expect(isSlugDatabaseName(newStageDatabaseName('t1a2b3_'))).toBe(false);
  });
});
