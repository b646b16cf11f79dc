import { Link } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { ErrorBanner, Page, StatusBadge } from '../../ui/index.ts';
import { consolePath, TenantScope } from '../ta-common/scope.tsx';
import { IncidentTable, MaintenanceTable } from './parts.tsx';

/** The tenant admin's home: each stage's phase, the open incidents, maintenance now and ahead; live. */
export default function Status() {
  const { t } = useI18n();
  return (
    <TenantScope title={t('ta.status.title', { tenant: '' })}>
      {(tenant) => <Overview tenant={tenant} />}
    </TenantScope>
  );
}

function Overview(props: { readonly tenant: string }) {
  const { t, formatDate } = useI18n();
  const params = { tenant: props.tenant };
  const status = useQuery(
    ['ta-status', props.tenant],
    async (api, signal) => await api.get('/api/v1/tenants/{tenant}/status', { params, signal }),
    { topics: ['tenants', 'stages'] },
  );
  const incidents = useQuery(
    ['ta-open-incidents', props.tenant],
    async (api, signal) =>
      await api.get('/api/v1/tenants/{tenant}/incidents', {
        params,
        query: { open: 'true' },
        signal,
      }),
    { topics: ['incidents'] },
  );
  const maintenance = useQuery(
    ['ta-maintenance', props.tenant, false],
    async (api, signal) =>
      await api.get('/api/v1/tenants/{tenant}/maintenance-windows', {
        params,
        signal,
      }),
    { topics: ['maintenance'] },
  );
  const open = incidents.data?.incidents ?? [];
  const windows = (maintenance.data?.windows ?? []).filter((w) => !w.cancelledAt);
  return (
    <Page title={t('ta.status.title', { tenant: status.data?.displayName ?? props.tenant })}>
      <ErrorBanner error={status.error} />
      {status.data ? (
        <section aria-labelledby="ta-stages">
          <p>
            <StatusBadge state={status.data.phase} /> {t('ta.status.region', { region: status.data.region })}
          </p>
          <h2 id="ta-stages">{t('ta.status.stages')}</h2>
          <ul className="cards">
            {status.data.stages.map((stage) => (
              <li key={stage.name} className="card">
                <h3>{stage.name}</h3>
                <StatusBadge state={stage.phase} />
                {stage.paused ? <StatusBadge state={t('ta.status.stage.paused')} tone="warn" /> : null}
                {stage.readyAt ? (
                  <p className="muted">
                    {t('ta.status.stage.readySince', { at: formatDate(stage.readyAt) })}
                  </p>
                ) : null}
              </li>
            ))}
          </ul>
        </section>
      ) : null}
      <section aria-labelledby="ta-open">
        <h2 id="ta-open">{t('ta.status.open')}</h2>
        <ErrorBanner error={incidents.error} />
        {incidents.data && open.length === 0 ? <p>{t('ta.status.noOpen')}</p> : null}
        {open.length ? (
          <IncidentTable tenant={props.tenant} incidents={open} label={t('ta.status.open')} />
        ) : null}
        <p>
          <Link href={consolePath(props.tenant, 'incidents')}>{t('ta.status.all')}</Link>
        </p>
      </section>
      <section aria-labelledby="ta-maint">
        <h2 id="ta-maint">{t('ta.status.maintenance')}</h2>
        <ErrorBanner error={maintenance.error} />
        {maintenance.data && windows.length === 0 ? <p>{t('ta.status.noMaintenance')}</p> : null}
        {windows.length ? <MaintenanceTable windows={windows} label={t('ta.status.maintenance')} /> : null}
        <p>
          <Link href={consolePath(props.tenant, 'maintenance')}>{t('ta.status.allMaintenance')}</Link>
        </p>
      </section>
    </Page>
  );
}
