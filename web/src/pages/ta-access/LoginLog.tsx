import { Link } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { useUrlState } from '../../app/url.ts';
import { ListTable, Page, StatusBadge } from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';

const outcomes = ['', 'success', 'failure'] as const;
const pageSize = 100;

/** The login log, its filters and its page (`before`: older than that event) in the URL. */
export default function LoginLog() {
  const { t } = useI18n();
  return <TenantScope title={t('ta.logins.title')}>{(tenant) => <Log tenant={tenant} />}</TenantScope>;
}

function Log(props: { readonly tenant: string }) {
  const { t, formatDate } = useI18n();
  const url = useUrlState();
  const query = {
    limit: pageSize,
    since: url.get('since') || undefined,
    user: url.get('user') || undefined,
    // As typed: a value the API does not take comes back with its message.
    outcome: (url.get('outcome') || undefined) as 'success' | 'failure' | undefined,
    before: url.get('before') || undefined,
  };
  const log = useQuery(
    ['login-log', props.tenant, query],
    async (api, signal) =>
      await api.get('/api/v1/tenants/{tenant}/login-log', {
        params: { tenant: props.tenant },
        query,
        signal,
      }),
    { topics: ['logins', 'break-glass'] },
  );
  const filter = (name: string, value: string) => url.set({ [name]: value, before: null });
  return (
    <Page title={t('ta.logins.title')}>
      <p>{t('ta.logins.intro')}</p>
      <div role="search" className="filters">
        <label>
          {t('ta.logins.filter.since')}
          <input
            value={url.get('since')}
            onChange={(event) => filter('since', event.target.value)}
            size={12}
            aria-describedby="ta-since-hint"
          />
          <span id="ta-since-hint" className="hint">
            {t('ta.logins.filter.sinceHint')}
          </span>
        </label>
        <label>
          {t('ta.logins.filter.user')}
          <input
            type="search"
            value={url.get('user')}
            onChange={(event) => filter('user', event.target.value)}
          />
        </label>
        <label>
          {t('ta.logins.filter.outcome')}
          <select value={url.get('outcome')} onChange={(event) => filter('outcome', event.target.value)}>
            {outcomes.map((outcome) => (
              <option key={outcome} value={outcome}>
                {outcome ? t(`ta.logins.outcome.${outcome}`) : t('ta.logins.filter.any')}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ListTable
        label={t('ta.logins.title')}
        result={log}
        rows={log.data?.events ?? []}
        rowKey={(e) => e.id}
        empty={t('ta.logins.empty')}
        columns={[
          { key: 'at', header: t('ta.logins.field.at'), rowHeader: true, render: (e) => formatDate(e.at) },
          { key: 'user', header: t('ta.logins.field.user'), render: (e) => e.userName ?? '—' },
          { key: 'stage', header: t('ta.field.stage'), render: (e) => e.stage ?? '—' },
          { key: 'method', header: t('ta.logins.field.method'), render: (e) => e.method },
          {
            key: 'outcome',
            header: t('ta.logins.field.outcome'),
            render: (e) => (
              <StatusBadge
                state={t(`ta.logins.outcome.${e.outcome}`)}
                tone={e.outcome === 'success' ? 'good' : 'bad'}
              />
            ),
          },
          {
            key: 'reason',
            header: t('ta.logins.field.reason'),
            render: (e) => [e.reason, e.detail].filter(Boolean).join(': '),
          },
          { key: 'address', header: t('ta.logins.field.address'), render: (e) => e.address ?? '' },
        ]}
      />
      <nav className="pager" aria-label={t('ta.logins.pages')}>
        {url.get('before') ? <Link href={url.href({ before: null })}>{t('ta.logins.newest')}</Link> : null}
        {log.data?.nextBefore ? (
          <Link href={url.href({ before: log.data.nextBefore })}>{t('ta.logins.older')}</Link>
        ) : null}
      </nav>
    </Page>
  );
}
