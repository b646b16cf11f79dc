import { Link } from 'wouter';
import { DataTable, FilterText, StatusBadge, useTablePage, type Column } from '../../ui/index.ts';
import { formatDuration, place } from '../ops-kit/format.ts';
import { useI18n } from '../../app/i18n.tsx';
import { fingerprintVerdict, type RestoreTestRow } from './types.ts';

/** Restore tests, newest first, with their evidence at a glance: RPO, RTO, fingerprints. */
export function RestoreTestList() {
  const { t, formatDate } = useI18n();
  const result = useTablePage<RestoreTestRow>('/api/v1/restore-tests', {
    filters: ['tenant', 'stage'],
    topics: ['restore-tests'],
  });
  const columns: Column<RestoreTestRow>[] = [
    {
      key: 'id',
      header: t('tests.col.place'),
      rowHeader: true,
      render: (r) => (
        <Link href={`/backups/restore-tests/${encodeURIComponent(r.id)}`}>{place(r.tenant, r.stage)}</Link>
      ),
    },
    { key: 'trigger', header: t('tests.col.trigger'), render: (r) => r.trigger },
    { key: 'status', header: t('tests.col.status'), render: (r) => <StatusBadge state={r.status} /> },
    {
      key: 'rpo',
      header: t('tests.col.rpo'),
      render: (r) => formatDuration(r.rpoSeconds === null ? null : r.rpoSeconds * 1000),
    },
    { key: 'rto', header: t('tests.col.rto'), render: (r) => formatDuration(r.rtoMs) },
    {
      key: 'fingerprint',
      header: t('tests.col.fingerprint'),
      render: (r) => {
        const verdict = fingerprintVerdict(r);
        return (
          <StatusBadge
            state={t(`tests.fingerprint.${verdict}`)}
            tone={verdict === 'ok' ? 'good' : verdict === 'bad' ? 'bad' : 'idle'}
          />
        );
      },
    },
    { key: 'started', header: t('tests.col.started'), render: (r) => formatDate(r.startedAt) },
  ];
  return (
    <>
      <div role="search" className="filters">
        <FilterText name="tenant" label={t('backups.tenant')} />
        <FilterText name="stage" label={t('backups.stage')} />
      </div>
      <DataTable
        label={t('backups.tab.tests')}
        columns={columns}
        result={result}
        rowKey={(r) => r.id}
        empty={t('tests.empty')}
      />
    </>
  );
}
