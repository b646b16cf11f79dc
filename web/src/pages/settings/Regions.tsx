import { Link } from 'wouter';
import { useQuery } from '../../app/query.ts';
import { ListTable, type Column } from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import type { RegionRow } from './types.ts';

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
  const rows = regions.data?.regions ?? [];
  const badge = (tone: 'good' | 'warn', text: string) => (
    <>
      {' '}
      <span className={`badge badge-${tone}`}>{text}</span>
    </>
  );
  const columns: Column<RegionRow>[] = [
    {
      key: 'name',
      header: t('settings.regions.col.region'),
      rowHeader: true,
      render: (r) => (
        <span>
          {r.name}
          {r.isDefault ? badge('good', t('settings.regions.default')) : null}
          {r.configured ? null : badge('warn', t('settings.regions.notConfigured'))}
        </span>
      ),
    },
    { key: 'geography', header: t('settings.regions.col.geography'), render: (r) => r.geography ?? '–' },
    {
      key: 'tenants',
      header: t('settings.regions.col.tenants'),
      render: (r) => (
        <Link href={`/tenants?region=${encodeURIComponent(r.name)}`}>{formatNumber(r.tenants)}</Link>
      ),
    },
    { key: 'stages', header: t('settings.regions.col.stages'), render: (r) => formatNumber(r.stages) },
    {
      key: 'backups',
      header: t('settings.regions.col.backups'),
      className: 'wrap',
      render: (r) =>
        r.backupRepositories.length === 0
          ? '–'
          : r.backupRepositories.map((b) => `${b.name}: ${b.location}`).join(', '),
    },
  ];
  return (
    <>
      <p>{t('settings.regions.readOnly')}</p>
      {rows
        .filter((r) => r.backupResidency !== null)
        .map((r) => (
          <p key={r.name} className="banner banner-warn">{`${r.name}: ${r.backupResidency ?? ''}`}</p>
        ))}
      <ListTable
        label={t('settings.tab.regions')}
        columns={columns}
        rows={rows}
        rowKey={(r) => r.name}
        result={regions}
        cards
      />
    </>
  );
}
