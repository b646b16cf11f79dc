import { useState } from 'react';
import { useUrlState } from '../../app/url.ts';
import { useCan } from '../../app/session.tsx';
import {
  ConfirmAction,
  DataTable,
  Page,
  StatusBadge,
  Tabs,
  useTablePage,
  type Column,
} from '../../ui/index.ts';
import { place } from '../ops-kit/format.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Flash, shaped } from '../ops-kit/kit.tsx';
import { RestoreList } from './RestoreList.tsx';
import { RestoreTestList } from './RestoreTestList.tsx';
import { StageBackupsView } from './StageBackupsView.tsx';
import type { ClusterRow } from './types.ts';

const tabs = ['clusters', 'tests', 'stage', 'restores'] as const;

/** Backups and restores, by tab (in the URL): clusters, restore tests with evidence, one stage's backups, a tenant's restores. */
export default function BackupsPage() {
  const { t } = useI18n();
  const url = useUrlState();
  const tab = (tabs as readonly string[]).includes(url.get('tab')) ? url.get('tab') : 'clusters';
  return (
    <Page title={t('backups.title')}>
      <Tabs
        label={t('backups.title')}
        tabs={tabs.map((key) => ({ key, label: t(`backups.tab.${key}`) }))}
        selected={tab}
        onSelect={(key) => url.set({ tab: key, cursor: null }, 'push')}
      >
        {tab === 'clusters' ? <Clusters /> : null}
        {tab === 'tests' ? <RestoreTestList /> : null}
        {tab === 'stage' ? <StageBackupsView /> : null}
        {tab === 'restores' ? <RestoreList /> : null}
      </Tabs>
    </Page>
  );
}

function Clusters() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const [flash, setFlash] = useState<string | null>(null);
  const result = useTablePage<ClusterRow>('/api/v1/backup-clusters', { topics: ['backups'] });
  const columns: Column<ClusterRow>[] = [
    { key: 'stanza', header: t('backups.clusters.col.stanza'), rowHeader: true, render: (c) => c.stanza },
    { key: 'kind', header: t('backups.clusters.col.kind'), render: (c) => c.kind },
    { key: 'place', header: t('backups.clusters.col.place'), render: (c) => place(c.tenant, c.stage) },
    {
      key: 'policy',
      header: t('backups.clusters.col.policy'),
      render: (c) =>
        [c.policy.full, c.policy.diff, c.policy.incr, `${c.policy.retainDays} d`].filter(Boolean).join(' · '),
    },
    {
      key: 'verify',
      header: t('backups.clusters.col.verify'),
      render: (c) =>
        c.lastVerify ? (
          <>
            <StatusBadge
              state={t(c.lastVerify.ok ? 'backups.verify.ok' : 'backups.verify.failed')}
              tone={c.lastVerify.ok ? 'good' : 'bad'}
            />{' '}
            {formatDate(c.lastVerify.at)}
          </>
        ) : (
          t('backups.verify.never')
        ),
    },
    {
      key: 'actions',
      header: t('backups.col.actions'),
      render: (c) =>
        can('tenants.write') && c.live ? (
          <ConfirmAction
            label={t('backups.clusters.verify')}
            ariaLabel={`${t('backups.clusters.verify')}: ${c.stanza}`}
            title={`${t('backups.clusters.verify')}: ${c.stanza}`}
            run={(api) =>
              shaped<ClusterRow>(
                api.post('/api/v1/backup-clusters/{stanza}/verify', {
                  params: { stanza: c.stanza },
                }),
              )
            }
            onDone={(verified) => {
              setFlash(
                t('backups.clusters.verified', {
                  stanza: c.stanza,
                  result: t(verified.lastVerify?.ok ? 'backups.verify.ok' : 'backups.verify.failed'),
                }),
              );
              result.refetch();
            }}
          />
        ) : null,
    },
  ];
  return (
    <>
      <Flash text={flash} />
      <DataTable
        label={t('backups.tab.clusters')}
        columns={columns}
        result={result}
        rowKey={(c) => c.stanza}
        empty={t('backups.clusters.empty')}
      />
    </>
  );
}
