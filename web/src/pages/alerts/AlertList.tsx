import { useState } from 'react';
import { Link } from 'wouter';
import { useUrlState } from '../../app/url.ts';
import { DataTable, Page, StatusBadge, useTablePage, type Column } from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Flash, FilterText } from '../ops-kit/kit.tsx';
import { place } from '../ops-kit/format.ts';
import { AlertActions } from './AlertActions.tsx';
import { alertSeverities, alertStatuses, type AlertRow } from './types.ts';

/** Alerts, newest first, filtered in the URL (open, status, severity, tenant); live as alerts change. */
export default function AlertList() {
  const { t, formatDate } = useI18n();
  const url = useUrlState();
  const [flash, setFlash] = useState<string | null>(null);
  const result = useTablePage('/api/v1/alerts', {
    filters: ['open', 'status', 'severity', 'tenant'],
    defaultLimit: 100,
    topics: ['alerts'],
  });
  const done = (text: string) => {
    setFlash(text);
    result.refetch();
  };
  const state = url.get('open') === 'true' ? 'open' : url.get('status');
  const columns: Column<AlertRow>[] = [
    {
      key: 'summary',
      header: t('alerts.col.summary'),
      rowHeader: true,
      render: (a) => <Link href={`/alerts/${encodeURIComponent(a.id)}`}>{a.summary}</Link>,
    },
    {
      key: 'severity',
      header: t('alerts.col.severity'),
      render: (a) => (
        <StatusBadge
          state={a.severity}
          tone={a.severity === 'critical' ? 'bad' : a.severity === 'warning' ? 'warn' : 'idle'}
        />
      ),
    },
    {
      key: 'status',
      header: t('alerts.col.status'),
      render: (a) => <StatusBadge state={a.status} tone={a.status === 'acknowledged' ? 'warn' : undefined} />,
    },
    { key: 'place', header: t('alerts.col.place'), render: (a) => place(a.tenant, a.stage) },
    {
      key: 'started',
      header: t('alerts.col.started'),
      sort: 'started',
      render: (a) => formatDate(a.startedAt),
    },
    {
      key: 'actions',
      header: t('alerts.col.actions'),
      render: (a) => <AlertActions alert={a} onDone={done} compact />,
    },
  ];
  return (
    <Page title={t('alerts.title')}>
      <Flash text={flash} />
      <div role="search" className="filters">
        <label>
          {t('alerts.filter.state')}
          <select
            value={state}
            onChange={(event) => {
              const value = event.target.value;
              url.set({
                open: value === 'open' ? 'true' : null,
                status: value === 'open' ? null : value,
                cursor: null,
              });
            }}
          >
            <option value="">{t('alerts.filter.all')}</option>
            <option value="open">{t('alerts.filter.open')}</option>
            {alertStatuses.map((s) => (
              <option key={s} value={s}>
                {t(`state.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('alerts.filter.severity')}
          <select
            value={url.get('severity')}
            onChange={(event) => url.set({ severity: event.target.value, cursor: null })}
          >
            <option value="">{t('alerts.filter.all')}</option>
            {alertSeverities.map((s) => (
              <option key={s} value={s}>
                {t(`state.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <FilterText name="tenant" label={t('alerts.filter.tenant')} size={12} />
      </div>
      <DataTable
        label={t('alerts.title')}
        columns={columns}
        result={result}
        rowKey={(a) => a.id}
        empty={t('alerts.empty')}
      />
    </Page>
  );
}
