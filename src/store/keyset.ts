import { sql, type SelectQueryBuilder } from 'kysely';

/**
 * Keyset pagination: a page is the rows after the last one the previous page
 * showed, in the list's order, never an OFFSET. Rows inserted or removed
 * between two pages neither repeat nor push others off the next page.
 */

export const sortOrders = ['asc', 'desc'] as const;
export type SortOrder = (typeof sortOrders)[number];

/**
 * Where the previous page ended: its last row's sort value and id, as
 * PostgreSQL prints them (text keeps a timestamp's microseconds, which a
 * JavaScript Date would round away, and the comparison casts it back).
 */
export interface PagePosition {
  readonly key: string;
  readonly id: string;
}

export interface PageRequest<S extends string = string> {
  readonly limit: number;
  readonly sort: S;
  readonly order: SortOrder;
  readonly after?: PagePosition;
}

export interface Page<T> {
  readonly items: T[];
  /** Absent on the last page. */
  readonly next?: PagePosition;
}

/** The columns a list is ordered by: the sort column, then a unique id that breaks ties. */
export interface KeysetColumns {
  /** A column reference (`slug`, `t.created_at`); it must not be null. */
  readonly sort: string;
  readonly id: string;
}

/**
 * One page of a query: ordered by (sort, id) in the page's order, after its
 * position, one row more than the limit read to know whether a next page exists.
 */
export async function keysetPage<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  columns: KeysetColumns,
  page: PageRequest,
): Promise<Page<O>> {
  const sort = sql.ref(columns.sort);
  const id = sql.ref(columns.id);
  const direction = page.order === 'asc' ? sql.raw('asc') : sql.raw('desc');
  let q = query.select([sql<string>`${sort}::text`.as('page_key'), sql<string>`${id}::text`.as('page_id')]);
  if (page.after) {
    // Untyped parameters: PostgreSQL reads them as the columns' own types.
    const beyond = page.order === 'asc' ? sql.raw('>') : sql.raw('<');
    q = q.where(sql<boolean>`(${sort}, ${id}) ${beyond} (${page.after.key}, ${page.after.id})`);
  }
  const rows = (await q
    .orderBy(sql`${sort} ${direction}`)
    .orderBy(sql`${id} ${direction}`)
    .limit(page.limit + 1)
    .execute()) as (O & { page_key: string; page_id: string })[];
  const shown = rows.slice(0, page.limit);
  const last = shown.at(-1);
  const items = shown.map(({ page_key: _key, page_id: _id, ...row }) => row as O);
  return rows.length > page.limit && last
    ? { items, next: { key: last.page_key, id: last.page_id } }
    : { items };
}

/**
 * The same over a list already in memory (the short lists: channels,
 * schedules, escalation policies): sorted by (key, id) and cut after the position. Numbers
 * and strings of digits (bigint ids) compare as numbers, other strings by code point.
 */
export function pageOf<T>(
  all: readonly T[],
  page: PageRequest,
  keyOf: (item: T) => { readonly key: string | number; readonly id: string | number },
): Page<T> {
  const sign = page.order === 'asc' ? 1 : -1;
  const keyed = all.map((item) => ({ item, ...keyOf(item) }));
  keyed.sort((a, b) => sign * (compare(a.key, b.key) || compare(a.id, b.id)));
  const after = page.after;
  const rest = after
    ? keyed.filter(
        (k) => sign * (compare(k.key, typed(k.key, after.key)) || compare(k.id, typed(k.id, after.id))) > 0,
      )
    : keyed;
  const shown = rest.slice(0, page.limit);
  const last = shown.at(-1);
  const items = shown.map((k) => k.item);
  return rest.length > page.limit && last
    ? { items, next: { key: String(last.key), id: String(last.id) } }
    : { items };
}

function typed(like: string | number, value: string): string | number {
  return typeof like === 'number' ? Number(value) : value;
}

function compare(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  // Ids of bigint columns arrive as strings of digits: they compare as numbers (by length first).
  if (digits.test(x) && digits.test(y) && x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

const digits = /^\d+$/;
