import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { useUrlState } from '../../app/url.ts';
import { Page } from '../../ui/index.ts';
import { FilterCheck } from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';
import { IncidentTable } from './parts.tsx';

/** The tenant's incidents, newest first; `?open=true` in the URL for open ones only. */
export default function Incidents() {
  const { t } = useI18n();
  return <TenantScope title={t('ta.incidents.title')}>{(tenant) => <List tenant={tenant} />}</TenantScope>;
}

function List(props: { readonly tenant: string }) {
  const { t } = useI18n();
  const url = useUrlState();
  const open = url.get('open') === 'true';
  const incidents = useQuery(
    ['ta-incidents', props.tenant, open],
    async (api, signal) =>
      await api.get('/api/v1/tenants/{tenant}/incidents', {
        params: { tenant: props.tenant },
        query: { open: open ? 'true' : undefined },
        signal,
      }),
    { topics: ['incidents'] },
  );
  return (
    <Page title={t('ta.incidents.title')}>
      <div className="filters">
        <FilterCheck name="open" label={t('ta.incidents.openOnly')} />
      </div>
      <IncidentTable
        tenant={props.tenant}
        incidents={incidents.data?.incidents ?? []}
        label={t('ta.incidents.title')}
        result={incidents}
        empty={t('ta.incidents.empty')}
      />
    </Page>
  );
}
