import { useI18n } from '../../app/i18n.tsx';
import { pathOf } from '../../app/api.ts';
import { useQuery } from '../../app/query.ts';
import { useUrlState } from '../../app/url.ts';
import { ErrorBanner, ListTable, Page, SelectField, StatusBadge, type Tone } from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';
import { recentPeriods } from './periods.ts';

const statusTones: Readonly<Record<string, Tone>> = {
  met: 'good',
  'on-track': 'good',
  'at-risk': 'warn',
  missed: 'bad',
  'not-measured': 'idle',
};

/** The SLA policy in force, and the report of the period in the URL (`?period=2026-03`), as HTML and PDF too. */
export default function Sla() {
  const { t } = useI18n();
  return <TenantScope title={t('ta.sla.title')}>{(tenant) => <SlaView tenant={tenant} />}</TenantScope>;
}

function SlaView(props: { readonly tenant: string }) {
  const { t, formatDate } = useI18n();
  const url = useUrlState();
  const periods = recentPeriods(new Date());
  const period = url.get('period') || periods[0]!;
  const params = { tenant: props.tenant };
  const policy = useQuery(
    ['sla-policy', props.tenant],
    async (api, signal) => await api.get('/api/v1/tenants/{tenant}/sla/policy', { params, signal }),
    { topics: ['sla-policies'] },
  );
  const hasPolicy = (policy.data?.versions.length ?? 0) > 0;
  const report = useQuery(
    ['sla-report', props.tenant, period],
    async (api, signal) =>
      await api.get('/api/v1/tenants/{tenant}/sla/reports/{period}', {
        params: { ...params, period },
        signal,
      }),
    // Without a policy there is no report to ask for (the API's answer tells operators how to set one).
    { topics: ['sla-reports', 'incidents', 'maintenance'], enabled: hasPolicy },
  );
  const current = policy.data?.current;
  const reportPath = (format: 'html' | 'pdf') =>
    pathOf('/api/v1/tenants/{tenant}/sla/reports/{period}', {
      params: { ...params, period },
      query: { format },
    });
  const figures = report.data?.figures;
  const options = (periods.includes(period) ? periods : [period, ...periods]).map((p) => ({
    value: p,
    label: p,
  }));
  return (
    <Page title={t('ta.sla.title')}>
      <section aria-labelledby="ta-sla-policy">
        <h2 id="ta-sla-policy">{t('ta.sla.policy.title')}</h2>
        <ErrorBanner error={policy.error} />
        {policy.data && !current ? <p>{t('ta.sla.policy.none')}</p> : null}
        {current ? (
          <p>
            {t('ta.sla.policy.text', {
              target: current.target,
              period: current.period,
              serviceTime: current.serviceTime,
              timeZone: current.timeZone,
              short: current.excludeOutagesUpToMinutes,
              since: formatDate(current.effectiveFrom),
              version: current.version,
            })}
          </p>
        ) : null}
      </section>
      <section aria-labelledby="ta-sla-report">
        <h2 id="ta-sla-report">{t('ta.sla.report.title', { period })}</h2>
        <div className="filters">
          <SelectField
            name="period"
            label={t('ta.sla.period')}
            value={period}
            options={options}
            onValue={(value) => url.set({ period: value })}
          />
        </div>
        <ErrorBanner error={report.error} />
        {hasPolicy && report.loading ? <p className="muted">{t('ui.loading')}</p> : null}
        {figures && report.data ? (
          <>
            <dl className="facts">
              <dt>{t('ta.sla.report.availability')}</dt>
              <dd>
                {figures.availability === null ? t('ta.sla.report.notMeasured') : `${figures.availability} %`}
              </dd>
              <dt>{t('ta.sla.report.target')}</dt>
              <dd>{figures.target} %</dd>
              <dt>{t('ta.sla.report.status')}</dt>
              <dd>
                <StatusBadge
                  state={t(`ta.sla.status.${figures.status}`)}
                  tone={statusTones[figures.status] ?? 'idle'}
                />
              </dd>
              <dt>{t('ta.sla.report.budget')}</dt>
              <dd>{t('ta.sla.report.minutes', { count: figures.budgetLeftMinutes })}</dd>
              <dt>{t('ta.sla.report.inputs')}</dt>
              <dd>
                <code className="hash">{report.data.inputsSha256}</code>
              </dd>
            </dl>
            {report.data.frozen ? (
              <p>
                {t('ta.sla.report.frozen', { at: formatDate(report.data.frozen.frozenAt) })}
                {report.data.frozen.evidenceChanged ? ` ${t('ta.sla.report.evidenceChanged')}` : ''}
              </p>
            ) : report.data.freezesAt ? (
              <p>{t('ta.sla.report.freezesAt', { at: formatDate(report.data.freezesAt) })}</p>
            ) : null}
            <p className="actions">
              <a href={reportPath('html')} target="_blank" rel="noopener">
                {t('ta.sla.report.html')}
              </a>{' '}
              <a href={reportPath('pdf')} download={`sla-${props.tenant}-${period}.pdf`}>
                {t('ta.sla.report.pdf')}
              </a>
            </p>
            <h3>{t('ta.sla.outages.title')}</h3>
            <ListTable
              label={t('ta.sla.outages.title')}
              rows={report.data.outages}
              rowKey={(o) => o.start}
              empty={t('ta.sla.outages.empty')}
              columns={[
                {
                  key: 'start',
                  header: t('ta.sla.outages.start'),
                  rowHeader: true,
                  render: (o) => formatDate(o.start),
                },
                {
                  key: 'end',
                  header: t('ta.sla.outages.end'),
                  render: (o) => (o.ongoing ? t('ta.sla.outages.ongoing') : formatDate(o.end)),
                },
                { key: 'down', header: t('ta.sla.outages.down'), render: (o) => o.downMinutes },
                { key: 'clause', header: t('ta.sla.outages.clause'), render: (o) => o.clause },
              ]}
            />
          </>
        ) : null}
      </section>
    </Page>
  );
}
