import { Link } from 'wouter';
import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { useUrlState } from '../../app/url.ts';
import { Page, StatusBadge } from '../../ui/index.ts';
import { Listed } from '../ta-common/Listed.tsx';
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
  const events = log.data?.events ?? [];
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
      <Listed result={log} count={events.length} empty={t('ta.logins.empty')}>
        <div className="table-scroll">
          <table aria-label={t('ta.logins.title')}>
            <thead>
              <tr>
                <th scope="col">{t('ta.logins.field.at')}</th>
                <th scope="col">{t('ta.logins.field.user')}</th>
                <th scope="col">{t('ta.field.stage')}</th>
                <th scope="col">{t('ta.logins.field.method')}</th>
                <th scope="col">{t('ta.logins.field.outcome')}</th>
                <th scope="col">{t('ta.logins.field.reason')}</th>
                <th scope="col">{t('ta.logins.field.address')}</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.id}>
                  <th scope="row">{formatDate(e.at)}</th>
                  <td>{e.userName ?? '—'}</td>
                  <td>{e.stage ?? '—'}</td>
                  <td>{e.method}</td>
                  <td>
                    <StatusBadge
                      state={t(`ta.logins.outcome.${e.outcome}`)}
                      tone={e.outcome === 'success' ? 'good' : 'bad'}
                    />
                  </td>
                  <td>{[e.reason, e.detail].filter(Boolean).join(': ')}</td>
                  <td>{e.address ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Listed>
      <nav className="pager" aria-label={t('ta.logins.pages')}>
        {url.get('before') ? <Link href={url.href({ before: null })}>{t('ta.logins.newest')}</Link> : null}
        {log.data?.nextBefore ? (
          <Link href={url.href({ before: log.data.nextBefore })}>{t('ta.logins.older')}</Link>
        ) : null}
      </nav>
    </Page>
  );
}
