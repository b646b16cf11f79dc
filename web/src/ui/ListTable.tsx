import type { ReactNode } from 'react';
import { useT } from '../app/i18n.tsx';
import type { QueryResult } from '../app/query.ts';
import type { Column } from './DataTable.tsx';
import { ErrorBanner } from './ErrorBanner.tsx';

/**
 * A short list read whole (a tenant's SCIM tokens, its OIDC connections) as
 * a table, with its states around it: the API's error, loading, or what an
 * empty list means in words; the table only when there are rows. Columns
 * are DataTable's; a column that is `false` (one the role cannot use) is
 * left out.
 */
export function ListTable<T>(props: {
  readonly label: string;
  readonly columns: readonly (Column<T> | false)[];
  readonly rows: readonly T[];
  readonly rowKey: (row: T) => string;
  /** The read's state; without it only the table (or nothing) shows. */
  readonly result?: Pick<QueryResult<unknown>, 'error' | 'loading'>;
  readonly empty?: string;
  /** On a phone each row a card, its cells labelled (as a DataTable's). */
  readonly cards?: boolean;
  /** Data attributes of a row (`data-stage`), for what finds a row by its key. */
  readonly rowData?: (row: T) => Record<`data-${string}`, string>;
  /** An empty list's table still shows its header (a list that fills up as you watch). */
  readonly always?: boolean;
}) {
  const t = useT();
  const columns = props.columns.filter((column): column is Column<T> => column !== false);
  const error = props.result?.error;
  const loading = props.result?.loading ?? false;
  return (
    <>
      <ErrorBanner error={error} />
      {loading ? <p className="muted">{t('ui.loading')}</p> : null}
      {props.empty !== undefined && !loading && !error && props.rows.length === 0 ? (
        <p className="muted">{props.empty}</p>
      ) : null}
      {props.rows.length > 0 || props.always ? (
        <div className="table-scroll">
          <table aria-label={props.label} className={props.cards ? 'cards' : undefined}>
            <thead>
              <tr>
                {columns.map((column) => (
                  <th key={column.key} scope="col">
                    {column.header}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {props.rows.map((row) => (
                <tr key={props.rowKey(row)} {...props.rowData?.(row)}>
                  {columns.map((column) => cell(column, row, props.cards ?? false))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

function cell<T>(column: Column<T>, row: T, cards: boolean): ReactNode {
  const label = cards ? column.header : undefined;
  return column.rowHeader ? (
    <th key={column.key} scope="row" data-label={label} className={column.className}>
      {column.render(row)}
    </th>
  ) : (
    <td key={column.key} data-label={label} className={column.className}>
      {column.render(row)}
    </td>
  );
}
