import { useState } from 'react';
import { Link, useParams } from 'wouter';
import { useQuery } from '../../app/query.ts';
import { useCan } from '../../app/session.tsx';
import { CodeBlock, ErrorBanner, Page, StatusBadge } from '../../ui/index.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Facts, Flash } from '../ops-kit/kit.tsx';
import { place } from '../ops-kit/format.ts';
import { AlertActions } from './AlertActions.tsx';

/** One alert: what raised it and what was seen, who was told, who took and ended it; acknowledge, resolve. */
export default function AlertDetail() {
  const { t, formatDate } = useI18n();
  const can = useCan();
  const { id = '' } = useParams<{ id: string }>();
  const [flash, setFlash] = useState<string | null>(null);
  const match = (signal: { topic: string; id?: string | null }) =>
    signal.topic !== 'alerts' || signal.id === id;
  const alert = useQuery(
    ['alert', id],
    (api, signal) => api.get('/api/v1/alerts/{id}', { params: { id }, signal }),
    {
      topics: ['alerts'],
      match,
    },
  );
  const pages = useQuery(
    ['alert-pages', id],
    async (api, signal) =>
      (await api.get('/api/v1/oncall/pages/{alert}', { params: { alert: id }, signal })).pages,
    { topics: ['alerts', 'oncall'], match },
  );
  const a = alert.data;
  return (
    <Page
      title={t('alerts.detail.title', { id })}
      crumbs={<Link href="/alerts">{t('alerts.title')}</Link>}
      actions={
        a ? (
          <>
            <AlertActions
              alert={a}
              onDone={(text) => {
                setFlash(text);
                alert.refetch();
              }}
            />
            {can('tenants.write') && a.tenant ? (
              <Link
                className="btn btn-secondary"
                href={`/silences?tenant=${encodeURIComponent(a.tenant)}&stage=${encodeURIComponent(a.stage ?? '')}`}
              >
                {t('alerts.silence')}
              </Link>
            ) : null}
            {can('tenants.write') && a.tenant ? (
              <Link
                className="btn btn-secondary"
                href={`/incidents?new=1&fromAlert=${encodeURIComponent(a.id)}&tenant=${encodeURIComponent(a.tenant)}`}
              >
                {t('alerts.openIncident')}
              </Link>
            ) : null}
          </>
        ) : null
      }
    >
      <Flash text={flash} />
      <ErrorBanner error={alert.error} />
      {a ? (
        <>
          <p>
            <strong>{a.summary}</strong> <StatusBadge state={a.status} /> <StatusBadge state={a.severity} />
          </p>
          <Facts
            label={t('alerts.detail.title', { id })}
            items={[
              [t('alerts.col.place'), place(a.tenant, a.stage, 'Steward')],
              [t('alerts.col.source'), a.source],
              [t('alerts.detail.rule'), a.rule ?? '–'],
              [t('alerts.col.started'), formatDate(a.startedAt)],
              [t('alerts.detail.fired'), formatDate(a.firedAt)],
              [t('alerts.detail.notified'), formatDate(a.firstNotifiedAt)],
              [
                t('alerts.detail.acknowledged'),
                a.acknowledgedAt ? `${formatDate(a.acknowledgedAt)} · ${a.acknowledgedBy ?? ''}` : '–',
              ],
              [
                t('alerts.detail.resolvedBy'),
                a.resolvedAt
                  ? `${formatDate(a.resolvedAt)} · ${a.resolvedBy ?? ''}${a.resolveNote ? ` · ${a.resolveNote}` : ''}`
                  : '–',
              ],
              [t('alerts.detail.muted'), a.mutedBy ?? '–'],
              [t('alerts.detail.flapping'), a.flapping ? '✓' : '–'],
            ]}
          />
          <h2>{t('alerts.detail.details')}</h2>
          <CodeBlock label={t('alerts.detail.details')}>{JSON.stringify(a.details, null, 2)}</CodeBlock>
        </>
      ) : null}
      <h2>{t('alerts.detail.pages')}</h2>
      <ErrorBanner error={pages.error} />
      {pages.data && pages.data.length > 0 ? (
        <table aria-label={t('alerts.detail.pages')}>
          <thead>
            <tr>
              <th scope="col">{t('alerts.pages.round')}</th>
              <th scope="col">{t('alerts.pages.step')}</th>
              <th scope="col">{t('alerts.pages.recipient')}</th>
              <th scope="col">{t('alerts.pages.at')}</th>
            </tr>
          </thead>
          <tbody>
            {pages.data.map((p) => (
              <tr key={`${p.round}-${p.step}-${p.recipient}`}>
                <td>{p.round}</td>
                <td>{p.step}</td>
                <td>{p.recipient}</td>
                <td>{formatDate(p.pagedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="muted">{t('alerts.detail.noPages')}</p>
      )}
    </Page>
  );
}
