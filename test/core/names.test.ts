import { describe, expect, it } from 'vitest';
import { stageDatabaseName, stageNameProblem, tenantSlugProblem } from '../../src/core/names.ts';

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
  it('joins prefix, tenant and stage, turning hyphens into underscores', () => {
    expect(stageDatabaseName('st_', 'acme-gmbh', 'prod')).toBe('st_acme_gmbh_prod');
  });
  it('never collides between tenants whose names differ only around separators', () => {
    const names = new Set([
      stageDatabaseName('st_', 'a-b', 'prod'),
      stageDatabaseName('st_', 'a', 'bprod'),
      stageDatabaseName('st_', 'ab', 'prod'),
      stageDatabaseName('st_', 'a', 'b-prod'),
      stageDatabaseName('st_', 'a-b-prod', 'x'),
      stageDatabaseName('st_', 'a-b', 'prod-x'),
      stageDatabaseName('st_', 'a', 'b-prod-x'),
    ]);
    expect(names.size).toBe(7);
  });
  it('stays within the 63 bytes of a PostgreSQL identifier at the longest', () => {
    expect(stageDatabaseName('abcdefg_', 'x'.repeat(40), 'y'.repeat(14)).length).toBeLessThanOrEqual(63);
  });
});
