import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { useUrlState } from '../../app/url.ts';
import { Page } from '../../ui/index.ts';
import { FilterCheck } from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';
import { MaintenanceTable } from './parts.tsx';

/** The tenant's announced maintenance windows; `?all=true` for past ones too. */
export default function Maintenance() {
  const { t } = useI18n();
  return (
    <TenantScope title={t('ta.maintenance.title')}>{(tenant) => <Windows tenant={tenant} />}</TenantScope>
  );
}

function Windows(props: { readonly tenant: string }) {
  const { t } = useI18n();
  const url = useUrlState();
  const all = url.get('all') === 'true';
  const windows = useQuery(
    ['ta-maintenance', props.tenant, all],
    async (api, signal) =>
      await api.get('/api/v1/tenants/{tenant}/maintenance-windows', {
        params: { tenant: props.tenant },
        query: { all: all ? 'true' : undefined },
        signal,
      }),
    { topics: ['maintenance'] },
  );
  return (
    <Page title={t('ta.maintenance.title')}>
      <p>{t('ta.maintenance.intro')}</p>
      <div className="filters">
        <FilterCheck name="all" label={t('ta.maintenance.past')} />
      </div>
      <MaintenanceTable
        windows={windows.data?.windows ?? []}
        label={t('ta.maintenance.title')}
        result={windows}
        empty={t('ta.maintenance.empty')}
      />
    </Page>
  );
}
