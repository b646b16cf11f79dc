import { useState } from 'react';
import { Link } from 'wouter';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import {
  ConfirmAction,
  DataTable,
  FilterText,
  StatusBadge,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Flash } from '../ops-kit/kit.tsx';
import type { RestoreRow } from './types.ts';

/** A tenant's restores (the tenant in the URL), newest first, each opening its progress and evidence; discard what an in-place restore kept. */
export function RestoreList() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const url = useUrlState();
  const tenant = url.get('tenant');
  const [flash, setFlash] = useState<string | null>(null);
  const result = useTablePage<RestoreRow>('/api/v1/tenants/{tenant}/restores', {
    params: { tenant },
    enabled: tenant !== '',
    topics: ['restores'],
  });
  const columns: Column<RestoreRow>[] = [
    {
      key: 'id',
      header: t('restores.col.id'),
      rowHeader: true,
      render: (r) => (
        <Link
          href={`/backups?${new URLSearchParams({ tab: 'stage', tenant: r.tenant, stage: r.sourceStage, restore: r.id }).toString()}`}
        >{`#${r.id}`}</Link>
      ),
    },
    { key: 'from', header: t('restores.col.from'), render: (r) => r.sourceStage },
    { key: 'into', header: t('restores.col.into'), render: (r) => r.targetStage },
    { key: 'mode', header: t('restores.col.mode'), render: (r) => r.mode },
    { key: 'toTime', header: t('restores.col.toTime'), render: (r) => formatDate(r.toTime) },
    { key: 'status', header: t('restores.col.status'), render: (r) => <StatusBadge state={r.status} /> },
    { key: 'progress', header: t('restores.col.progress'), render: (r) => r.error ?? r.progress },
    {
      key: 'actions',
      header: t('backups.col.actions'),
      render: (r) =>
        can('tenants.write') && r.keptDatabase && !r.discardedAt ? (
          <ConfirmAction
            danger
            label={t('restores.discard')}
            ariaLabel={`${t('restores.discard')}: #${r.id}`}
            title={t('restores.discard.confirm', { id: r.id })}
            run={(api) => api.post('/api/v1/restores/{id}/discard', { params: { id: r.id } })}
            onDone={() => {
              setFlash(t('restores.discarded', { id: r.id }));
              result.refetch();
            }}
          />
        ) : null,
    },
  ];
  return (
    <>
      <Flash text={flash} />
      <div role="search" className="filters">
        <FilterText name="tenant" label={t('backups.tenant')} />
      </div>
      {tenant === '' ? (
        <p className="muted">{t('backups.pickStage')}</p>
      ) : (
        <DataTable
          label={t('backups.tab.restores')}
          columns={columns}
          result={result}
          rowKey={(r) => r.id}
          empty={t('restores.empty')}
        />
      )}
    </>
  );
}
