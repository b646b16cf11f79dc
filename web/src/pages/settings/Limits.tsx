import { useQuery } from '../../app/query.ts';
import { useUrlState } from '../../app/url.ts';
import { ErrorBanner } from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import { FilterCheck } from '../ops-kit/kit.tsx';
import { formatLimit } from './format.ts';
import type { LimitRow } from './types.ts';

/**
 * The effective limits, one table per group: value, default, where each is
 * set (the config field to edit), and a badge where the value is not the
 * default. Read only: Steward's config is a file read at start. Not a
 * ListTable: these tables (long config paths) scroll sideways on narrow
 * screens, so each is a focusable, named region, for keyboard users.
 */
export function Limits() {
  const { t, formatNumber } = useI18n();
  const url = useUrlState();
  const onlyChanged = url.get('changed') === 'true';
  const limits = useQuery(['settings-limits'], (api, signal) =>
    api.get('/api/v1/settings/limits', { signal }),
  );
  const rows = (limits.data?.limits ?? []).filter((l) => !onlyChanged || l.changed);
  const groups = [...new Set(rows.map((l) => l.group))];
  const show = (l: LimitRow, value: number | null) =>
    formatLimit(value, l.unit, formatNumber, t('settings.limits.none'));
  const setIn = (l: LimitRow) =>
    l.source === 'built-in' ? (
      <span className="muted">{t('settings.limits.builtIn')}</span>
    ) : (
      <>
        {l.source === 'config' ? null : `${t(`settings.limits.source.${l.source}`)}: `}
        <code>{l.field}</code>
      </>
    );
  return (
    <>
      <p>{t('settings.limits.readOnly')}</p>
      <FilterCheck name="changed" label={t('settings.limits.onlyChanged')} />
      <ErrorBanner error={limits.error} />
      {limits.data && rows.length === 0 ? <p className="muted">{t('settings.limits.noneChanged')}</p> : null}
      {groups.map((group) => (
        <section key={group}>
          <h2 id={`limits-${group}`}>{t(`settings.limits.group.${group}`)}</h2>
          <div className="table-scroll" tabIndex={0} role="region" aria-labelledby={`limits-${group}`}>
            <table className="cards" aria-labelledby={`limits-${group}`}>
              <thead>
                <tr>
                  <th scope="col">{t('settings.limits.col.name')}</th>
                  <th scope="col">{t('settings.limits.col.value')}</th>
                  <th scope="col">{t('settings.limits.col.default')}</th>
                  <th scope="col">{t('settings.limits.col.field')}</th>
                  <th scope="col">{t('settings.limits.col.about')}</th>
                </tr>
              </thead>
              <tbody>
                {rows
                  .filter((l) => l.group === group)
                  .map((l) => (
                    <tr key={`${l.source}:${l.field ?? l.name}`}>
                      <th scope="row" data-label={t('settings.limits.col.name')}>
                        {l.name}
                      </th>
                      <td data-label={t('settings.limits.col.value')}>
                        <span>
                          {show(l, l.value)}
                          {l.changed ? (
                            <>
                              {' '}
                              <span className="badge badge-warn">{t('settings.limits.changed')}</span>
                            </>
                          ) : null}
                        </span>
                      </td>
                      <td data-label={t('settings.limits.col.default')}>{show(l, l.default)}</td>
                      <td data-label={t('settings.limits.col.field')}>
                        <span>{setIn(l)}</span>
                      </td>
                      <td className="wrap muted" data-label={t('settings.limits.col.about')}>
                        {l.description}
                      </td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
    </>
  );
}
