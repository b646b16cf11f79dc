import type { ReactNode } from 'react';
import { useI18n } from '../../app/i18n.tsx';
import type { QueryResult } from '../../app/query.ts';
import { ErrorBanner } from '../../ui/index.ts';

/**
 * A list's states around its table: the API's error, loading, or what an
 * empty list means in words; the table itself only when there are rows.
 */
export function Listed(props: {
  readonly result: Pick<QueryResult<unknown>, 'error' | 'loading'>;
  readonly count: number;
  readonly empty: string;
  readonly children: ReactNode;
}) {
  const { t } = useI18n();
  const { error, loading } = props.result;
  return (
    <>
      <ErrorBanner error={error} />
      {loading ? <p className="muted">{t('ui.loading')}</p> : null}
      {!loading && !error && props.count === 0 ? <p className="muted">{props.empty}</p> : null}
      {props.count > 0 ? props.children : null}
    </>
  );
}
