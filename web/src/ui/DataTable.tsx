import { useRef, type ReactNode } from 'react';
import { Link } from 'wouter';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { paths } from '../../../src/api/client/schema.ts';
import type { ListItem, PathsWith } from '../../../src/api/client/typed.ts';
import type { LooseOptions, Page } from '../app/api.ts';
import { useT } from '../app/i18n.tsx';
import { useConsole, useQuery, type QueryOptions, type QueryResult } from '../app/query.ts';
import { useUrlState } from '../app/url.ts';
import { ErrorBanner } from './ErrorBanner.tsx';

export interface Column<T> {
  readonly key: string;
  readonly header: string;
  readonly render: (row: T) => ReactNode;
  /** The API's `sort` value for this column; sortable when set. */
  readonly sort?: string;
  /** The row's header cell (scope="row"): its name. */
  readonly rowHeader?: boolean;
  /** The cells' class (`wrap` for long text). */
  readonly className?: string;
}

/** Above this many rows a page renders only the rows in view. */
const virtualAbove = 150;
const rowHeight = 37;

interface TablePageOptions extends QueryOptions {
  readonly params?: LooseOptions['params'];
  readonly filters?: readonly string[];
  readonly defaultLimit?: number;
}

/**
 * One page of a server-paginated list, its view state in the URL: `cursor`,
 * `limit`, `sort`, `order`, and the filters named. Refetches on its topics.
 * Its rows are typed by the path (the generated schema's list item); a page
 * may still name them itself (`useTablePage<Row>(path)`).
 */
export function useTablePage<Path extends PathsWith<paths, 'get'>>(
  path: Path,
  options: TablePageOptions,
): QueryResult<Page<ListItem<paths, Path>>>;
export function useTablePage<T>(path: string, options: TablePageOptions): QueryResult<Page<T>>;
export function useTablePage<T>(path: string, options: TablePageOptions): QueryResult<Page<T>> {
  const url = useUrlState();
  const { loose } = useConsole();
  const query: Record<string, string> = {};
  for (const name of ['cursor', 'limit', 'sort', 'order', ...(options.filters ?? [])]) {
    const value = url.get(name);
    if (value) query[name] = value;
  }
  if (!query.limit && options.defaultLimit) query.limit = String(options.defaultLimit);
  return useQuery(
    ['page', path, options.params ?? {}, query],
    (_api, signal) => loose.page<T>(path, { params: options.params ?? {}, query, signal }),
    options,
  );
}

/**
 * A list as a table: sortable headers and the cursor in the URL, the next
 * page a link (so a pasted link opens that page), and long pages virtualised
 * (10,000 rows scroll like 50: only the rows in view are in the DOM).
 */
export function DataTable<T>(props: {
  readonly label: string;
  readonly columns: readonly Column<T>[];
  readonly result: QueryResult<Page<T>>;
  readonly rowKey: (row: T) => string;
  readonly empty: string;
}) {
  const t = useT();
  const url = useUrlState();
  const { data, error, loading, fetching } = props.result;
  const rows = data?.items ?? [];
  const sort = url.get('sort');
  const order = url.get('order') === 'desc' ? 'desc' : 'asc';
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = rows.length > virtualAbove;
  const virtualizer = useVirtualizer({
    count: virtual ? rows.length : 0,
    getScrollElement: () => scroller.current,
    estimateSize: () => rowHeight,
    overscan: 12,
  });
  const items = virtual ? virtualizer.getVirtualItems() : [];
  const visible = virtual
    ? items.map((item) => ({ row: rows[item.index]!, index: item.index }))
    : rows.map((row, index) => ({ row, index }));
  const padTop = virtual && items.length ? items[0]!.start : 0;
  const padBottom = virtual && items.length ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;

  const sortHeader = (column: Column<T>) => {
    if (!column.sort) return column.header;
    const active = sort === column.sort;
    const next = active && order === 'asc' ? 'desc' : 'asc';
    return (
      <button
        type="button"
        className="sort"
        onClick={() => url.set({ sort: column.sort, order: next, cursor: null })}
        aria-label={t('ui.table.sortBy', { column: column.header })}
      >
        {column.header} <span aria-hidden="true">{active ? (order === 'asc' ? '▲' : '▼') : '↕'}</span>
      </button>
    );
  };

  return (
    <div className="datatable" aria-busy={fetching || undefined}>
      <ErrorBanner error={error} />
      <div
        ref={scroller}
        className={virtual ? 'table-scroll virtual' : 'table-scroll'}
        tabIndex={virtual ? 0 : undefined}
        role={virtual ? 'region' : undefined}
        aria-label={virtual ? props.label : undefined}
      >
        <table
          className={virtual ? undefined : 'cards'}
          aria-label={props.label}
          aria-rowcount={virtual ? rows.length + 1 : undefined}
        >
          <thead>
            <tr>
              {props.columns.map((column) => (
                <th
                  key={column.key}
                  scope="col"
                  aria-sort={
                    column.sort && sort === column.sort
                      ? order === 'asc'
                        ? 'ascending'
                        : 'descending'
                      : undefined
                  }
                >
                  {sortHeader(column)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {padTop > 0 ? (
              <tr aria-hidden="true" style={{ height: padTop }}>
                <td colSpan={props.columns.length} />
              </tr>
            ) : null}
            {visible.map(({ row, index }) => (
              <tr
                key={props.rowKey(row)}
                aria-rowindex={virtual ? index + 2 : undefined}
                style={virtual ? { height: rowHeight } : undefined}
              >
                {props.columns.map((column) =>
                  column.rowHeader ? (
                    <th key={column.key} scope="row" data-label={column.header} className={column.className}>
                      {column.render(row)}
                    </th>
                  ) : (
                    <td key={column.key} data-label={column.header} className={column.className}>
                      {column.render(row)}
                    </td>
                  ),
                )}
              </tr>
            ))}
            {padBottom > 0 ? (
              <tr aria-hidden="true" style={{ height: padBottom }}>
                <td colSpan={props.columns.length} />
              </tr>
            ) : null}
          </tbody>
        </table>
        {loading ? <p className="muted">{t('ui.loading')}</p> : null}
        {!loading && !error && rows.length === 0 ? <p className="muted">{props.empty}</p> : null}
      </div>
      <nav className="pager" aria-label={t('ui.table.pages', { list: props.label })}>
        {url.get('cursor') ? <Link href={url.href({ cursor: null })}>{t('ui.table.first')}</Link> : null}
        {data?.nextCursor ? (
          <Link href={url.href({ cursor: data.nextCursor })}>{t('ui.table.next')}</Link>
        ) : null}
        <span className="muted">{t('ui.table.rows', { count: rows.length })}</span>
      </nav>
    </div>
  );
}
