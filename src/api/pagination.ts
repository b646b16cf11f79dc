import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { InputError, showValue } from '../core/errors.ts';
import {
  pageOf,
  sortOrders,
  type Page,
  type PagePosition,
  type PageRequest,
  type SortOrder,
} from '../store/keyset.ts';

/**
 * Cursor pagination for every list endpoint: `limit`, `cursor`, `sort`,
 * `order` and the list's filters in the query; the body stays the list's own
 * shape (the page); the next page's cursor is in `x-next-cursor` and a
 * `link: <…>; rel="next"` header, absent on the last page.
 */

export const pageLimit = { default: 100, max: 500 } as const;

export interface PageQuerySpec<S extends readonly [string, ...string[]], F extends z.ZodRawShape> {
  /** What the list can be sorted by; the first is its current order. */
  readonly sorts: S;
  /** The order of its current default (newest first lists: desc). */
  readonly order?: SortOrder;
  readonly filters?: F;
  /** A list whose callers already asked for more keeps its bound (audit: 5,000). */
  readonly limit?: { readonly default: number; readonly max: number };
}

/** The query schema of a list: its filters plus limit, cursor, sort and order. */
export function pageQuery<
  const S extends readonly [string, ...string[]],
  F extends z.ZodRawShape = Record<never, never>,
>(spec: PageQuerySpec<S, F>) {
  const limit = spec.limit ?? pageLimit;
  const schema = z
    .object({
      ...(spec.filters ?? ({} as F)),
      limit: z.coerce.number().int().min(1).max(limit.max).default(limit.default),
      cursor: z.string().max(1000).optional(),
      sort: z.enum(spec.sorts).default(spec.sorts[0]),
      order: z.enum(sortOrders).default(spec.order ?? 'asc'),
    })
    .strict();
  pageQueries.add(schema);
  return schema;
}

const pageQueries = new WeakSet<z.ZodType>();

/** A list route's query (made by pageQuery): its response declares the page headers. */
export function isPageQuery(schema: z.ZodType | undefined): boolean {
  return schema !== undefined && pageQueries.has(schema);
}

/** What a cursor holds: the page's sort and order (so it continues the same list) and its position. */
interface CursorBody {
  readonly s: string;
  readonly o: SortOrder;
  readonly k: string;
  readonly i: string;
}

export function encodeCursor(sort: string, order: SortOrder, position: PagePosition): string {
  const body: CursorBody = { s: sort, o: order, k: position.key, i: position.id };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** The page a list's parsed query asks for; a cursor that is not ours, or made for another sort, is a 400 naming it. */
export function pageRequest<S extends string>(query: {
  readonly limit: number;
  readonly sort: S;
  readonly order: SortOrder;
  readonly cursor?: string | undefined;
}): PageRequest<S> {
  const { limit, sort, order, cursor } = query;
  if (cursor === undefined) return { limit, sort, order };
  const body = decodeCursor(cursor);
  if (body.s !== sort || body.o !== order) {
    throw new InputError(
      `field "cursor": this cursor continues a list sorted by ${body.s} ${body.o}, not ${sort} ${order}; ` +
        `ask with sort=${body.s}&order=${body.o}, or start again without a cursor`,
      { field: 'cursor' },
    );
  }
  return { limit, sort, order, after: { key: body.k, id: body.i } };
}

function decodeCursor(cursor: string): CursorBody {
  let body: unknown;
  try {
    if (/^[A-Za-z0-9_-]+$/.test(cursor)) body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    body = undefined;
  }
  const parsed = cursorSchema.safeParse(body);
  if (!parsed.success) {
    throw new InputError(
      `field "cursor": ${showValue(cursor.length > 60 ? `${cursor.slice(0, 60)}…` : cursor)} is not a cursor this API gave out; ` +
        'use the x-next-cursor header of the previous page, or leave cursor out for the first page',
      { field: 'cursor' },
    );
  }
  return parsed.data;
}

const cursorSchema = z
  .object({ s: z.string().max(100), o: z.enum(sortOrders), k: z.string().max(500), i: z.string().max(100) })
  .strict();

/**
 * Sends a page: its items in the list's body (`wrap`) and the next page's
 * cursor in the headers. The link repeats the request's own query with the
 * new cursor.
 */
export function sendPage<T, B>(
  context: { readonly request: FastifyRequest; readonly reply: FastifyReply },
  request: PageRequest,
  page: Page<T>,
  wrap: (items: T[]) => B,
): B {
  if (page.next) {
    const cursor = encodeCursor(request.sort, request.order, page.next);
    const [path = '', search = ''] = context.request.url.split('?', 2);
    const params = new URLSearchParams(search);
    params.set('cursor', cursor);
    void context.reply.header('x-next-cursor', cursor);
    void context.reply.header('link', `<${path}?${params.toString()}>; rel="next"`);
  }
  return wrap(page.items);
}

/**
 * A short list the service returns whole (channels, schedules, SCIM tokens),
 * paged in memory like the others: sorted by `keyOf`'s key for the sort, then
 * its id.
 */
export function sendListPage<T, B, S extends string>(
  context: {
    readonly request: FastifyRequest;
    readonly reply: FastifyReply;
    readonly query: {
      readonly limit: number;
      readonly sort: S;
      readonly order: SortOrder;
      readonly cursor?: string | undefined;
    };
  },
  all: readonly T[],
  keyOf: (item: T, sort: S) => { readonly key: string | number; readonly id: string | number },
  wrap: (items: T[]) => B,
): B {
  const request = pageRequest(context.query);
  return sendPage(
    context,
    request,
    pageOf(all, request, (item) => keyOf(item, request.sort)),
    wrap,
  );
}

/** The headers a list's OpenAPI response declares. */
export const pageHeaders = {
  'x-next-cursor': {
    type: 'string',
    description: "The next page's cursor (pass it as `cursor`); absent on the last page",
  },
  link: {
    type: 'string',
    description: 'RFC 8288 link to the next page (rel="next"); absent on the last page',
  },
} as const;
