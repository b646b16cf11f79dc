import { describe, expect, it } from 'vitest';
import { encodeCursor, pageQuery, pageRequest } from '../../src/api/pagination.ts';
import { parseInput } from '../../src/core/validation.ts';
import { pageOf, type Page, type PageRequest } from '../../src/store/keyset.ts';

/** The cursor and keyset helpers without I/O (the SQL side: test/api/pagination-api.test.ts). */

interface Row {
  readonly id: number;
  readonly name: string;
}

const rows: Row[] = [
  { id: 1, name: 'b' },
  { id: 2, name: 'a' },
  { id: 3, name: 'b' },
  { id: 4, name: 'c' },
  { id: 5, name: 'a' },
];
const byName = (r: Row) => ({ key: r.name, id: r.id });

function walk(all: readonly Row[], first: PageRequest, between?: (page: number) => Row[]): Row[] {
  const seen: Row[] = [];
  let request: PageRequest | undefined = first;
  let current = [...all];
  for (let page = 0; request; page += 1) {
    const got: Page<Row> = pageOf(current, request, byName);
    seen.push(...got.items);
    request = got.next ? { ...first, after: got.next } : undefined;
    if (between) current = [...current, ...between(page)];
  }
  return seen;
}

describe('pageOf', () => {
  it('pages by (key, id): ties broken by id, each row once', () => {
    const seen = walk(rows, { limit: 2, sort: 'name', order: 'asc' });
    expect(seen.map((r) => r.id)).toEqual([2, 5, 1, 3, 4]);
  });

  it('descending reverses both key and id', () => {
    const seen = walk(rows, { limit: 2, sort: 'name', order: 'desc' });
    expect(seen.map((r) => r.id)).toEqual([4, 3, 1, 5, 2]);
  });

  it('rows added between pages: those before the cursor are not shown, those after are, none twice', () => {
    const seen = walk(rows, { limit: 2, sort: 'name', order: 'asc' }, (page) => [
      { id: 100 + page, name: '0' },
      { id: 200 + page, name: 'z' },
    ]);
    const ids = seen.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, 5)).toEqual([2, 5, 1, 3, 4]);
    expect(ids.filter((id) => id >= 100 && id < 200)).toEqual([]);
    expect(ids.filter((id) => id >= 200).length).toBeGreaterThan(0);
  });

  it('numbers compare as numbers, and the last page has no next', () => {
    const numbered = [10, 9, 100].map((n) => ({ id: n, name: String(n) }));
    const page = pageOf(numbered, { limit: 5, sort: 'id', order: 'asc' }, (r) => ({ key: r.id, id: r.id }));
    expect(page.items.map((r) => r.id)).toEqual([9, 10, 100]);
    expect(page.next).toBeUndefined();
    const after = pageOf(
      numbered,
      { limit: 5, sort: 'id', order: 'asc', after: { key: '10', id: '10' } },
      (r) => ({ key: r.id, id: r.id }),
    );
    expect(after.items.map((r) => r.id)).toEqual([100]);
  });
});

describe('cursors', () => {
  const query = pageQuery({ sorts: ['slug', 'created'], filters: {} });

  it('round-trips a position for the same sort and order', () => {
    const cursor = encodeCursor('created', 'desc', { key: '2026-12-07 10:00:00.123456+00', id: '42' });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const parsed = parseInput(query, { sort: 'created', order: 'desc', cursor }, 'query');
    expect(pageRequest(parsed)).toEqual({
      limit: 100,
      sort: 'created',
      order: 'desc',
      after: { key: '2026-12-07 10:00:00.123456+00', id: '42' },
    });
  });

  it('defaults: limit 100, the first sort, ascending', () => {
    expect(pageRequest(parseInput(query, {}, 'query'))).toEqual({ limit: 100, sort: 'slug', order: 'asc' });
  });

  it.each([
    ['garbage', 'not-a-cursor!', 'is not a cursor this API gave out'],
    ['base64 of no JSON', Buffer.from('hello').toString('base64url'), 'is not a cursor this API gave out'],
    [
      'JSON of another shape',
      Buffer.from(JSON.stringify({ s: 'slug', o: 'sideways', k: 'a', i: '1' })).toString('base64url'),
      'is not a cursor this API gave out',
    ],
    ['another sort', encodeCursor('created', 'asc', { key: 'x', id: '1' }), 'sort=created&order=asc'],
  ])('a cursor of %s is an input error naming the field', (_, cursor, says) => {
    const parsed = parseInput(query, { cursor }, 'query');
    expect(() => pageRequest(parsed)).toThrowError(expect.objectContaining({ field: 'cursor' }));
    expect(() => pageRequest(parsed)).toThrowError(says);
  });

  it('a list may keep a larger bound its callers already use', () => {
    const audit = pageQuery({ sorts: ['seq'], limit: { default: 200, max: 5000 } });
    expect(parseInput(audit, {}, 'query').limit).toBe(200);
    expect(() => parseInput(audit, { limit: '5001' }, 'query')).toThrowError('at most 5000');
  });
});
