import { useI18n } from '../../app/i18n.tsx';
import { useQuery } from '../../app/query.ts';
import { Page, StatusBadge } from '../../ui/index.ts';
import { Listed } from '../ta-common/Listed.tsx';
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
  const rows = grants.data?.grants ?? [];
  return (
    <Page title={t('ta.breakGlass.title')}>
      <p>{t('ta.breakGlass.intro')}</p>
      <Listed result={grants} count={rows.length} empty={t('ta.breakGlass.empty')}>
        <div className="table-scroll">
          <table aria-label={t('ta.breakGlass.title')}>
            <thead>
              <tr>
                <th scope="col">{t('ta.breakGlass.field.openedAt')}</th>
                <th scope="col">{t('ta.breakGlass.field.operator')}</th>
                <th scope="col">{t('ta.field.stage')}</th>
                <th scope="col">{t('ta.breakGlass.field.reason')}</th>
                <th scope="col">{t('ta.field.state')}</th>
                <th scope="col">{t('ta.breakGlass.field.expiresAt')}</th>
                <th scope="col">{t('ta.breakGlass.field.usedAt')}</th>
                <th scope="col">{t('ta.breakGlass.field.closedAt')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((g) => (
                <tr key={g.id}>
                  <th scope="row">{formatDate(g.openedAt)}</th>
                  <td>{g.operator}</td>
                  <td>{g.stage}</td>
                  <td>{g.reason}</td>
                  <td>
                    <StatusBadge state={g.state} tone={g.state === 'active' ? 'warn' : 'idle'} />
                  </td>
                  <td>{formatDate(g.expiresAt)}</td>
                  <td>{g.usedAt ? formatDate(g.usedAt) : t('ta.never')}</td>
                  <td>
                    {g.closedAt ? `${formatDate(g.closedAt)}${g.closedBy ? ` (${g.closedBy})` : ''}` : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Listed>
    </Page>
  );
}
