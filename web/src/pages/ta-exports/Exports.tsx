import { useI18n } from '../../app/i18n.tsx';
import { pathOf } from '../../app/api.ts';
import { useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { Page, StatusBadge } from '../../ui/index.ts';
import { Listed } from '../ta-common/Listed.tsx';
import { TenantScope } from '../ta-common/scope.tsx';
import type { ExportRow } from '../ta-common/types.ts';
import { formatBytes } from './rules.ts';

export default function Exports() {
  const { t } = useI18n();
  return (
    <TenantScope title={t('ta.exports.title')}>{(tenant) => <ExportList tenant={tenant} />}</TenantScope>
  );
}

function ExportList(props: { readonly tenant: string }) {
  const { t, formatDate, formatNumber } = useI18n();
  const can = useCan();
  const exports = useQuery(
    ['exports', props.tenant],
    async (api, signal) =>
      (await api.get('/api/v1/tenants/{tenant}/exports', {
        params: { tenant: props.tenant },
        signal,
      })) as { exports: ExportRow[] },
    { topics: ['exports'] },
  );
  const rows = exports.data?.exports ?? [];
  return (
    <Page title={t('ta.exports.title')}>
      <p>{t('ta.exports.intro')}</p>
      <Listed result={exports} count={rows.length} empty={t('ta.exports.empty')}>
        <div className="table-scroll">
          <table aria-label={t('ta.exports.title')}>
            <thead>
              <tr>
                <th scope="col">{t('ta.exports.field.createdAt')}</th>
                <th scope="col">{t('ta.field.stage')}</th>
                <th scope="col">{t('ta.exports.field.status')}</th>
                <th scope="col">{t('ta.exports.field.size')}</th>
                <th scope="col">{t('ta.exports.field.sha256')}</th>
                {can('exports.download') ? <th scope="col">{t('ta.field.actions')}</th> : null}
              </tr>
            </thead>
            <tbody>
              {rows.map((e) => (
                <tr key={e.id}>
                  <th scope="row">{formatDate(e.createdAt)}</th>
                  <td>{e.stage}</td>
                  <td>
                    <StatusBadge state={e.status} />
                    {e.status === 'failed' && e.reason ? <span className="muted"> {e.reason}</span> : null}
                  </td>
                  <td>{formatBytes(e.sizeBytes, formatNumber)}</td>
                  <td>
                    <code className="hash">{e.sha256 ?? '—'}</code>
                  </td>
                  {can('exports.download') ? (
                    <td>
                      {e.status === 'succeeded' ? (
                        // A plain link: the session cookie goes with it, the browser saves the file.
                        <a
                          href={pathOf('/api/v1/tenants/{tenant}/exports/{id}/download', {
                            params: { tenant: props.tenant, id: e.id },
                          })}
                          download={e.filename}
                          aria-label={t('ta.exports.download.label', { file: e.filename })}
                        >
                          {t('ta.exports.download')}
                        </a>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Listed>
    </Page>
  );
}
