import { Link, useParams } from 'wouter';
import { useQuery } from '../../app/query.ts';
import { CodeBlock, ErrorBanner, Page, StatusBadge } from '../../ui/index.ts';
import { formatDuration, place } from '../ops-kit/format.ts';
import { useI18n } from '../../app/i18n.tsx';
import { Facts, shaped } from '../ops-kit/kit.tsx';
import { fingerprintVerdict, type RestoreTestRow } from './types.ts';

/** One restore test and its evidence: the backup, restore point, RPO, RTO, per-table fingerprints, the app's check. */
export default function RestoreTestDetail() {
  const { t, formatDate } = useI18n();
  const { id = '' } = useParams<{ id: string }>();
  const test = useQuery(
    ['restore-test', id],
    (api, signal) =>
      shaped<RestoreTestRow>(api.get('/api/v1/restore-tests/{id}', { params: { id }, signal })),
    { topics: ['restore-tests'] },
  );
  const r = test.data;
  const fingerprint = r?.verification?.fingerprint ?? null;
  const app = r?.verification?.app ?? null;
  const verdict = r ? fingerprintVerdict(r) : 'none';
  return (
    <Page
      title={t('tests.detail.title', { id })}
      crumbs={<Link href="/backups?tab=tests">{t('backups.tab.tests')}</Link>}
    >
      <ErrorBanner error={test.error} />
      {r ? (
        <>
          <Facts
            label={t('tests.detail.title', { id })}
            items={[
              [t('tests.col.place'), place(r.tenant, r.stage)],
              [t('tests.col.status'), <StatusBadge key="status" state={r.status} />],
              [t('tests.detail.phase'), r.phase],
              [t('tests.col.trigger'), `${r.trigger} · ${r.createdBy}`],
              [
                t('tests.detail.backup'),
                r.backupLabel
                  ? `${r.backupLabel} (repo${r.repo ?? '?'}, ${formatDate(r.backupStoppedAt)})`
                  : '–',
              ],
              [t('tests.detail.restorePoint'), r.restorePoint ?? '–'],
              [t('tests.col.rpo'), formatDuration(r.rpoSeconds === null ? null : r.rpoSeconds * 1000)],
              [t('tests.col.rto'), formatDuration(r.rtoMs)],
              [t('tests.col.started'), `${formatDate(r.startedAt)} – ${formatDate(r.finishedAt)}`],
              ...(r.error ? [[t('tests.detail.error'), r.error] as const] : []),
            ]}
          />
          <h2>{t('tests.detail.fingerprint')}</h2>
          <p>
            <StatusBadge
              state={t(`tests.fingerprint.${verdict}`)}
              tone={verdict === 'ok' ? 'good' : verdict === 'bad' ? 'bad' : 'idle'}
            />
            {fingerprint?.exact ? ` · ${t('tests.detail.exact')}` : ''}
            {fingerprint?.takenByTest ? ` · ${t('tests.detail.takenByTest')}` : ''}
            {fingerprint?.why ? ` · ${fingerprint.why}` : ''}
          </p>
          {fingerprint && fingerprint.tables.length > 0 ? (
            <table aria-label={t('tests.detail.fingerprint')}>
              <thead>
                <tr>
                  <th scope="col">{t('tests.detail.table')}</th>
                  <th scope="col">{t('tests.detail.rows')}</th>
                  <th scope="col">{t('tests.detail.match')}</th>
                </tr>
              </thead>
              <tbody>
                {fingerprint.tables.map((table) => (
                  <tr key={table.table}>
                    <th scope="row">{table.table}</th>
                    <td>{`${table.expected?.rows ?? '–'} / ${table.actual?.rows ?? '–'}`}</td>
                    <td>{table.ok ? '✓' : '✗'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          <h2>{t('tests.detail.app')}</h2>
          {app ? (
            <>
              <p>{`${app.command} · ${app.release} · exit ${app.exitCode}`}</p>
              <CodeBlock label={t('tests.detail.app')}>{app.output}</CodeBlock>
            </>
          ) : (
            <p className="muted">{t('tests.detail.noApp')}</p>
          )}
        </>
      ) : null}
    </Page>
  );
}
