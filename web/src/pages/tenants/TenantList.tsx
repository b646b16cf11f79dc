import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useCan } from '../../app/session.tsx';
import { useUrlState } from '../../app/url.ts';
import { DataTable, Page, StatusBadge, useTablePage, type Column } from '../../ui/index.ts';
import type { TenantListRow } from './types.ts';

const phases = ['', 'pending', 'provisioning', 'ready', 'deleting', 'failed', 'paused'] as const;
const tiers = ['', 'shared', 'dedicated', 'ha'] as const;

/** Tenants, a page at a time: filters, sort and cursor in the URL, live as their stages change. */
export default function TenantList() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const url = useUrlState();
  const result = useTablePage('/api/v1/tenants', {
    filters: ['q', 'phase', 'tier', 'region'],
    defaultLimit: 100,
    topics: ['tenants', 'stages'],
  });
  const columns: Column<TenantListRow>[] = [
    {
      key: 'slug',
      header: t('tenants.field.slug'),
      sort: 'slug',
      rowHeader: true,
      render: (row) => <Link href={`/tenants/${encodeURIComponent(row.slug)}`}>{row.slug}</Link>,
    },
    { key: 'name', header: t('tenants.field.displayName'), sort: 'name', render: (row) => row.displayName },
    { key: 'phase', header: t('tenants.field.phase'), render: (row) => <StatusBadge state={row.phase} /> },
    { key: 'tier', header: t('tenants.field.tier'), render: (row) => row.tier },
    { key: 'region', header: t('tenants.field.region'), render: (row) => row.region },
    {
      key: 'stages',
      header: t('tenants.field.stages'),
      render: (row) => row.stages.map((stage) => stage.name).join(', '),
    },
    {
      key: 'created',
      header: t('tenants.field.createdAt'),
      sort: 'created',
      render: (row) => formatDate(row.createdAt),
    },
  ];
  const filter = (name: string, value: string) => url.set({ [name]: value, cursor: null });
  // The search box asks the API once typing pauses, not at every key.
  const [q, setQ] = useState(url.get('q'));
  const urlQ = url.get('q');
  useEffect(() => setQ(urlQ), [urlQ]);
  useEffect(() => {
    if (q === urlQ) return undefined;
    const timer = setTimeout(() => filter('q', q), 250);
    return () => clearTimeout(timer);
  });
  return (
    <Page
      title={t('tenants.list.title')}
      actions={
        can('tenants.write') ? (
          <Link href="/tenants/new" className="btn btn-primary">
            {t('tenants.create.action')}
          </Link>
        ) : null
      }
    >
      <div role="search" className="filters">
        <label>
          {t('tenants.filter.q')}
          <input type="search" value={q} onChange={(event) => setQ(event.target.value)} />
        </label>
        <label>
          {t('tenants.field.phase')}
          <select value={url.get('phase')} onChange={(event) => filter('phase', event.target.value)}>
            {phases.map((phase) => (
              <option key={phase} value={phase}>
                {phase ? t(`state.${phase}`) : t('tenants.filter.any')}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('tenants.field.tier')}
          <select value={url.get('tier')} onChange={(event) => filter('tier', event.target.value)}>
            {tiers.map((tier) => (
              <option key={tier} value={tier}>
                {tier || t('tenants.filter.any')}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('tenants.field.region')}
          <input
            value={url.get('region')}
            onChange={(event) => filter('region', event.target.value)}
            size={10}
          />
        </label>
      </div>
      <DataTable
        label={t('tenants.list.title')}
        columns={columns}
        result={result}
        rowKey={(row) => row.slug}
        empty={t('tenants.list.empty')}
      />
    </Page>
  );
}
