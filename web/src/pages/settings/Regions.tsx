import { Link } from 'wouter';
import { useQuery } from '../../app/query.ts';
import { ErrorBanner } from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';

/**
 * The regions: geography, the default marked, tenants and stages placed in
 * each (live: a new tenant counts at once), the backup repositories there,
 * and a warning where backups would leave a new tenant's geography.
 */
export function Regions() {
  const { t, formatNumber } = useI18n();
  const regions = useQuery(['regions'], (api, signal) => api.get('/api/v1/regions', { signal }), {
    topics: ['tenants', 'stages'],
  });
  const label = t('settings.tab.regions');
  return (
    <>
      <p>{t('settings.regions.readOnly')}</p>
      <ErrorBanner error={regions.error} />
      {regions.data?.regions
        .filter((r) => r.backupResidency !== null)
        .map((r) => (
          <p key={r.name} className="banner banner-warn">{`${r.name}: ${r.backupResidency ?? ''}`}</p>
        ))}
      <div className="table-scroll" tabIndex={0} role="region" aria-label={label}>
        <table className="cards" aria-label={label}>
          <thead>
            <tr>
              <th scope="col">{t('settings.regions.col.region')}</th>
              <th scope="col">{t('settings.regions.col.geography')}</th>
              <th scope="col">{t('settings.regions.col.tenants')}</th>
              <th scope="col">{t('settings.regions.col.stages')}</th>
              <th scope="col">{t('settings.regions.col.backups')}</th>
            </tr>
          </thead>
          <tbody>
            {regions.data?.regions.map((r) => (
              <tr key={r.name}>
                <th scope="row" data-label={t('settings.regions.col.region')}>
                  <span>
                    {r.name}
                    {r.isDefault ? (
                      <>
                        {' '}
                        <span className="badge badge-good">{t('settings.regions.default')}</span>
                      </>
                    ) : null}
                    {r.configured ? null : (
                      <>
                        {' '}
                        <span className="badge badge-warn">{t('settings.regions.notConfigured')}</span>
                      </>
                    )}
                  </span>
                </th>
                <td data-label={t('settings.regions.col.geography')}>{r.geography ?? '–'}</td>
                <td data-label={t('settings.regions.col.tenants')}>
                  <Link href={`/tenants?region=${encodeURIComponent(r.name)}`}>
                    {formatNumber(r.tenants)}
                  </Link>
                </td>
                <td data-label={t('settings.regions.col.stages')}>{formatNumber(r.stages)}</td>
                <td data-label={t('settings.regions.col.backups')}>
                  {r.backupRepositories.length === 0
                    ? '–'
                    : r.backupRepositories.map((b) => `${b.name}: ${b.location}`).join(', ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
