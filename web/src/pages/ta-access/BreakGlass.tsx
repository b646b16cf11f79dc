import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { ListTable, Page, StatusBadge } from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';

/** Every break-glass grant into the tenant's stages: who, why, when, and whether it was used. */
export default function BreakGlass() {
  const { t } = useI18n();
  return <TenantScope title={t('ta.breakGlass.title')}>{(tenant) => <Grants tenant={tenant} />}</TenantScope>;
}

function Grants(props: { readonly tenant: string }) {
  const { t, formatDate } = useI18n();
  const grants = useQuery(
    ['break-glass', props.tenant],
    async (api, signal) =>
      await api.get('/api/v1/tenants/{tenant}/break-glass', {
        params: { tenant: props.tenant },
        signal,
      }),
    { topics: ['break-glass'] },
  );
  return (
    <Page title={t('ta.breakGlass.title')}>
      <p>{t('ta.breakGlass.intro')}</p>
      <ListTable
        label={t('ta.breakGlass.title')}
        result={grants}
        rows={grants.data?.grants ?? []}
        rowKey={(g) => g.id}
        empty={t('ta.breakGlass.empty')}
        columns={[
          {
            key: 'opened',
            header: t('ta.breakGlass.field.openedAt'),
            rowHeader: true,
            render: (g) => formatDate(g.openedAt),
          },
          { key: 'operator', header: t('ta.breakGlass.field.operator'), render: (g) => g.operator },
          { key: 'stage', header: t('ta.field.stage'), render: (g) => g.stage },
          { key: 'reason', header: t('ta.breakGlass.field.reason'), render: (g) => g.reason },
          {
            key: 'state',
            header: t('ta.field.state'),
            render: (g) => <StatusBadge state={g.state} tone={g.state === 'active' ? 'warn' : 'idle'} />,
          },
          {
            key: 'expires',
            header: t('ta.breakGlass.field.expiresAt'),
            render: (g) => formatDate(g.expiresAt),
          },
          {
            key: 'used',
            header: t('ta.breakGlass.field.usedAt'),
            render: (g) => (g.usedAt ? formatDate(g.usedAt) : t('ta.never')),
          },
          {
            key: 'closed',
            header: t('ta.breakGlass.field.closedAt'),
            render: (g) =>
              g.closedAt ? `${formatDate(g.closedAt)}${g.closedBy ? ` (${g.closedBy})` : ''}` : '—',
          },
        ]}
      />
    </Page>
  );
}
