import { useI18n } from '../../app/i18n.tsx';
import { pathOf } from '../../app/api.ts';
import { useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { ListTable, Page, StatusBadge } from '../../ui/index.ts';
import { TenantScope } from '../ta-common/scope.tsx';
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
      await api.get('/api/v1/tenants/{tenant}/exports', { params: { tenant: props.tenant }, signal }),
    { topics: ['exports'] },
  );
  return (
    <Page title={t('ta.exports.title')}>
      <p>{t('ta.exports.intro')}</p>
      <ListTable
        label={t('ta.exports.title')}
        result={exports}
        rows={exports.data?.exports ?? []}
        rowKey={(e) => e.id}
        empty={t('ta.exports.empty')}
        columns={[
          {
            key: 'createdAt',
            header: t('ta.exports.field.createdAt'),
            rowHeader: true,
            render: (e) => formatDate(e.createdAt),
          },
          { key: 'stage', header: t('ta.field.stage'), render: (e) => e.stage },
          {
            key: 'status',
            header: t('ta.exports.field.status'),
            render: (e) => (
              <>
                <StatusBadge state={e.status} />
                {e.status === 'failed' && e.reason ? <span className="muted"> {e.reason}</span> : null}
              </>
            ),
          },
          {
            key: 'size',
            header: t('ta.exports.field.size'),
            render: (e) => formatBytes(e.sizeBytes, formatNumber),
          },
          {
            key: 'sha256',
            header: t('ta.exports.field.sha256'),
            render: (e) => <code className="hash">{e.sha256 ?? '—'}</code>,
          },
          can('exports.download') && {
            key: 'actions',
            header: t('ta.field.actions'),
            render: (e) =>
              e.status === 'succeeded' ? (
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
              ) : null,
          },
        ]}
      />
    </Page>
  );
}
