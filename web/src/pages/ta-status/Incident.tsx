import { Link, useParams } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { CodeBlock, ErrorBanner, Page, StatusBadge } from '../../ui/index.ts';
import { consolePath, TenantScope } from '../ta-common/scope.tsx';

/** One incident as the tenant sees it: severity, status, deadlines and the post-mortem (no internal timeline). */
export default function Incident() {
  const { t } = useI18n();
  return <TenantScope title={t('ta.incident.title')}>{(tenant) => <Detail tenant={tenant} />}</TenantScope>;
}

function Detail(props: { readonly tenant: string }) {
  const { t, formatDate } = useI18n();
  const { id = '' } = useParams<{ id?: string }>();
  const incident = useQuery(
    ['ta-incident', props.tenant, id],
    async (api, signal) =>
      await api.get('/api/v1/tenants/{tenant}/incidents/{id}', {
        params: { tenant: props.tenant, id },
        signal,
      }),
    { topics: ['incidents'], match: (signal) => !('id' in signal) || signal.id === id },
  );
  const i = incident.data;
  return (
    <Page
      title={i ? i.title : t('ta.incident.title')}
      crumbs={<Link href={consolePath(props.tenant, 'incidents')}>{t('ta.incident.back')}</Link>}
    >
      <ErrorBanner error={incident.error} />
      {incident.loading ? <p className="muted">{t('ui.loading')}</p> : null}
      {i ? (
        <>
          <dl className="facts">
            <dt>{t('ta.incidents.field.status')}</dt>
            <dd>
              <StatusBadge state={i.status} />
            </dd>
            <dt>{t('ta.incidents.field.severity')}</dt>
            <dd>{t('ta.incident.severity', { severity: i.severity, name: i.severityName })}</dd>
            <dt>{t('ta.field.stage')}</dt>
            <dd>{i.stage ?? t('ta.field.allStages')}</dd>
            <dt>{t('ta.incidents.field.openedAt')}</dt>
            <dd>{formatDate(i.openedAt)}</dd>
            <dt>{t('ta.incidents.field.resolvedAt')}</dt>
            <dd>{i.resolvedAt ? formatDate(i.resolvedAt) : '—'}</dd>
          </dl>
          {i.deadlines?.length ? (
            <section aria-labelledby="ta-deadlines">
              <h2 id="ta-deadlines">{t('ta.incident.deadlines')}</h2>
              <ul>
                {i.deadlines.map((d) => (
                  <li key={d.party}>
                    {d.party}: {formatDate(d.due)}
                    {d.notifiedAt ? ` ✓ ${formatDate(d.notifiedAt)}` : ''}
                  </li>
                ))}
              </ul>
            </section>
          ) : null}
          <section aria-labelledby="ta-postmortem">
            <h2 id="ta-postmortem">{t('ta.incident.postmortem')}</h2>
            {i.postmortem ? (
              <CodeBlock label={t('ta.incident.postmortem')}>
                {JSON.stringify(i.postmortem, null, 2)}
              </CodeBlock>
            ) : (
              <p className="muted">{t('ta.incident.noPostmortem')}</p>
            )}
          </section>
        </>
      ) : null}
    </Page>
  );
}
